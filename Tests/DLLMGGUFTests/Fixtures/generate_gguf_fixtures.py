#!/usr/bin/env python3
"""Writes the DLLMGGUFTests fixtures with the `gguf` Python package (gguf-py).

For every ggml type DLLMGGUF dequantises, `quant_<TYPE>.gguf` holds two tensors:
  - `weight`  (3, 64) or (2, 256): float data quantised by `gguf.quants.quantize`
               when gguf-py can quantise the type, otherwise random blocks;
  - `random`  whole random blocks (every bit pattern of the codes) with sane f16
               scales, so every code path of the dequantiser is hit;
and `quant_<TYPE>.f32` holds the reference: `gguf.quants.dequantize` of each tensor
(read back with `gguf.GGUFReader`), raw little-endian float32, `weight` then `random`.

`metadata.gguf` has one key of every GGUF value type, arrays of each and nested
arrays, a custom `general.alignment` of 64 and one F32 tensor; `metadata_expected.json`
lists every key as [key, type, value] with floats as bit patterns (hex) so the Swift
test compares exactly. `version2.gguf` is a copy of `quant_Q8_0.gguf` whose version
field says 2 (v2 and v3 share the little-endian layout).

Run from anywhere: python3 generate_gguf_fixtures.py
"""
import json
import os
import struct

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import GGUFValueType as V

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261130)

# Types gguf-py quantises itself; the others get random blocks only.
QUANTIZABLE = {T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0}
# Byte offsets of the f16 scales inside one block, per type.
SCALE_OFFSETS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
TYPES = [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q4_K, T.Q5_K, T.Q6_K]


def float_values(shape):
    """Normal values with a few awkward ones mixed in."""
    x = rng.standard_normal(shape).astype(np.float32) * np.float32(0.7)
    flat = x.reshape(-1)
    flat[:6] = [0.0, -0.0, 1e-6, -3.5, 65504.0, 1e-8]
    return x


def special_floats(count, qtype):
    """F32/F16/BF16 `random` tensors: random bit patterns of the element type (finite
    and not), so conversion of subnormals, infinities and NaNs is covered."""
    if qtype == T.F32:
        bits = rng.integers(0, 2**32, count, dtype=np.uint64).astype(np.uint32)
        bits[:4] = [0x7F800000, 0xFF800000, 0x00000001, 0x80000000]
        return bits.view(np.float32)
    bits = rng.integers(0, 2**16, count, dtype=np.uint32).astype(np.uint16)
    if qtype == T.F16:
        bits[:6] = [0x7C00, 0xFC00, 0x0001, 0x8000, 0x03FF, 0x7E00]
        return bits.view(np.float16)
    bits[:4] = [0x7F80, 0xFF80, 0x0001, 0x8000]
    return bits.view(np.uint8)      # BF16 is written as raw bytes


def random_blocks(qtype, n_blocks):
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, (n_blocks, type_size), dtype=np.uint16).astype(np.uint8)
    for offset in SCALE_OFFSETS[qtype]:
        scales = (rng.standard_normal(n_blocks) * 0.05).astype(np.float16).view(np.uint8).reshape(n_blocks, 2)
        raw[:, offset:offset + 2] = scales
    return raw


