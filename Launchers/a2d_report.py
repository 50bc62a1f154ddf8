#!/usr/bin/env python3
"""The A2D report of docs/a2d.md (issue 13): one set of fixed documents, several models, the same
`dllm eval` tasks, 95% confidence intervals and each model's share of the AR original's margin
above chance; then every model's answers to the same ten chat prompts.

    python3 Launchers/a2d_report.py --dllm .build/release/dllm --limit 200 --mc-num 8 \\
        --model "AR original=hf:SMOLLM2_HF_FOLDER" \\
        --model "converted=a2d_mdlm:runs/smollm2-a2d" \\
        --model "converted, shift=a2d_mdlm:runs/smollm2-a2d:shift" \\
        --model "adapted=a2d_mdlm:runs/smollm2-a2d-pt-long/checkpoint-final:shift" \\
        --out results/a2d

Each --model is LABEL=BACKEND:FOLDER[:shift]. `hf` scores exact autoregressive log-likelihoods;
`a2d_mdlm` LLaDA's Monte Carlo estimate with mc_num draws (`shift` for DiffuLLaMA-style models whose
logit i-1 predicts token i). The first model is the reference for the margin:
(acc - chance) / (acc_ref - chance). Every `dllm eval` run keeps lm-eval's `--use_cache` file per
model under --out, so an interrupted report resumes where it stopped. Chance: 1/choices per
document, averaged (ARC-Easy has 3-, 4- and 5-choice questions); LAMBADA's acc (the last word's
every token greedy) has chance ~0.

--run RUN_DIR adds the adaptation's loss curve from the metrics.jsonl the collector wrote there (mean
training loss per --curve-every steps, eval losses, tokens trained on, wall time) and saves it as
loss_curve.csv beside report.json.
"""
import argparse
import glob
import json
import math
import os
import random
import subprocess
import sys

TASKS = ["hellaswag", "piqa", "arc_easy", "lambada_openai"]
PROMPTS = [
    "What is the capital of France?",
    "Give three tips for staying healthy.",
    "What is the boiling point of water in Celsius?",
    "Write one sentence about the ocean.",
    "Who wrote Romeo and Juliet?",
    "Name three primary colors.",
    "What do bees make?",
    "How many days are in a week?",
    "Describe a cat in one sentence.",
    "What is two plus three?",
]


def parse_model(text):
    label, _, spec = text.partition("=")
    parts = spec.split(":")
    if not label or len(parts) < 2 or parts[0] not in ("hf", "a2d_mdlm"):
        raise SystemExit(f"--model {text!r}: expected LABEL=hf|a2d_mdlm:FOLDER[:shift]")
    return {"label": label, "backend": parts[0], "folder": parts[1], "shift": parts[2:] == ["shift"]}


def slug(label):
    return "".join(c if c.isalnum() else "-" for c in label).strip("-").lower()


GREEDY_TASKS = {"lambada_openai"}


def run_eval(args, model, tasks, out, check_greedy):
    os.makedirs(out, exist_ok=True)
    model_args = f"pretrained={model['folder']}"
    if model["backend"] == "a2d_mdlm":
        model_args += f",mc_num={args.mc_num},shift={model['shift']},is_check_greedy={check_greedy}"
    cmd = [args.dllm, "eval", "--model", model["backend"], "--model_args", model_args,
           "--tasks", ",".join(tasks), "--limit", str(args.limit), "--batch_size", str(args.batch_size),
           "--threads", str(args.threads), "--output_path", out, "--log_samples",
           "--use_cache", os.path.join(out, "cache")]
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)
    newest = max(glob.glob(os.path.join(out, "*", "results_*.json")), key=os.path.getmtime)
    return json.load(open(newest))["results"]


def evaluate(args, model):
    """The model's results by task. LAMBADA's acc needs to know whether the last word is the greedy
    answer: exact for the AR model, LLaDA's suffix_greedy_prediction (is_check_greedy=True, L more
    forwards per request) for a diffusion model; without it every diffusion answer counts as not
    greedy and acc is 0 by construction. The other tasks score by log-likelihood only, so they run
    without the check."""
    out = os.path.join(args.out, slug(model["label"]))
    if model["backend"] == "hf":
        return run_eval(args, model, args.tasks, out, False), out
    plain = [t for t in args.tasks if t not in GREEDY_TASKS]
    greedy = [t for t in args.tasks if t in GREEDY_TASKS]
    results = run_eval(args, model, plain, out, False) if plain else {}
    if greedy:
        results.update(run_eval(args, model, greedy, os.path.join(out, "greedy"), True))
    return results, out


