#!/usr/bin/env python3
"""Reference quantisations for the frozen quantised training base (DLLMModels FrozenQuantizedMatrix).

Run from the repository root (needs numpy, gguf, torch and bitsandbytes; CI only reads the output):

    python3 Tests/Fixtures/generate_frozen_quant_fixtures.py

Writes Tests/DLLMModelsTests/Fixtures/frozen_quant/:

  input.f32        (5, 512) float32 weights, little-endian: normal(0, 0.05) with a few outliers,
                   and one all-zero 64-element block (row 2, columns 128..191)
  Q8_0.bin         gguf-py quants.quantize(input, Q8_0)   (ggml quantize_row_q8_0_ref)
  Q4_1.bin         gguf-py quants.quantize(input, Q4_1)   (ggml quantize_row_q4_1_ref)
  nf4_packed.bin   bitsandbytes functional.quantize_4bit(input, blocksize=64, quant_type="nf4"): packed bytes
  nf4_absmax.f32   ... and its float32 absmax per block of 64
  nf4_dequant.f32  bitsandbytes functional.dequantize_4bit of the above (float32)
  meta.json        shapes and package versions
"""
import importlib.metadata
import json
import os

import bitsandbytes
import bitsandbytes.functional as bnbf
import numpy as np
import torch
from gguf import GGMLQuantizationType as T
from gguf import quants

ROWS, COLS = 5, 512
OUT = os.path.join(os.path.dirname(__file__), "..", "DLLMModelsTests", "Fixtures", "frozen_quant")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(15)
    x = rng.normal(0.0, 0.05, size=(ROWS, COLS)).astype(np.float32)
    x[0, 7] = 0.9
    x[3, 300] = -1.3
    x[4, 511] = 0.6
    x[2, 128:192] = 0.0
    x.astype("<f4").tofile(os.path.join(OUT, "input.f32"))

    for name, qtype in (("Q8_0", T.Q8_0), ("Q4_1", T.Q4_1)):
        q = quants.quantize(x, qtype)
        np.ascontiguousarray(q).astype(np.uint8).tofile(os.path.join(OUT, f"{name}.bin"))

    packed, state = bnbf.quantize_4bit(torch.from_numpy(x), blocksize=64, quant_type="nf4")
    packed.numpy().astype(np.uint8).tofile(os.path.join(OUT, "nf4_packed.bin"))
    state.absmax.numpy().astype("<f4").tofile(os.path.join(OUT, "nf4_absmax.f32"))
    back = bnbf.dequantize_4bit(packed, state).numpy().astype("<f4")
    back.tofile(os.path.join(OUT, "nf4_dequant.f32"))

    meta = {
        "rows": ROWS,
        "cols": COLS,
        "nf4_blocksize": 64,
        "gguf": importlib.metadata.version("gguf"),
        "bitsandbytes": bitsandbytes.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
    }
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
