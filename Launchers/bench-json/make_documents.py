"""Writes the two documents Launchers/bench-json.sh parses (seeded, so every run reads the same bytes).

tokenizer.json-like: 150,000 vocabulary entries (ASCII, Latin-1 and kana keys), 150,000 merges,
150,000 float scores, indented as `json.dumps(indent=2, ensure_ascii=False)` writes it (17.6 MB).
rows.json: 200,000 objects of two doubles, an integer and a string, compact (19.1 MB).
"""
import json
import random
import sys

out = sys.argv[1]
random.seed(0)
alphabet = [chr(c) for c in list(range(0x21, 0x7F)) + list(range(0xA1, 0x17F)) + list(range(0x3041, 0x3096))]
vocab = {}
while len(vocab) < 150000:
    vocab["".join(random.choice(alphabet) for _ in range(random.randint(1, 10)))] = len(vocab)
keys = list(vocab)
merges = [[random.choice(keys), random.choice(keys)] for _ in range(150000)]
doc = {"version": "1.0", "added_tokens": [{"id": i, "content": f"<|t{i}|>", "special": True} for i in range(50)],
       "normalizer": None, "model": {"type": "BPE", "dropout": None, "vocab": vocab, "merges": merges},
       "scores": [random.uniform(-20, 0) for _ in range(150000)]}
with open(f"{out}/tokenizer.json", "w") as f:
    f.write(json.dumps(doc, ensure_ascii=False, indent=2))
random.seed(1)
rows = [{"loss": random.uniform(0, 10), "step": i, "lr": random.uniform(1e-6, 1e-3), "name": f"row {i}"} for i in range(200000)]
with open(f"{out}/rows.json", "w") as f:
    f.write(json.dumps(rows))