def samples(task, model_out):
    """The newest samples file of `task` under the model's output folder (its greedy-check run's
    for LAMBADA when there is one), by doc_id."""
    if task in GREEDY_TASKS and os.path.isdir(os.path.join(model_out, "greedy")):
        model_out = os.path.join(model_out, "greedy")
    files = sorted(glob.glob(os.path.join(model_out, "*", f"samples_{task}_*.jsonl")), key=os.path.getmtime)
    if not files:
        raise SystemExit(f"{model_out}: no samples file for {task}")
    return {r["doc_id"]: r for r in (json.loads(line) for line in open(files[-1]))}


def chance(args, task, model_out):
    """Mean of 1/choices over the documents scored (from the samples file)."""
    if task == "lambada_openai":
        return 0.0
    rows = list(samples(task, model_out).values())
    return sum(1 / len(r["resps"]) for r in rows) / len(rows)


def margin_interval(task, model_out, reference_out, resamples=2000):
    """95% paired-bootstrap interval of the margin: the same resampled documents for both models
    (their errors are correlated, since they see the same documents), percentile method."""
    mine, theirs = samples(task, model_out), samples(task, reference_out)
    docs = sorted(set(mine) & set(theirs))
    if len(docs) != len(mine) or len(docs) != len(theirs):
        raise SystemExit(f"{task}: the two models scored different documents")
    acc = [float(mine[d]["acc"]) for d in docs]
    ref = [float(theirs[d]["acc"]) for d in docs]
    inv = [0.0 if task == "lambada_openai" else 1 / len(mine[d]["resps"]) for d in docs]
    rng = random.Random(1234)
    n = len(docs)
    values = []
    for _ in range(resamples):
        pick = [rng.randrange(n) for _ in range(n)]
        c = sum(inv[i] for i in pick) / n
        r = sum(ref[i] for i in pick) / n
        if r != c:
            values.append((sum(acc[i] for i in pick) / n - c) / (r - c))
    values.sort()
    return values[int(0.025 * len(values))], values[int(0.975 * len(values)) - 1]


def answers(args, model):
    out = []
    for prompt in PROMPTS:
        cmd = [args.dllm, "generate", "--model", model["folder"], "--chat", "--prompt", prompt,
               "--gen-length", str(args.gen_length), "--threads", str(args.threads)]
        if model["backend"] == "a2d_mdlm":
            cmd += ["--steps", str(args.gen_length), "--block-length", str(min(args.block_length, args.gen_length))]
            if model["shift"]:
                cmd += ["--right-shift-logits"]
        else:
            cmd += ["--mode", "ar"]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out.append(proc.stdout.strip() if proc.returncode == 0 else f"(failed: {proc.stderr.strip()[-200:]})")
    return out


