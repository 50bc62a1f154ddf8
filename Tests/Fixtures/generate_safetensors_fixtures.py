#!/usr/bin/env python3
"""Regenerates the safetensors fixtures used by Tests/DLLMCheckpointTests.

Writes, into Tests/DLLMCheckpointTests/Fixtures/:
  python_mixed.safetensors     every supported dtype, several shapes (incl. scalar [] and a
                               zero-size dim), metadata {"format": "pt"}
  python_rounding.safetensors  F16 and BF16 tensors rounded by torch from float32 values chosen
                               to hit ties, subnormals, overflow and infinities; no metadata.
                               NaN is left out on purpose: torch 2.x on CPU turns a float32 NaN
                               into BF16 0xFFFF; DLLMCheckpoint writes the canonical quiet NaN
                               0x7FC0 (for F16 both give 0x7E00). Both read back as NaN.
  python_fixtures.json         expected contents: per file the metadata, the tensor order in
                               the file and, per tensor, dtype, shape and the element bit
                               patterns (hex) or integer values (decimal strings); for F16/BF16
                               tensors also the float32 source bits they were rounded from

Deterministic: fixed values, no randomness; the script checks that saving twice gives identical
bytes. Only needed to regenerate the fixtures (python3 with torch and safetensors); the Swift
tests never run Python.

    python3 Tests/Fixtures/generate_safetensors_fixtures.py
"""
import json
import math
import os
import struct

import torch
from safetensors.torch import save, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "DLLMCheckpointTests", "Fixtures")


def f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def bits_hex(t: torch.Tensor) -> list:
    """Element bit patterns of a floating tensor, flattened, as hex strings."""
    flat = t.contiguous().reshape(-1)
    view = {torch.float64: torch.int64, torch.float32: torch.int32,
            torch.float16: torch.int16, torch.bfloat16: torch.int16}[t.dtype]
    width = {torch.float64: 64, torch.float32: 32, torch.float16: 16, torch.bfloat16: 16}[t.dtype]
    mask = (1 << width) - 1
    return ["0x%0*x" % (width // 4, int(v) & mask) for v in flat.view(view).tolist()]


DTYPE_NAMES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
               torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
               torch.uint8: "U8", torch.bool: "BOOL"}


def describe(tensors: dict, sources: dict) -> dict:
    out = {}
    for name, t in tensors.items():
        entry = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape)}
        if t.dtype.is_floating_point:
            entry["bits"] = bits_hex(t)
        else:
            entry["values"] = [str(int(v)) for v in t.reshape(-1).tolist()]
        if name in sources:
            entry["source_f32_bits"] = bits_hex(sources[name])
        out[name] = entry
    return out


def file_order(data: bytes) -> list:
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    return [k for k, _ in sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))]


def mixed():
    embed_src = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1.5
    half_src = torch.tensor([[0.1, -2.5, 65504.0], [6.1e-5, 3.0e-7, -0.0]], dtype=torch.float32)
    bf16_src = torch.tensor([1.0, -3.140625, 1e-40, 3.0e38, 0.3], dtype=torch.float32)
    tensors = {
        "embed.weight": embed_src,
        "scalar": torch.tensor(3.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
        "norm.half": half_src.to(torch.float16),
        "proj.bf16": bf16_src.to(torch.bfloat16),
        "double": torch.tensor([math.pi, -1e-300, 1e300], dtype=torch.float64),
        "ids": torch.tensor([[0, -1], [2 ** 53 + 1, -(2 ** 62)]], dtype=torch.int64),
        "i32": torch.tensor([2 ** 31 - 1, -(2 ** 31)], dtype=torch.int32),
        "i16": torch.tensor([-32768, 7], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "bytes": torch.tensor([0, 255, 17], dtype=torch.uint8),
        "mask": torch.tensor([True, False, True], dtype=torch.bool),
    }
    sources = {"norm.half": half_src, "proj.bf16": bf16_src}
    return tensors, sources, {"format": "pt"}


def rounding():
    one = 1.0
    src = [
        0.0, -0.0, 1.0, -2.0, 65504.0, 65519.0, 65520.0, -65520.0, 1e6, float("inf"), float("-inf"),
        one + 2 ** -11, one + 3 * 2 ** -11, one + 2 ** -11 + 2 ** -23,        # F16 ties / just above a tie
        one + 2 ** -8, one + 3 * 2 ** -8, one + 2 ** -8 + 2 ** -23,           # BF16 ties / just above a tie
        2 ** -14, 2 ** -15, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -25 + 2 ** -40, 2 ** -26, 5 * 2 ** -26,
        6.097555e-05, 1e-45, -1e-42, 3.4028235e38, -3.4028235e38, 0.1, 1.0 / 3.0,
    ]
    s = torch.tensor(src, dtype=torch.float32)
    tensors = {"rounded.f16": s.to(torch.float16), "rounded.bf16": s.to(torch.bfloat16)}
    return tensors, {"rounded.f16": s, "rounded.bf16": s}, None


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for filename, (tensors, sources, metadata) in {
        "python_mixed.safetensors": mixed(),
        "python_rounding.safetensors": rounding(),
    }.items():
        path = os.path.join(OUT, filename)
        save_file(tensors, path, metadata=metadata)
        with open(path, "rb") as f:
            data = f.read()
        # Layout is deterministic for at most one metadata key (keys come out in hash order).
        assert save(tensors, metadata=metadata) == data, "safetensors output is not deterministic"
        expected[filename] = {
            "metadata": metadata or {},
            "order": file_order(data),
            "size": len(data),
            "tensors": describe(tensors, sources),
        }
    with open(os.path.join(OUT, "python_fixtures.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
