#!/usr/bin/env python3
"""Gradient goldens for the backward pass, from the PyTorch reference of the
oracle set-up (ref_tl.py, float64 autograd).

For each fixture and prompt, the metric is M = logit[answer] - logit[wrong]
at the last position. The script saves, for the ordinary gradient and for
RelP's modified backward pass (ref_tl's relp=True: norm divisor constant,
GELU/SiLU backward = output/input, gated product halved, attention pattern
detached):

  ids                    int64 [seq]
  answer, wrong          int64 scalars
  metric                 float64 scalar
  grad.<hook name>       float32, dM/d(activation) with the hook's shape
  relp.<hook name>       float32, the RelP coefficients
  param.<tensor name>    float32, dM/d(weight) in the file's row-major layout
                         (ordinary gradient only)

Run from the repository root with the oracle's folder in INTERP_ORACLE:

  INTERP_ORACLE=/path/to/oracle /usr/bin/python3 testdata/reference/grads.py

Writes testdata/reference/golden/<fixture>.grads.npz, and
shared-stories260K.grads.npz for the real stories260K.gguf of the
project's shared model folder (../shared/models beside the checkout) on a
prompt of its own.
"""
import json
import os
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
sys.path.insert(0, os.environ["INTERP_ORACLE"])
import ref_tl  # noqa: E402

PARAMS = {
    "gpt2-tiny": ["blk.0.attn_qkv.weight", "blk.0.attn_qkv.bias", "blk.1.ffn_down.weight",
                  "blk.0.attn_norm.weight", "blk.1.ffn_norm.bias", "output_norm.bias",
                  "position_embd.weight"],
    "llama-tiny": ["blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.1.ffn_gate.weight",
                   "blk.1.ffn_up.weight", "blk.0.ffn_norm.weight", "output_norm.weight"],
}


# stories260K (Llama architecture, SentencePiece vocabulary): "Once upon a
# time, there was a little girl named Lily" with BOS, as llama.cpp
# tokenizes it; the metric compares the pieces "She" and "He" at the last
# position.
STORIES_IDS = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317]
STORIES_ANSWER, STORIES_WRONG = 338, 346


def task(fixture):
    with open(os.path.join(here, "golden", fixture + ".patch.json")) as f:
        p = json.load(f)
    return p["clean_ids"], p["answer_id"], p["wrong_id"]


def gradients(m, ids, answer, wrong, relp, params):
    acts = {}

    def hook(name, x):
        y = x.clone()
        if y.requires_grad:
            y.retain_grad()
        else:
            y.requires_grad_(True)  # an embedding lookup: make it a leaf
        acts[name] = y
        return y

    for name in params:
        m.W.t[name].grad = None
    logits, _ = m.forward(ids, hook=hook, relp=relp)
    metric = logits[-1, answer] - logits[-1, wrong]
    metric.backward()
    grads = {name: y.grad.detach().numpy().astype(np.float32)
             for name, y in acts.items() if y.grad is not None}
    return float(metric), grads


def main():
    runs = [(f, os.path.join(root, "testdata", f + ".gguf"), p) + task(f) for f, p in PARAMS.items()]
    stories = os.path.join(os.path.dirname(root), "shared", "models", "stories260K.gguf")
    if os.path.exists(stories):
        runs.append(("shared-stories260K", stories, ["blk.0.attn_q.weight", "blk.4.ffn_down.weight"],
                     STORIES_IDS, STORIES_ANSWER, STORIES_WRONG))
    for fixture, path, params, ids, answer, wrong in runs:
        m = ref_tl.load(path, torch.float64)
        for name in params:
            m.W.t[name].requires_grad_(True)
        out = {"ids": np.asarray(ids, dtype=np.int64), "answer": np.int64(answer), "wrong": np.int64(wrong)}
        metric, grads = gradients(m, ids, answer, wrong, False, params)
        out["metric"] = np.float64(metric)
        for name, g in grads.items():
            out["grad." + name] = g
        for name in params:
            out["param." + name] = m.W.t[name].grad.detach().numpy().astype(np.float32)
        _, relp = gradients(m, ids, answer, wrong, True, params)
        for name, g in relp.items():
            out["relp." + name] = g
        dst = os.path.join(here, "golden", fixture + ".grads.npz")
        np.savez_compressed(dst, **out)
        print(f"wrote {dst}: metric {metric:.6f}, {len(grads)} hook gradients, {len(params)} weights")


if __name__ == "__main__":
    main()
