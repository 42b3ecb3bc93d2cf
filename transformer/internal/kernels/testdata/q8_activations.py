#!/usr/bin/env python3
"""Write q8_activations.json: float32 activation rows and the blocks that
ggml's reference quantizers make of them. These are the formats in which
llama.cpp's CPU backend rounds activations before a quantized matrix
product: Q8_0 (for Q4_0, Q5_0 and Q8_0 weights), Q8_1 (Q4_1, Q5_1) and
Q8_K (the K-quants).

The quantizers are quantize_row_q8_0_ref, quantize_row_q8_1_ref and
quantize_row_q8_K_ref, exported by the prebuilt libggml-base.so of
@node-llama-cpp/linux-x64@3.21.1 (ggml 0.23.0), which the oracle's
ggml_quant.py loads through ctypes. That build has no FMA or AVX code.

Each case stores the input row ("x", float32 values written exactly) and
the quantized row ("blocks", hex of ggml's block bytes). Block layouts
(ggml-common.h): Q8_0 is an F16 scale d and 32 int8 quants; Q8_1 is F16 d,
F16 s = d·Σq, and 32 int8 quants; Q8_K is a float32 d, 256 int8 quants and
16 int16 sums of 16 quants each.

Usage (from the repository root):
  export INTERP_ORACLE=/path/to/oracle LLAMA_LIB_DIR=/path/to/bins/linux-x64
  /usr/bin/python3 transformer/internal/kernels/testdata/q8_activations.py \\
      > transformer/internal/kernels/testdata/q8_activations.json
"""
from __future__ import annotations

import ctypes as C
import json
import os
import sys

import numpy as np


def oracle_dir() -> str:
    d = os.environ.get("INTERP_ORACLE")
    if not d or not os.path.isfile(os.path.join(d, "ggml_quant.py")):
        raise SystemExit("set INTERP_ORACLE to the folder of the oracle tools (ggml_quant.py)")
    return d


BLOCK = {"Q8_0": (32, 34), "Q8_1": (32, 36), "Q8_K": (256, 292)}


def rows_32(rng: np.random.Generator) -> list[np.ndarray]:
    """Rows of 64 values (two 32-value blocks) with the edge cases of the
    Q8_0 and Q8_1 quantizers."""
    rows = [rng.standard_normal(64)]

    # A block of zeros (d = 0, so every quant is 0) beside small values.
    r = np.zeros(64)
    r[32:] = 1e-3 * rng.standard_normal(32)
    rows.append(r)

    # amax = 127 gives d = 1 and 1/d = 1, so x·(1/d) = x exactly, and the
    # halves test the rounding of ties (away from zero in ggml's roundf).
    r = np.concatenate([np.arange(-15.5, 16.5, 1.0), [127.0], np.arange(-14.5, 16.5, 1.0)])
    rows.append(r)

    # d below the smallest normal F16 (subnormal scale), and a block with
    # a large outlier.
    r = np.concatenate([1e-6 * rng.standard_normal(32), rng.standard_normal(32)])
    r[40] = -3e4
    rows.append(r)
    return [np.asarray(r, dtype=np.float32) for r in rows]


def rows_256(rng: np.random.Generator) -> list[np.ndarray]:
    """Rows of 512 values (two Q8_K blocks)."""
    rows = [rng.standard_normal(512)]

    # Block 0: the value of largest magnitude is negative, -127, so the
    # inverse scale -127/max is exactly 1 and the halves are ties (to even
    # in ggml's nearest_int). Block 1: all zeros.
    r = np.zeros(512)
    r[:256] = np.clip(np.round(rng.standard_normal(256) * 30) + 0.5, -126.5, 126.5)
    r[17] = -127.0
    rows.append(r)

    # The largest magnitude is positive, and exactly tied: the first one
    # wins. Plus a heavy-tailed block.
    r = rng.standard_normal(512)
    r[3], r[200] = 9.0, -9.0
    r[256:] = rng.standard_t(2, 256)
    rows.append(r)
    return [np.asarray(r, dtype=np.float32) for r in rows]


def main() -> None:
    sys.path.insert(0, oracle_dir())
    import ggml_quant  # noqa: E402

    g = ggml_quant.GGML()
    quantizers = {
        "Q8_0": g.lib.quantize_row_q8_0_ref,
        "Q8_1": g.lib.quantize_row_q8_1_ref,
        "Q8_K": g.lib.quantize_row_q8_K_ref,
    }
    for fn in quantizers.values():
        fn.argtypes = [C.c_void_p, C.c_void_p, C.c_int64]
        fn.restype = None

    rng = np.random.default_rng(20240611)
    inputs = {"Q8_0": rows_32(rng), "Q8_1": rows_32(rng), "Q8_K": rows_256(rng)}
    out = {"ggml_version": g.version.decode(), "cases": []}
    for name, rows in inputs.items():
        qk, size = BLOCK[name]
        for x in rows:
            x = np.ascontiguousarray(x, dtype=np.float32)
            # Zeroed, because quantize_row_q8_K_ref leaves the sums of an
            # all-zero block unwritten.
            dst = np.zeros(len(x) // qk * size, dtype=np.uint8)
            quantizers[name](x.ctypes.data, dst.ctypes.data, len(x))
            out["cases"].append({"type": name, "x": [float(v) for v in x], "blocks": dst.tobytes().hex()})
    # One case per line.
    lines = [json.dumps(c, separators=(",", ":")) for c in out["cases"]]
    sys.stdout.write('{"ggml_version":%s,"cases":[\n%s\n]}\n' % (json.dumps(out["ggml_version"]), ",\n".join(lines)))


if __name__ == "__main__":
    main()