def loss_curve(args):
    """The adaptation run as the collector recorded it: every step's loss (one value for the whole
    world, rank 0's record), tokens summed over ranks, the eval losses, and the wall time from the
    first start record to the last exit record."""
    rows = [json.loads(line) for line in open(os.path.join(args.run, "metrics.jsonl"))]
    steps = sorted((r for r in rows if r["kind"] == "step" and r["rank"] == 0), key=lambda r: r["step"])
    if not steps:
        raise SystemExit(f"{args.run}/metrics.jsonl: no step records")
    evals = {r["step"]: r["eval_loss"] for r in rows if r["kind"] == "eval" and r["rank"] == 0}
    tokens = sum(r["tokens"] for r in rows if r["kind"] == "step")
    starts = [r["time"] for r in rows if r["kind"] == "start"]
    ends = [r["time"] for r in rows if r["kind"] == "exit"] or [steps[-1]["time"]]
    wall = max(ends) - min(starts)
    world = max(r["rank"] for r in rows) + 1
    with open(os.path.join(args.out, "loss_curve.csv"), "w") as f:
        f.write("step,loss,lr,grad_norm,eval_loss\n")
        for r in steps:
            f.write(f"{r['step']},{r['loss']:.6f},{r['lr']:.6g},{r['grad_norm']:.4f},{evals.get(r['step'], '')}\n")
    print(f"adaptation run {args.run}: {len(steps)} steps on {world} ranks, {tokens} tokens trained on "
          f"(sum over ranks), wall {wall / 60:.1f} min ({tokens / wall:.0f} tokens/s)\n")
    print(f"| steps | mean training loss | eval loss at the last step |")
    print("|---|---:|---:|")
    k = args.curve_every
    for first in range(0, len(steps), k):
        window = steps[first:first + k]
        last = window[-1]["step"]
        mean = sum(r["loss"] for r in window) / len(window)
        print(f"| {window[0]['step']}–{last} | {mean:.3f} | {evals[last]:.4f} |" if last in evals
              else f"| {window[0]['step']}–{last} | {mean:.3f} | |")
    print()
    return {"steps": len(steps), "ranks": world, "tokens": tokens, "wall_s": wall, "eval_loss": evals}


def print_chats(models, chats):
    for i, prompt in enumerate(PROMPTS):
        print(f"**{prompt}**\n")
        for m in models:
            print(f"- {m['label']}: {chats[m['label']][i]!r}")
        print()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dllm", default=".build/release/dllm")
    p.add_argument("--model", action="append", required=True)
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--mc-num", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--gen-length", type=int, default=32)
    p.add_argument("--block-length", type=int, default=32)
    p.add_argument("--no-chat", action="store_true", help="skip the ten prompts")
    p.add_argument("--chat-only", action="store_true", help="only the ten prompts (no evaluation)")
    p.add_argument("--run", help="the adaptation's output_dir (its collector metrics.jsonl)")
    p.add_argument("--curve-every", type=int, default=10, help="steps per row of the loss table")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    args.tasks = args.tasks.split(",")
    models = [parse_model(m) for m in args.model]
    os.makedirs(args.out, exist_ok=True)
    curve = loss_curve(args) if args.run else None

    if args.chat_only:
        chats = {m["label"]: answers(args, m) for m in models}
        print_chats(models, chats)
        with open(os.path.join(args.out, "chat.json"), "w") as f:
            json.dump(chats, f, indent=1)
        return
    table = {}
    for model in models:
        table[model["label"]] = evaluate(args, model)
    reference = models[0]["label"]
    print(f"\n{args.limit} documents per task; diffusion models: Monte Carlo, mc_num {args.mc_num}; "
          f"95% CI = 1.96 x stderr; margin = (acc - chance) / (acc_{reference} - chance), "
          f"with its 95% paired-bootstrap interval\n")
    print("| model | " + " | ".join(f"{t} acc (95% CI) | margin" for t in args.tasks) + " |")
    print("|---|" + "---:|---:|" * len(args.tasks))
    summary = {}
    for model in models:
        results, out = table[model["label"]]
        cells = []
        for t in args.tasks:
            acc = results[t]["acc,none"]
            se = results[t].get("acc_stderr,none")
            se = se if isinstance(se, (int, float)) else float("nan")
            c = chance(args, t, out)
            ref = table[reference][0][t]["acc,none"]
            margin = (acc - c) / (ref - c) if ref != c else float("nan")
            m_low, m_high = (1.0, 1.0) if model["label"] == reference else margin_interval(t, out, table[reference][1])
            summary.setdefault(model["label"], {})[t] = {"acc": acc, "stderr": se, "chance": c, "margin": margin,
                                                          "margin_95": [m_low, m_high]}
            low, high = max(0.0, acc - 1.96 * se), min(1.0, acc + 1.96 * se)
            cells.append(f"{acc:.3f} ({low:.3f}–{high:.3f}) | {margin:.2f} ({m_low:.2f}–{m_high:.2f})")
        print(f"| {model['label']} | " + " | ".join(cells) + " |")
    if not args.no_chat:
        print()
        chats = {m["label"]: answers(args, m) for m in models}
        print_chats(models, chats)
        summary["chat"] = chats
    if curve:
        summary["adaptation"] = curve
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
