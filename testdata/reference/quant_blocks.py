#!/usr/bin/env python3
"""Write the dequantization goldens of gguf/testdata/quant/ with ggml's own
code: the prebuilt libggml-base.so of @node-llama-cpp/linux-x64@3.21.1,
driven through the oracle's ggml_quant.py (ctypes, no FMA in that build).

Three kinds of golden, for Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K
and Q6_K:

  TYPE.bin, TYPE.dequant.npy, TYPE.json
      `ggml_quant.py golden TYPE`: 8 blocks that ggml's reference quantizer
      made from edge-case input (zeros, tiny and huge values, outliers, all
      positive, all negative), and ggml's float32 dequantization of them.
      The quantizer input (TYPE.input.npy) is deleted: the tests do not
      need it.
  TYPE.random.bin, TYPE.random.dequant.npy
      8 blocks of random bytes and ggml's dequantization of them. Every
      F16 scale field is replaced by a random finite F16 of either sign,
      subnormals included. So every bit pattern of the packed quants and
      sub-block scales occurs.
  shared.json
      With --shared, the folder of the real-vocabulary GPT-2 files
      gpt2-small-q-{Q8_0,Q4_K_M,Q6_K}.gguf: for each file and each quantized
      type in it, the first tensor of that type, the sha256 of its raw
      bytes, and the first 256 values of ggml's dequantization.

Usage (from the repository root):
  export INTERP_ORACLE=/path/to/oracle LLAMA_LIB_DIR=/path/to/bins/linux-x64
  /usr/bin/python3 testdata/reference/quant_blocks.py --out gguf/testdata/quant \\
      [--shared DIR]
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys

import numpy as np

TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]

# Byte offsets of the F16 fields (d, and m or dmin) in each block, from the
# block_* structs of ggml-common.h.
F16_FIELDS = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
}
RANDOM_BLOCKS = 8
SHARED_FILES = ["gpt2-small-q-Q8_0.gguf", "gpt2-small-q-Q4_K_M.gguf", "gpt2-small-q-Q6_K.gguf"]
SHARED_VALUES = 256


def oracle_dir() -> str:
    d = os.environ.get("INTERP_ORACLE")
    if not d or not os.path.isfile(os.path.join(d, "ggml_quant.py")):
        raise SystemExit("set INTERP_ORACLE to the folder of the oracle tools (ggml_quant.py)")
    return d


def random_finite_f16(rng, n: int) -> np.ndarray:
    """n random F16 bit patterns with exponent field 0..30: finite, either
    sign, subnormals and zero included."""
    sign = rng.integers(0, 2, n, dtype=np.uint16) << 15
    exp = rng.integers(0, 31, n, dtype=np.uint16) << 10
    frac = rng.integers(0, 1 << 10, n, dtype=np.uint16)
    return sign | exp | frac


def write_random(g, out: str, seed: int):
    for i, name in enumerate(TYPES):
        rng = np.random.default_rng(seed + i)
        size = g.type_size(name)
        raw = rng.integers(0, 256, (RANDOM_BLOCKS, size), dtype=np.uint8)
        for off in F16_FIELDS[name]:
            raw[:, off:off + 2] = random_finite_f16(rng, RANDOM_BLOCKS).astype("<u2").view(np.uint8).reshape(-1, 2)
        raw = raw.reshape(-1)
        y = g.dequantize(name, raw)
        if not np.all(np.isfinite(y)):
            raise SystemExit(f"{name}: random blocks decode to non-finite values")
        base = os.path.join(out, name.lower() + ".random")
        raw.tofile(base + ".bin")
        np.save(base + ".dequant.npy", y)
        print(f"{name}: {RANDOM_BLOCKS} random blocks -> {base}.{{bin,dequant.npy}}")


def write_shared(g, qm, out: str, shared: str):
    sys.path.insert(0, oracle_dir())
    from gguf_io import GGUFReader
    entries = []
    for fname in SHARED_FILES:
        path = os.path.join(shared, fname)
        r = GGUFReader(path)
        seen = set()
        for tname, t in r.tensors.items():
            tn = qm.TYPE_NAME[t.gtype]
            if tn in ("F32", "F16", "BF16") or tn in seen:
                continue
            seen.add(tn)
            _, raw = qm.read_tensor_raw(path, tname)
            y = g.dequantize(t.gtype, raw)
            entries.append({
                "file": fname, "tensor": tname, "type": tn, "ne": [int(x) for x in t.ne],
                "sha256_raw": hashlib.sha256(raw.tobytes()).hexdigest(),
                "first": [float(v) for v in y[:SHARED_VALUES]],
            })
            print(f"{fname}: {tname} ({tn}) first {SHARED_VALUES} values")
    # One tensor a line.
    with open(os.path.join(out, "shared.json"), "w") as f:
        f.write('{"made_by": "testdata/reference/quant_blocks.py --shared (ggml to_float of each tensor)",\n')
        f.write(' "tensors": [\n  ')
        f.write(",\n  ".join(json.dumps(e) for e in entries))
        f.write("\n ]\n}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shared", help="folder of gpt2-small-q-*.gguf")
    a = ap.parse_args()
    od = oracle_dir()
    os.makedirs(a.out, exist_ok=True)

    subprocess.run([sys.executable, os.path.join(od, "ggml_quant.py"), "golden", ",".join(TYPES),
                    "--out", a.out, "--seed", str(a.seed)], check=True)
    for p in glob.glob(os.path.join(a.out, "*.input.npy")):
        os.remove(p)

    sys.path.insert(0, od)
    import ggml_quant as qm
    g = qm.ggml()
    write_random(g, a.out, a.seed)
    if a.shared:
        write_shared(g, qm, a.out, a.shared)


if __name__ == "__main__":
    main()
