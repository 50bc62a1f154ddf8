"""Writes bootstrap_reference.json: lm-eval's bootstrapped stderr of the `perplexity`
aggregation (LAMBADA's), `lm_eval.api.metrics.bootstrap_stderr(perplexity, xs, iters)`, on
fixed log-likelihoods, at lm-eval's default `--bootstrap_iters` (100000) and at smaller counts
(one partial chunk; a count that is not a multiple of 1000), plus the first outputs of CPython's
`random.Random(i).random()` the resampling draws from.

Usage (needs lm-eval): python3 generate_bootstrap_fixtures.py
"""
import json
import math
import os
import random
import sys

from lm_eval.api.metrics import bootstrap_stderr, perplexity

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    # Log-likelihoods shaped like LAMBADA's last-word scores: mostly a few nats, a long tail.
    xs = [-(0.05 + 6.0 * abs(math.sin(1.7 * i)) ** 3) for i in range(41)]
    cases = []
    for iters in (100000, 2500, 300):
        cases.append({"iters": iters, "stderr": bootstrap_stderr(perplexity, xs, iters)})
    draws = {}
    for seed in (0, 1, 99):
        rnd = random.Random(seed)
        draws[str(seed)] = [rnd.random() for _ in range(6)]
    out = {"python": sys.version.split()[0], "xs": xs, "perplexity": perplexity(xs), "cases": cases, "random": draws}
    with open(os.path.join(HERE, "bootstrap_reference.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
