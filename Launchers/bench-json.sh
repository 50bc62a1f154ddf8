#!/usr/bin/env bash
# Parse speed of DLLMJSON against the parsers it replaced and Foundation's
# JSONSerialization, on the same bytes, in one run (best of 5 passes each).
#
#   Launchers/bench-json.sh
#
# Compiles DLLMJSON's sources (working tree) with the tokenizer and safetensors
# parsers as they were before the JSON module (commit c18b59e), -O, into one
# program, and parses two generated documents (Launchers/bench-json/make_documents.py).
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE=c18b59e
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp Sources/DLLMJSON/*.swift Launchers/bench-json/main.swift "$WORK/"
git show "$BEFORE:Sources/DLLMTokenizers/JSONSupport.swift" | python3 -c '
import sys
s = sys.stdin.read()
s = s[:s.index("/// Reading `tokenizer.json` and friends")]
print(s.replace("JSONValue", "OldTokValue").replace("JSONParser", "OldTokParser"))' > "$WORK/OldTok.swift"
{ git show "$BEFORE:Sources/DLLMCheckpoint/JSONParser.swift"; git show "$BEFORE:Sources/DLLMCheckpoint/JSONValue.swift"; } \
    | sed 's/JSONValue/OldCkptValue/g; s/JSONParseError/OldCkptError/g; s/JSONParser/OldCkptParser/g' > "$WORK/OldCkpt.swift"
python3 Launchers/bench-json/make_documents.py "$WORK"
swiftc -O -module-name bench "$WORK"/*.swift -o "$WORK/bench"
for doc in tokenizer.json rows.json; do
    echo "== $doc"
    "$WORK/bench" "$WORK/$doc"
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
