#!/usr/bin/env python3
"""Writes Tests/DLLMTokenizersTests/Fixtures/sentencepiece.json from the Python `tokenizers`.

Run from the repository root (needs only `tokenizers`):

    python3 Tests/DLLMTokenizersTests/Fixtures/generate_sentencepiece_fixtures.py

The components SentencePiece-style BPE tokenizers use (LLaMA-2, Mistral, TinyLlama):
the Metaspace pre-tokenizer (prepend schemes always/first/never, split on or off), BPE
with byte_fallback (with and without an unknown token, fused or not), and the decoders
Replace, ByteFallback, Fuse and Strip. A small "\u2581"-BPE is trained on the tokenizer
tests' texts; it has the <0xXX> byte tokens for only some bytes, so byte fallback,
the unknown token and dropped characters all occur. For each pipeline variant the file
holds its tokenizer.json and, per text, the ids and decodings; it also holds decoder
chains run on token lists directly (invalid UTF-8 bytes, Strip's limits).
"""
import json
import os

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
TEXTS = os.path.join(HERE, "texts.jsonl")


def base_tokenizer():
    with open(TEXTS, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.train_from_iterator(texts[:1200], trainers.BpeTrainer(vocab_size=400, limit_alphabet=80, show_progress=False))
    d = json.loads(tok.to_str())
    vocab = d["model"]["vocab"]
    # Byte tokens for ASCII and the lead/continuation bytes of 2-byte sequences only:
    # 3- and 4-byte characters (CJK, emoji) fall back to <unk> or are dropped.
    for b in list(range(0x20, 0x80)) + list(range(0x80, 0xE0)):
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    vocab.setdefault("<unk>", len(vocab))
    return vocab, [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in d["model"]["merges"]]


def sentencepiece_decoder(strip):
    chain = [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
    if strip:
        chain.append(decoders.Strip(content=" ", left=1))
    return decoders.Sequence(chain)


VARIANTS = [
    # name, prepend_scheme, split, unk_token, fuse_unk, strip decoder
    ("first-nosplit-unk-fused", "first", False, "<unk>", True, True),
    ("always-split-unk", "always", True, "<unk>", False, True),
    ("never-split-nounk", "never", True, None, False, False),
]


def texts():
    return [
        "", " ", "Hello world", " Hello world", "Hello  world ", "a\nb\tc", "  leading", "trailing  ",
        "\u2581already\u2581spaced", "caf\u00e9 na\u00efve \u00c6r\u00f8", "\u4f60\u597d\u4e16\u754c", "emoji \U0001F389\U0001F389 end",
        "mixed \u4f60 and \u00e9 and \U0001F600!", "<s>Hello</s> world", "x<s> y", "<s>", "<unk> stays", "<0x41> literal",
        "numbers 12345 3.14", "DON'T stop", "tabs\t\tand\r\nlines", "\u0301combining", "e\u0301",
    ]


def main():
    vocab, merges = base_tokenizer()
    out = {"texts": texts(), "variants": [], "decoder_chains": []}
    for name, scheme, split, unk, fuse, strip in VARIANTS:
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=unk, fuse_unk=fuse, byte_fallback=True))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme=scheme, split=split)
        tok.decoder = sentencepiece_decoder(strip)
        tok.add_special_tokens([AddedToken("<s>", normalized=False, special=True), AddedToken("</s>", normalized=False, special=True)])
        rows = []
        for t in out["texts"]:
            ids = tok.encode(t).ids
            rows.append({"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                         "decoded_skip": tok.decode(ids, skip_special_tokens=True)})
        out["variants"].append({"name": name, "tokenizer_json": tok.to_str(), "rows": rows})
    chains = [
        ["<0x41>", "<0xC3>", "<0xA9>", "\u2581x"], ["<0xC3>", "a", "<0xA9>"], ["<0xFF>", "<0xFE>"], ["<0x4>", "<0x41", "<0X41>"],
        ["\u2581\u2581a", "\u2581", "b\u2581"], ["  x  "], ["\u2581"], [],
    ]
    for strip in (True, False):
        dec = sentencepiece_decoder(strip)
        for c in chains:
            out["decoder_chains"].append({"strip": strip, "tokens": c, "decoded": dec.decode(c)})
    single = decoders.Strip(content="x", left=2, right=1)
    out["strip_cases"] = [{"token": t, "decoded": single.decode([t])} for t in ["xxxaxx", "axa", "xxa", "axx", "xax"]]  # (Rust panics on overlapping ends and on "")
    with open(os.path.join(HERE, "sentencepiece.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
