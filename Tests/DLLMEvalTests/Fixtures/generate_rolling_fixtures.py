"""Writes the `loglikelihood_rolling` fixtures of DLLMEvalTests (RollingParityTests):

    rolling_docs.jsonl          a few documents (one JSON object per line, field `text`)
    rolling_reference.json      what the real lm-eval package (its Hugging Face backend) computes on
                                them with tiny_llama (max_length 24): token ids of every rolling window,
                                each window's log-likelihood, each document's, the word and byte counts,
                                and word_perplexity / byte_perplexity / bits_per_byte; and the diffusion
                                ELBO of the same documents with tiny_llada (max_length 16, windows of 15)
                                from the PyTorch transcription of LLaDA's `get_log_likelihood`
                                (Tests/Fixtures/generate_eval_mc_fixtures.py) under recorded mask draws.

Usage, from the repository root (needs lm-eval, torch, transformers, datasets; run
generate_lm_eval_fixtures.py and Tests/Fixtures/generate_eval_mc_fixtures.py first, whose
tiny_llama / tiny_llada folders this reads):

    python3 Tests/DLLMEvalTests/Fixtures/generate_rolling_fixtures.py

The task is lm-eval's own `loglikelihood_rolling` pipeline (a task yaml shaped like
`lm_eval/tasks/wikitext/wikitext.yaml` over the local JSON Lines file) run by `simple_evaluate`.
"""
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

import lm_eval
from lm_eval import utils
from lm_eval.api.metrics import bits_per_byte, weighted_perplexity
from lm_eval.api.task import ConfigurableTask
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]
sys.path.insert(0, str(REPO_ROOT / "Tests" / "Fixtures"))
import generate_eval_mc_fixtures as mc  # noqa: E402

AR_MAX_LENGTH = 24
ELBO_MAX_LENGTH = 16
ELBO_MC_NUM, ELBO_BATCH = 4, 2
TASK = "perplexity_rolling_docs"

DOCUMENTS = [
    "The committee met on a grey morning in March. Nobody had expected the report to be finished, "
    "yet there it was on the table, forty pages long, with a summary that fitted on one card.",
    "Short one.",
    "  Leading spaces, a\ttab and  two spaces; trailing space at the end ",
    "Caf\u00e9 owners in the old town \u2014 about thirty of them \u2014 signed the letter. "
    "It asked the council for wider pavements, more benches and a fountain that works.",
    "Rivers carry sand from the hills to the sea. Over centuries the sand builds a delta, "
    "and the delta becomes farmland, villages, roads and, eventually, a city that forgets the river.",
]

TASK_YAML = """task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {path}
output_type: loglikelihood_rolling
test_split: test
doc_to_text: ""
doc_to_target: text
metric_list:
  - metric: word_perplexity
  - metric: byte_perplexity
  - metric: bits_per_byte
metadata:
  version: 2.0
"""


def windows_of(tokens, prefix, max_len):
    return [utils.make_disjoint_window(w) for w in utils.get_rolling_token_windows(
        token_list=tokens, prefix_token=prefix, max_seq_len=max_len, context_len=1)]


def metrics_of(lls, texts):
    words = [ConfigurableTask.count_words(t) for t in texts]
    nbytes = [ConfigurableTask.count_bytes(t) for t in texts]
    return {"word_perplexity": weighted_perplexity(list(zip(lls, words))),
            "byte_perplexity": weighted_perplexity(list(zip(lls, nbytes))),
            "bits_per_byte": bits_per_byte(list(zip(lls, nbytes)))}, words, nbytes


