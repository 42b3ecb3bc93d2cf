#!/usr/bin/env python3
"""Steering goldens from the oracle tools: llama.cpp (libllama through
llamacpp_lib.py) for control vectors and option log-likelihoods, and the
PyTorch reference (ref_tl.py / ref_steer.py, float64) for mean-difference
vectors, PCA directions and AUSteer unit scores.

Needs /usr/bin/python3 with numpy and torch, INTERP_ORACLE (the folder of
the oracle tools) and LLAMA_LIB_DIR (the folder of libllama).
testdata/steering/README.md lists the commands that wrote the goldens.

Subcommands:

  references MODEL --pairs FILE.jsonl --out FILE.json
      Tokenizes each pair's prompt+positive and prompt+negative with
      llama.cpp (BOS as the vocabulary asks) and writes, at the last token
      of each example and every block L:
        mean_diff[L]   mean(positive resid_post) - mean(negative resid_post)
        pca[L]         first right singular vector of the centered paired
                       differences (numpy SVD), unit norm, signed so that
                       the mean difference projects positively on it
        austeer.B      for each block B in resid, mlp, attn: beta[L][dim],
                       tie[L][dim] (c+ == c-, sign undefined), min_diff[L][dim]
                       (min over pairs of |a_pos - a_neg| divided by the
                       largest |activation|) and top units for k = 8

  write-vector --n-embd D --layers 1,2 --seed S --scale X
               --layer-count-type i32|u32|i64|u64 --hint H --out FILE.gguf
      Writes a control vector with gguf_io.py: seeded normal directions
      times X, controlvector.layer_count of the given integer type.

  llamacpp MODEL --prompt TEXT --control-vector FILE:STRENGTH ...
           [--greedy N] --out FILE.npz
      llama.cpp's last-position logits for the prompt without and with
      the control vectors (summed by load_control_vectors, applied to
      blocks 1 .. n_layer-1 by set_control_vector), and with --greedy its
      greedy continuations both ways. Arrays: ids, logits_unsteered,
      logits_steered, greedy_unsteered, greedy_steered, strengths.

  eval MODEL --items FILE.jsonl --control-vector FILE:STRENGTH ... --out FILE.json
      For each multiple-choice item {prompt, options, answer}: the prompt's
      tokens, each option's tokens (the tokens that prompt+option adds to
      the prompt's tokenization, else the option tokenized alone without
      BOS) and the sum of the options' token log-probabilities without and
      with the control vectors, from llama.cpp's logits in float64.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.environ.get("INTERP_ORACLE", ""))
import gguf_io  # noqa: E402
import llamacpp_lib  # noqa: E402


def parse_specs(values):
    specs = []
    for v in values:
        path, _, strength = v.rpartition(":")
        specs.append((path, float(strength)))
    return specs


def references(a):
    import torch
    import ref_steer
    import ref_tl
    torch.set_num_threads(2)
    tok = ref_steer.tokenizer(a.model)
    pairs = ref_steer.read_pairs(a.pairs)
    pos = [tok.tokenize(p["prompt"] + p["positive"]) for p in pairs]
    neg = [tok.tokenize(p["prompt"] + p["negative"]) for p in pairs]
    model = ref_tl.load(a.model)

    out = {"model": os.path.basename(a.model), "positive_ids": pos, "negative_ids": neg}
    out["mean_diff"] = ref_steer.mean_diff(model, pos, neg, "resid").tolist()

    D, _ = ref_steer.pair_diffs(model, list(zip(pos, neg)), "resid")
    pcs = []
    for L in range(D.shape[1]):
        d = D[:, L, :]
        centered = d - d.mean(axis=0)
        _, _, vt = np.linalg.svd(centered, full_matrices=False)
        pc = vt[0]
        if d.mean(axis=0) @ pc < 0:
            pc = -pc
        pcs.append(pc.tolist())
    out["pca"] = pcs

    out["austeer"] = {}
    for block in ["resid", "mlp", "attn"]:
        D, scale = ref_steer.pair_diffs(model, list(zip(pos, neg)), block)
        beta, tie = ref_steer.austeer_beta(D)
        out["austeer"][block] = {
            "beta": beta.tolist(),
            "tie": tie.tolist(),
            "min_diff": (np.abs(D).min(axis=0) / scale).tolist(),
            "top8": [{"layer": L, "dim": j, "score": b} for L, j, b in ref_steer.top_units(beta, 8)],
        }
    with open(a.out, "w") as f:
        json.dump(out, f)
    print(f"wrote {a.out}")


def write_vector(a):
    rng = np.random.default_rng(a.seed)
    vt = {"i32": gguf_io.VT.INT32, "u32": gguf_io.VT.UINT32, "i64": gguf_io.VT.INT64, "u64": gguf_io.VT.UINT64}
    layers = [int(x) for x in a.layers.split(",")]
    w = gguf_io.GGUFWriter(write_alignment_key=False)
    w.add("general.architecture", "controlvector")
    w.add("controlvector.model_hint", a.hint)
    w.add("controlvector.layer_count", len(layers), vt[a.layer_count_type])
    for L in layers:
        w.add_tensor(f"direction.{L}", (rng.standard_normal(a.n_embd) * a.scale).astype(np.float32))
    w.write(a.out)
    print(f"wrote {a.out}")


def llamacpp(a):
    m = llamacpp_lib.Llama(a.model, n_ctx=512)
    ids = m.tokenize(a.prompt)
    specs = parse_specs(a.control_vector)
    n_embd, data = llamacpp_lib.load_control_vectors(specs)
    out = {"ids": np.array(ids, np.int64), "strengths": np.array([s for _, s in specs], np.float64)}
    out["logits_unsteered"] = m.eval_logits(ids)
    if a.greedy:
        out["greedy_unsteered"] = np.array(m.greedy(ids, a.greedy)[0], np.int64)
    m.set_control_vector(data, n_embd)
    out["logits_steered"] = m.eval_logits(ids)
    if a.greedy:
        out["greedy_steered"] = np.array(m.greedy(ids, a.greedy)[0], np.int64)
    m.close()
    np.savez(a.out, **out)
    print(f"wrote {a.out}: max |steered - unsteered| = {np.abs(out['logits_steered'] - out['logits_unsteered']).max():.4f}")


def option_tokens(m, prompt_ids, prompt, option):
    joined = m.tokenize(prompt + option)
    if len(joined) > len(prompt_ids) and joined[:len(prompt_ids)] == prompt_ids:
        return joined[len(prompt_ids):]
    return m.tokenize(option, add_special=False)


def log_likelihood(m, prompt_ids, option_ids):
    logits = m.eval_logits(prompt_ids + option_ids, all_positions=True).astype(np.float64)
    total = 0.0
    for k, t in enumerate(option_ids):
        row = logits[len(prompt_ids) + k - 1]
        peak = row.max()
        total += row[t] - peak - np.log(np.exp(row - peak).sum())
    return float(total)


def evaluate(a):
    m = llamacpp_lib.Llama(a.model, n_ctx=512)
    with open(a.items, encoding="utf-8") as f:
        lines = [json.loads(ln) for ln in f if ln.strip()]
    items = []
    for it in lines:
        p = m.tokenize(it["prompt"])
        items.append({"prompt_ids": p, "option_ids": [option_tokens(m, p, it["prompt"], o) for o in it["options"]],
                      "answer": it["answer"]})
    for it in items:
        it["unsteered"] = [log_likelihood(m, it["prompt_ids"], o) for o in it["option_ids"]]
    specs = parse_specs(a.control_vector)
    n_embd, data = llamacpp_lib.load_control_vectors(specs)
    m.set_control_vector(data, n_embd)
    for it in items:
        it["steered"] = [log_likelihood(m, it["prompt_ids"], o) for o in it["option_ids"]]
    m.close()
    with open(a.out, "w") as f:
        json.dump({"control_vectors": [{"path": os.path.basename(p), "strength": s} for p, s in specs], "items": items}, f)
    print(f"wrote {a.out}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("references")
    r.add_argument("model")
    r.add_argument("--pairs", required=True)
    r.add_argument("--out", required=True)
    r.set_defaults(run=references)

    w = sub.add_parser("write-vector")
    w.add_argument("--n-embd", type=int, required=True)
    w.add_argument("--layers", required=True)
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--scale", type=float, default=1.0)
    w.add_argument("--layer-count-type", default="i32", choices=["i32", "u32", "i64", "u64"])
    w.add_argument("--hint", default="llama")
    w.add_argument("--out", required=True)
    w.set_defaults(run=write_vector)

    c = sub.add_parser("llamacpp")
    c.add_argument("model")
    c.add_argument("--prompt", required=True)
    c.add_argument("--control-vector", action="append", required=True)
    c.add_argument("--greedy", type=int, default=0)
    c.add_argument("--out", required=True)
    c.set_defaults(run=llamacpp)

    e = sub.add_parser("eval")
    e.add_argument("model")
    e.add_argument("--items", required=True)
    e.add_argument("--control-vector", action="append", required=True)
    e.add_argument("--out", required=True)
    e.set_defaults(run=evaluate)

    a = ap.parse_args(argv)
    a.run(a)


if __name__ == "__main__":
    main()
