#!/usr/bin/env python3
"""llama.cpp goldens for a quantized fixture: tokenize a prompt with
llama.cpp's tokenizer (BOS added where the vocabulary adds one), run it in
one batch with the oracle settings (F32 KV cache, flash attention off), and
save what transformer/quantized_test.go checks.

llama.cpp runs twice: on the quantized file itself, and on an F32 copy of it
whose tensors ggml's own dequantization (the oracle's ggml_quant.py) wrote,
metadata unchanged apart from general.file_type. Both runs see the same
weights. The first also rounds the activations to 8 bits before every
quantized matrix product (Q8_0 or Q8_K blocks). The second keeps them in
float32, as interp does.

Output .npz (every array 1-D):
  ids              int64 [seq]     the prompt's token ids
  top1, top2       int64 [seq]     llama.cpp's best and second-best token at each
                                   position, quantized file
  margin           float32 [seq]   logit[top1] - logit[top2] there
  logits_last      float32 [vocab] logits at the last position, quantized file
  f32_top1, f32_top2, f32_margin, f32_logits_last
                                   the same for the F32 copy
  gap_to_f32_top1  float32 [seq]   logit[top1] - logit[f32_top1] in the quantized
                                   run: 0 where both runs pick the same token,
                                   else how far apart llama.cpp's two runs are

Usage:
  export INTERP_ORACLE=/path/to/oracle LLAMA_LIB_DIR=/path/to/bins/linux-x64
  /usr/bin/python3 quantized_goldens.py MODEL.gguf --text "PROMPT" --out GOLDEN.npz
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--text", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    oracle = os.environ.get("INTERP_ORACLE")
    if not oracle or not os.path.isfile(os.path.join(oracle, "llamacpp_lib.py")):
        raise SystemExit("set INTERP_ORACLE to the folder of the oracle tools (llamacpp_lib.py)")
    sys.path.insert(0, oracle)
    import llamacpp_lib

    import ggml_quant

    def run(path, ids=None):
        m = llamacpp_lib.Llama(path, n_ctx=256, n_batch=256, threads=2, kv_type="f32", flash_attn="off")
        if ids is None:
            ids = m.tokenize(a.text, add_special=True)
        logits = m.eval_logits(ids, all_positions=True)
        m.close()
        return ids, logits

    def top2(logits):
        order = np.argsort(-logits, axis=1, kind="stable")
        rows = np.arange(logits.shape[0])
        margin = (logits[rows, order[:, 0]] - logits[rows, order[:, 1]]).astype(np.float32)
        return order[:, 0].astype(np.int64), order[:, 1].astype(np.int64), margin

    ids, q = run(a.model)
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "f32.gguf")
        write_f32_copy(ggml_quant, a.model, copy)
        _, f = run(copy, ids)

    q1, q2, qm = top2(q)
    f1, f2, fm = top2(f)
    rows = np.arange(len(ids))
    np.savez(a.out, ids=np.array(ids, dtype=np.int64),
             top1=q1, top2=q2, margin=qm, logits_last=q[-1].astype(np.float32),
             f32_top1=f1, f32_top2=f2, f32_margin=fm, f32_logits_last=f[-1].astype(np.float32),
             gap_to_f32_top1=(q[rows, q1] - q[rows, f1]).astype(np.float32))
    rng = float(q[-1].max() - q[-1].min())
    flips = np.nonzero(q1 != f1)[0]
    print(f"{os.path.basename(a.model)}: {len(ids)} tokens, last-position range {rng:.3f}, "
          f"smallest top-2 margin {qm.min():.3g} ({qm.min() / rng:.2g} of the range); "
          f"quantized vs F32 copy: last-position max |diff| {np.abs(q[-1] - f[-1]).max():.3g}, "
          f"top-1 differs at positions {flips.tolist()} -> {a.out}")


def write_f32_copy(ggml_quant, src: str, dst: str):
    """Write src with every tensor dequantized to F32 by ggml."""
    from gguf_io import GGUFReader, GGUFWriter, VT
    g = ggml_quant.ggml()
    r = GGUFReader(src)
    w = GGUFWriter(alignment=r.alignment)
    for key, value in r.kv.items():
        if key == "general.alignment":
            continue
        vt = r.kv_types[key]
        if key == "general.file_type":
            value = 0  # LLAMA_FTYPE_ALL_F32
        if isinstance(vt, tuple):
            w.add(key, value, vt[0], vt[1])
        else:
            w.add(key, value, vt)
    for name, t in r.tensors.items():
        _, raw = ggml_quant.read_tensor_raw(src, name)
        w.add_tensor(name, g.dequantize(t.gtype, raw).reshape(t.shape), "F32")
    w.write(dst)


if __name__ == "__main__":
    main()