def main():
    docs_path = HERE / "rolling_docs.jsonl"
    with open(docs_path, "w") as f:
        for text in DOCUMENTS:
            f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")

    # ---- lm-eval, HF backend, tiny_llama ----
    lm = HFLM(pretrained=str(HERE / "tiny_llama"), dtype="float32", device="cpu", batch_size=1, max_length=AR_MAX_LENGTH)
    with tempfile.TemporaryDirectory() as tasks_dir:
        (Path(tasks_dir) / f"{TASK}.yaml").write_text(TASK_YAML.format(task=TASK, path=docs_path))
        out = lm_eval.simple_evaluate(model=lm, tasks=[TASK], task_manager=TaskManager(include_path=tasks_dir),
                                      log_samples=True, num_fewshot=0, random_seed=0, numpy_random_seed=0, torch_random_seed=0)
    samples = sorted(out["samples"][TASK], key=lambda s: s["doc_id"])
    ar_docs = []
    for sample, text in zip(samples, DOCUMENTS):
        assert sample["arguments"][0][0] == text
        ll = float(sample["resps"][0][0])
        windows = windows_of(lm.tok_encode(text), lm.prefix_token_id, lm.max_length)
        window_lls = [float(r[0]) for r in lm._loglikelihood_tokens([(None, c, t) for c, t in windows], disable_tqdm=True)]
        assert abs(sum(window_lls) - ll) < 1e-6, (sum(window_lls), ll)
        ar_docs.append({"doc_id": sample["doc_id"], "loglikelihood": ll,
                        "word_perplexity_pair": sample["word_perplexity"], "byte_perplexity_pair": sample["byte_perplexity"],
                        "windows": [{"context_ids": c, "continuation_ids": t, "loglikelihood": w}
                                    for (c, t), w in zip(windows, window_lls)]})
    res = out["results"][TASK]
    ar_metrics = {m: res[f"{m},none"] for m in ("word_perplexity", "byte_perplexity", "bits_per_byte")}
    print(lm_eval.utils.make_table(out))

    # ---- diffusion ELBO, tiny_llada, the LLaDA transcription under recorded draws ----
    p = {k: v.float() for k, v in load_file(str(HERE / "tiny_llada" / "model.safetensors")).items()}
    elbo_docs, elbo_lls = [], []
    for d, text in enumerate(DOCUMENTS):
        windows = windows_of(lm.tok_encode(text), lm.prefix_token_id, ELBO_MAX_LENGTH - 1)
        records, total = [], 0.0
        for w, (ctx, cont) in enumerate(windows):
            gen = torch.Generator().manual_seed(100 * d + w)
            record = []
            ll = mc.get_log_likelihood(p, torch.tensor(ctx, dtype=torch.long), torch.tensor(cont, dtype=torch.long),
                                       ELBO_MC_NUM, ELBO_BATCH, 0.0, False, gen, record)
            records.append({"context_ids": ctx, "continuation_ids": cont, "loglikelihood": ll, "draws": record})
            total += ll
        elbo_docs.append({"doc_id": d, "loglikelihood": total, "windows": records})
        elbo_lls.append(total)
    elbo_metrics, words, nbytes = metrics_of(elbo_lls, DOCUMENTS)
    ar_check, _, _ = metrics_of([doc["loglikelihood"] for doc in ar_docs], DOCUMENTS)
    for m, v in ar_check.items():
        assert math.isclose(v, ar_metrics[m], rel_tol=1e-12), (m, v, ar_metrics[m])

    reference = {
        "lm_eval_version": lm_eval.__version__, "torch_version": torch.__version__, "task": TASK,
        "prefix_token_id": lm.prefix_token_id, "words": words, "bytes": nbytes,
        "ar": {"max_length": lm.max_length, "metrics": ar_metrics, "documents": ar_docs},
        "elbo": {"max_length": ELBO_MAX_LENGTH, "mc_num": ELBO_MC_NUM, "batch_size": ELBO_BATCH, "mask_id": mc.MASK_ID,
                 "metrics": elbo_metrics, "documents": elbo_docs},
    }
    (HERE / "rolling_reference.json").write_text(json.dumps(reference, indent=1, ensure_ascii=False) + "\n")
    print("AR", ar_metrics, "\nELBO", elbo_metrics)


if __name__ == "__main__":
    main()
