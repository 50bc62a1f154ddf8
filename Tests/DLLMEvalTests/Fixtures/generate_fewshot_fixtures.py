"""Writes fewshot_reference.json: the few-shot request contexts the real lm-eval package builds
(`ConfigurableTask.build_all_requests` with `num_fewshot` and `set_fewshot_seed`), and CPython's
`random.Random(seed).sample` on a few populations (the draws lm-eval's sampler makes).

Reads the committed hf_datasets/ folders (written by generate_lm_eval_fixtures.py) and serves
each as lm-eval's train, validation and test split, so the few-shot pool is the evaluated split,
as `dllm eval` draws it. Needs lm-eval and datasets (no model, no torch work).
    python3 generate_fewshot_fixtures.py
"""
import json
import os
import random

import datasets

import lm_eval
from lm_eval.tasks import TaskManager, get_task_dict

HERE = os.path.dirname(os.path.abspath(__file__))
# Tasks whose few-shot split equals their test split in lm-eval (both unset), so lm-eval
# excludes the evaluated document as dllm does: task -> (hub path, hub name, folder).
TASKS = {
    "hellaswag": ("Rowan/hellaswag", None, "hellaswag/none"),
    "piqa": ("baber/piqa", None, "piqa/plain_text"),
    "boolq": ("aps/super_glue", "boolq", "boolq/none"),
    "copa": ("aps/super_glue", "copa", "super_glue/copa"),
    "winogrande": ("allenai/winogrande", "winogrande_xl", "winogrande/winogrande_xl"),
}
RUNS = [(3, 1234), (2, 7)]  # (num_fewshot, fewshot seed)


def serve_local_folders():
    def load_dataset(path=None, name=None, **kwargs):
        for task, (hub_path, hub_name, folder) in TASKS.items():
            if hub_path == path and (hub_name is None or hub_name == name):
                ds = datasets.load_from_disk(os.path.join(HERE, "hf_datasets", folder, "validation"))
                if task == "boolq":  # google/boolq's boolean `answer` is SuperGLUE's `label`
                    ds = ds.map(lambda row: {"label": int(row["answer"])})
                return datasets.DatasetDict({"train": ds, "validation": ds, "test": ds})
        raise ValueError(f"no local data for {path} {name}")
    datasets.load_dataset = load_dataset


def main():
    serve_local_folders()
    manager = TaskManager()
    reference = {"lm_eval_version": lm_eval.__version__, "runs": [], "python_samples": []}
    for shots, seed in RUNS:
        tasks = get_task_dict(list(TASKS), manager)
        for name, task in tasks.items():
            task.set_config(key="num_fewshot", value=shots)
            task.set_fewshot_seed(seed=seed)
            task.build_all_requests(limit=None)
            contexts = {}
            for inst in task.instances:
                contexts.setdefault(inst.doc_id, []).append(inst.arguments[0])
            reference["runs"].append({"task": name, "num_fewshot": shots, "seed": seed,
                                      "contexts": [contexts[i] for i in sorted(contexts)]})
    for seed, n, k in [(1234, 6, 4), (1234, 10042, 6), (0, 40, 21), (7, 100, 3), (2**40 + 5, 1000, 8), (99, 1, 1)]:
        rnd = random.Random(seed)
        draws = [rnd.sample(range(n), k) for _ in range(3)]
        reference["python_samples"].append({"seed": seed, "n": n, "k": k, "draws": draws})
    # datasets' map() caches next to the served folders; those files are not fixtures.
    for root, _, files in os.walk(os.path.join(HERE, "hf_datasets")):
        for name in files:
            if name.startswith("cache-") and name.endswith(".arrow"):
                os.remove(os.path.join(root, name))
    with open(os.path.join(HERE, "fewshot_reference.json"), "w") as f:
        json.dump(reference, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
