"""Checks mlx-native's GGUF tensor reading against llama.cpp's own Python reader (`gguf`).

    python scripts/gguf-check.py synth OUT.gguf            # a GGUF with every type mlx-native reads
    python scripts/gguf-check.py compare MODEL.gguf DUMP.safetensors

`synth` writes random blocks (finite scales) of F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and MXFP4. `compare` reads what `gguf_dump` (native/tools) wrote and, for
each tensor, dequantizes the same rows with `gguf.quants.dequantize`; it prints one JSON object
per type: `exact` (equal values: bit for bit but for the sign of zeros), and for requantized types `decoded_exact` (mlx-native's
own decoding before requantization is bitwise equal) and the requantization error relative to the
largest magnitude in each tensor.
"""
import json
import sys

import mlx.core as mx
import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader, GGUFWriter
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

# Byte offsets of the float16 scales inside each block type.
HALF_FIELDS = {
    Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q8_0: [0],
    Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208],
}


def synth(path):
    rng = np.random.default_rng(7)
    w = GGUFWriter(path, "llama")
    rows, cols = 8, 512
    w.add_tensor("f32.weight", rng.normal(size=(rows, cols)).astype(np.float32))
    w.add_tensor("f16.weight", rng.normal(size=(rows, cols)).astype(np.float16))
    bf = (rng.normal(size=(rows, cols)).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    w.add_tensor("bf16.weight", bf.view(np.uint8).reshape(rows, cols * 2), raw_dtype=Q.BF16)
    for qtype, fields in HALF_FIELDS.items():
        block, size = GGML_QUANT_SIZES[qtype]
        blocks = rng.integers(0, 256, size=(rows * cols // block, size), dtype=np.uint8)
        for off in fields:
            halves = rng.uniform(-0.05, 0.05, size=len(blocks)).astype(np.float16)
            blocks[:, off:off + 2] = halves.view(np.uint8).reshape(-1, 2)
        data = blocks.reshape(rows, cols // block * size)
        w.add_tensor(f"{qtype.name.lower()}.weight", data, raw_dtype=qtype)
    # MXFP4: an E8M0 scale byte (kept near 2^0 so values stay in float range), 16 bytes of codes.
    blocks = rng.integers(0, 256, size=(rows * cols // 32, 17), dtype=np.uint8)
    blocks[:, 0] = rng.integers(110, 140, size=len(blocks), dtype=np.uint8)
    w.add_tensor("mxfp4.weight", blocks.reshape(rows, cols // 32 * 17), raw_dtype=Q.MXFP4)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def compare(model, dump):
    got = {k: np.array(v) for k, v in mx.load(dump).items()}
    by_type = {}
    for t in GGUFReader(model).tensors:
        if t.name not in got:
            continue
        mine = got[t.name]
        rows = mine.shape[0] if mine.ndim > 1 else None
        data = t.data[:rows] if rows is not None else t.data
        ref = dequantize(np.asarray(data), t.tensor_type).astype(np.float32).reshape(mine.shape)
        entry = by_type.setdefault(t.tensor_type.name, {"type": t.tensor_type.name, "tensors": 0, "exact": True})
        entry["tensors"] += 1
        # Equal values; the only bit patterns allowed to differ are zeros: the reference computes
        # d·(q - 8) and gets -0.0 for negative d, MLX d·q + (-8d) gets +0.0.
        entry["exact"] &= bool(np.array_equal(mine, ref))
        differs = mine.view(np.uint32) != ref.view(np.uint32)
        entry["bits_differ_only_at_zero"] = entry.get("bits_differ_only_at_zero", True) and bool(
            np.all(ref[differs] == 0))
        if t.name + ".exact" in got:
            decoded = got[t.name + ".exact"]
            entry["decoded_exact"] = entry.get("decoded_exact", True) and bool(
                np.array_equal(decoded.view(np.uint32), ref.view(np.uint32)))
            err = float(np.abs(mine - ref).max() / max(np.abs(ref).max(), 1e-30))
            rms = float(np.sqrt(np.mean((mine - ref) ** 2)) / max(np.sqrt(np.mean(ref ** 2)), 1e-30))
            entry["max_error"] = max(entry.get("max_error", 0.0), err)
            entry["rms_error"] = max(entry.get("rms_error", 0.0), rms)
    for entry in by_type.values():
        print(json.dumps(entry))


if __name__ == "__main__":
    if sys.argv[1] == "synth":
        synth(sys.argv[2])
    else:
        compare(sys.argv[2], sys.argv[3])