def write_quant_file(qtype):
    name = qtype.name
    path = os.path.join(HERE, f"quant_{name}.gguf")
    writer = gguf.GGUFWriter(path, arch="fixture")
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    if qtype in QUANTIZABLE:
        weight = float_values((3, 64))
        if qtype == T.F32:
            writer.add_tensor("weight", weight)
        elif qtype == T.F16:
            writer.add_tensor("weight", weight.astype(np.float16))
        else:
            writer.add_tensor("weight", gguf.quants.quantize(weight, qtype), raw_dtype=qtype)
    else:
        writer.add_tensor("weight", random_blocks(qtype, 2).reshape(2, type_size), raw_dtype=qtype)
    if block_size == 1:
        random = special_floats(2 * 96, qtype).reshape(2, -1)
        if qtype == T.BF16:
            writer.add_tensor("random", random, raw_dtype=qtype)
        else:
            writer.add_tensor("random", random)
    else:
        # (2, 2·block) elements: 4 blocks.
        writer.add_tensor("random", random_blocks(qtype, 4).reshape(2, 2 * type_size), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    reader = gguf.GGUFReader(path)
    reference = []
    for tensor in reader.tensors:
        assert tensor.tensor_type == qtype, (tensor.name, tensor.tensor_type)
        values = gguf.quants.dequantize(np.asarray(tensor.data), qtype).astype(np.float32).reshape(-1)
        reference.append(values)
    np.concatenate(reference).astype("<f4").tofile(os.path.join(HERE, f"quant_{name}.f32"))
    return path


def bits32(x):
    return "%08x" % struct.unpack("<I", struct.pack("<f", x))[0]


def bits64(x):
    return "%016x" % struct.unpack("<Q", struct.pack("<d", x))[0]


def write_metadata_file():
    path = os.path.join(HERE, "metadata.gguf")
    writer = gguf.GGUFWriter(path, arch="fixture")
    writer.add_custom_alignment(64)
    expected = [["general.architecture", "STRING", "fixture"], ["general.alignment", "UINT32", 64]]
    scalars = [
        ("test.uint8", V.UINT8, 250), ("test.int8", V.INT8, -100),
        ("test.uint16", V.UINT16, 65000), ("test.int16", V.INT16, -32000),
        ("test.uint32", V.UINT32, 4000000000), ("test.int32", V.INT32, -2000000000),
        ("test.uint64", V.UINT64, 18000000000000000000), ("test.int64", V.INT64, -9000000000000000000),
        ("test.float32", V.FLOAT32, 3.14159274101257324), ("test.float64", V.FLOAT64, -2.718281828459045),
        ("test.bool_true", V.BOOL, True), ("test.bool_false", V.BOOL, False),
        ("test.string", V.STRING, "héllo, wörld ✓"), ("test.empty_string", V.STRING, ""),
    ]

    def encode(vtype, value):
        if vtype == V.FLOAT32:
            return bits32(value)
        if vtype == V.FLOAT64:
            return bits64(value)
        return value

    for key, vtype, value in scalars:
        writer.add_key_value(key, value, vtype)
        expected.append([key, vtype.name, encode(vtype, value)])
    arrays = [
        ("test.array.uint8", V.UINT8, [0, 1, 255]), ("test.array.int8", V.INT8, [-128, 0, 127]),
        ("test.array.uint16", V.UINT16, [1, 65535]), ("test.array.int16", V.INT16, [-32768, 32767]),
        ("test.array.uint32", V.UINT32, [7, 4294967295]), ("test.array.int32", V.INT32, [-1, 2, -3]),
        ("test.array.uint64", V.UINT64, [2**64 - 1, 0]), ("test.array.int64", V.INT64, [-2**63, 2**63 - 1]),
        ("test.array.float32", V.FLOAT32, [0.5, -1.25, 1e-30]), ("test.array.float64", V.FLOAT64, [1e300, -0.0]),
        ("test.array.bool", V.BOOL, [True, False, True]), ("test.array.string", V.STRING, ["a", "", "ünïcode"]),
    ]
    for key, vtype, values in arrays:
        writer.add_key_value(key, values, V.ARRAY, sub_type=vtype)
        expected.append([key, "ARRAY", {"type": vtype.name, "items": [encode(vtype, v) for v in values]}])
    # Nested arrays: the writer infers inner types (int → INT32, str → STRING, float → FLOAT32).
    nested = [[1, 2, 3], [4], [-5, 6]]
    writer.add_key_value("test.array.nested_int32", nested, V.ARRAY, sub_type=V.ARRAY)
    expected.append(["test.array.nested_int32", "ARRAY", {"type": "ARRAY", "items": [
        {"type": "INT32", "items": inner} for inner in nested]}])
    deep = [[["x", "y"], ["z"]], [["w"]]]
    writer.add_key_value("test.array.nested_string", deep, V.ARRAY, sub_type=V.ARRAY)
    expected.append(["test.array.nested_string", "ARRAY", {"type": "ARRAY", "items": [
        {"type": "ARRAY", "items": [{"type": "STRING", "items": leaf} for leaf in middle]} for middle in deep]}])
    tensor = np.arange(2 * 3 * 32, dtype=np.float32).reshape(2, 3, 32) / np.float32(7)
    writer.add_tensor("blk.0.three_dims", tensor)
    writer.add_tensor("second", np.ones((5,), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    # Cross-check what gguf-py reads back against the expectation's keys.
    reader = gguf.GGUFReader(path)
    assert [f.name for f in reader.fields.values() if not f.name.startswith("GGUF.")] == [e[0] for e in expected]
    with open(os.path.join(HERE, "metadata_expected.json"), "w") as out:
        json.dump({"entries": expected,
                   "tensors": [{"name": t.name, "dims": [int(d) for d in t.shape], "type": t.tensor_type.name,
                                "data_offset": int(t.data_offset)} for t in reader.tensors],
                   "alignment": 64}, out, indent=1, ensure_ascii=False)
        out.write("\n")


def write_version2_file():
    with open(os.path.join(HERE, "quant_Q8_0.gguf"), "rb") as source:
        data = bytearray(source.read())
    assert data[:4] == b"GGUF" and struct.unpack_from("<I", data, 4)[0] == 3
    struct.pack_into("<I", data, 4, 2)
    with open(os.path.join(HERE, "version2.gguf"), "wb") as out:
        out.write(data)
    assert gguf.GGUFReader(os.path.join(HERE, "version2.gguf")).tensors[0].name == "weight"


if __name__ == "__main__":
    for qtype in TYPES:
        write_quant_file(qtype)
    write_metadata_file()
    write_version2_file()
    total = sum(os.path.getsize(os.path.join(HERE, f)) for f in os.listdir(HERE))
    print(f"fixtures written, {total} bytes in {HERE}")
