#!/usr/bin/env python3
"""Generate the Arrow fixtures of Tests/DLLMDataTests/Fixtures with Hugging Face `datasets`.

Run from the repository root (needs `pip install datasets pyarrow`; the Swift tests do not):

    python3 Tests/Fixtures/generate_data_fixtures.py

Writes, under Tests/DLLMDataTests/Fixtures/:
  arrow_dataset/      Dataset.save_to_disk, 2 shards, scalar, string, list, struct columns with nulls
  arrow_dict/         DatasetDict.save_to_disk with train/test splits of chat `messages`
  arrow_unsupported/  a timestamp column, which the Swift reader must refuse by name
  arrow_file_format.arrow  the same kind of table in the Arrow IPC *file* format (ARROW1 magic)
  arrow_expected.json the rows each folder must yield, as plain JSON
"""
import datetime
import json
import os
import shutil

import datasets
import pyarrow as pa
from datasets import Dataset, DatasetDict, Features, List, Value

OUT = os.path.join(os.path.dirname(__file__), "..", "DLLMDataTests", "Fixtures")


def fresh(name):
    path = os.path.join(OUT, name)
    shutil.rmtree(path, ignore_errors=True)
    return path


def main():
    os.makedirs(OUT, exist_ok=True)
    features = Features(
        {
            "text": Value("string"),
            "big_text": Value("large_string"),
            "n": Value("int64"),
            "small": Value("int32"),
            "u8": Value("uint8"),
            "score": Value("float32"),
            "ratio": Value("float64"),
            "flag": Value("bool"),
            "input_ids": List(Value("int32")),
            "labels": List(Value("int64")),
            "pair": List(Value("int32"), length=2),
            "meta": {"source": Value("string"), "rank": Value("int64")},
            "empty": Value("null"),
        }
    )
    rows = {
        "text": ["To be, or not to be", None, "wörld ✓ 日本", "", "line\nbreak"],
        "big_text": ["a" * 40, "b", None, "d", "e"],
        "n": [1, -2, 3_000_000_000, None, 5],
        "small": [7, 8, None, 10, -11],
        "u8": [0, 255, 1, 2, None],
        "score": [0.5, None, -1.25, 2.0, 3.75],
        "ratio": [0.1, 0.2, None, 1e300, -0.0],
        "flag": [True, False, None, True, True],
        "input_ids": [[1, 2, 3], [], None, [4], [5, 6, 7, 8, 9, 10, 11, 12, 13]],
        "labels": [[-100, 2, 3], [], [1], None, [9]],
        "pair": [[1, 2], [3, 4], None, [5, 6], [7, 8]],
        "meta": [
            {"source": "a", "rank": 1},
            None,
            {"source": None, "rank": 3},
            {"source": "d", "rank": None},
            {"source": "e", "rank": 5},
        ],
        "empty": [None] * 5,
    }
    ds = Dataset.from_dict(rows, features=features)
    ds.save_to_disk(fresh("arrow_dataset"), num_shards=2)

    chat = lambda q, a: [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    dd = DatasetDict(
        {
            "train": Dataset.from_dict({"messages": [chat("What is 2+2?", "4"), chat("Say hi", "hi")]}),
            "test": Dataset.from_dict({"messages": [chat("Capital of France?", "Paris")]}),
        }
    )
    dd.save_to_disk(fresh("arrow_dict"))

    bad = Dataset.from_dict(
        {"text": ["x"], "when": [datetime.datetime(2020, 1, 2, 3, 4, 5)]},
    )
    bad.save_to_disk(fresh("arrow_unsupported"))

    table = pa.table({"text": ["first", None, "third"], "input_ids": [[1, 2], [3], []]})
    with pa.ipc.new_file(os.path.join(OUT, "arrow_file_format.arrow"), table.schema) as writer:
        writer.write_table(table, max_chunksize=2)

    expected = {
        "arrow_dataset": [dict(zip(rows, values)) for values in zip(*rows.values())],
        "arrow_dict_train": dd["train"].to_list(),
        "arrow_dict_test": dd["test"].to_list(),
        "datasets_version": datasets.__version__,
    }
    with open(os.path.join(OUT, "arrow_expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
