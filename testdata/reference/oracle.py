#!/usr/bin/env python3
"""Run the oracle tools next to reference.py: llama.cpp's tokenizer, and the
comparisons that validate reference.py.

The oracle tools are llama.cpp driven through ctypes (llamacpp_lib.py) and a
PyTorch TransformerLens-style reference (ref_tl.py, ref_patch.py). They live
outside this repository: pass their folder with --oracle-dir or set
INTERP_ORACLE. llama.cpp also needs LLAMA_LIB_DIR, the folder of libllama.

Subcommands:
  tokenize MODEL TEXT
      Print llama.cpp's token ids for TEXT, comma separated, with BOS when
      the model's vocabulary adds one.
  answer-id MODEL PROMPT ANSWER
      Print the id of the single token that ANSWER adds after PROMPT, that
      is tokenize(PROMPT + ANSWER) minus tokenize(PROMPT). Fail when ANSWER
      adds more than one token or changes the prompt's tokens.
  compare MODEL --ids 1,2,3 [--ids ...] [--clean-ids ... --corrupt-ids ...
          --answer-id N --wrong-id N] [--json OUT]
      Print the maximum absolute differences between reference.py and
      ref_tl.py (every hook point both record, and the logits), between
      reference.py and llama.cpp's logits at every position (F32 KV cache,
      no flash attention), and between the patching sweeps of reference.py
      and ref_patch.py.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

import reference


def import_oracle(oracle_dir):
    if not oracle_dir:
        raise SystemExit("give --oracle-dir or set INTERP_ORACLE to the folder of the oracle tools")
    if not os.path.isfile(os.path.join(oracle_dir, "llamacpp_lib.py")):
        raise SystemExit(f"{oracle_dir}: llamacpp_lib.py not found; is this the oracle folder?")
    sys.path.insert(0, oracle_dir)


def max_abs_diff(a, b):
    """Return max |a - b| over entries finite in both; inf when the -inf
    entries (masked attention scores) differ in place."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise SystemExit(f"shape mismatch {a.shape} against {b.shape}")
    if not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return float("inf")
    finite = np.isfinite(a)
    return float(np.abs(a[finite] - b[finite]).max()) if finite.any() else 0.0


def cmd_tokenize(a):
    import llamacpp_lib
    vocab = llamacpp_lib.Llama(a.model, vocab_only=True)
    print(",".join(str(t) for t in vocab.tokenize(a.text)))


def cmd_answer_id(a):
    import llamacpp_lib
    vocab = llamacpp_lib.Llama(a.model, vocab_only=True)
    prompt = vocab.tokenize(a.prompt)
    full = vocab.tokenize(a.prompt + a.answer)
    if full[:len(prompt)] != prompt or len(full) != len(prompt) + 1:
        raise SystemExit(f"{a.answer!r} after the prompt gives tokens {full[len(prompt) - 1:]}, not one new token")
    print(full[-1])


def cmd_compare(a):
    import torch
    import ref_patch
    import ref_tl
    torch.set_num_threads(2)

    ours = reference.Model(a.model)
    theirs = ref_tl.load(a.model, torch.float64)
    llama = None
    if not a.no_llamacpp:
        import llamacpp_lib
        llama = llamacpp_lib.Llama(a.model, n_ctx=256, n_batch=256, kv_type="f32", flash_attn="off")

    report = {"model": os.path.basename(a.model), "prompts": []}
    for text in a.ids:
        ids = reference.parse_ids(text)
        logits, cache = reference.forward(ours, ids)
        with torch.no_grad():
            torch_logits, torch_cache = theirs.forward(ids)
        common = sorted(set(cache) & set(torch_cache))
        hook_diff = {name: max_abs_diff(cache[name], torch_cache[name].numpy()) for name in common}
        worst = max(hook_diff, key=hook_diff.get)
        entry = dict(n_tokens=len(ids), hooks_compared=len(common),
                     hooks_not_in_torch=sorted(set(cache) - set(torch_cache)),
                     max_hook_diff_torch=hook_diff[worst], worst_hook=worst,
                     logits_diff_torch=max_abs_diff(logits, torch_logits.numpy()),
                     logits_abs_max=float(np.abs(logits).max()), logits_std=float(logits.std()))
        if llama is not None:
            llama_logits = llama.eval_logits(ids, all_positions=True)
            entry["logits_diff_llamacpp"] = max_abs_diff(logits, llama_logits)
            entry["logits_mean_abs_diff_llamacpp"] = float(np.abs(logits - llama_logits).mean())
        report["prompts"].append(entry)
        print(json.dumps(entry))

    if a.clean_ids:
        clean, corrupt = reference.parse_ids(a.clean_ids), reference.parse_ids(a.corrupt_ids)
        m_clean, m_corrupt, sites = reference.patch_sweep(ours, clean, corrupt, a.answer_id, a.wrong_id)
        t_clean, t_corrupt, t_sites, _ = ref_patch.activation_patching(theirs, clean, corrupt, a.answer_id, a.wrong_id)
        entry = dict(clean_value=m_clean, corrupt_value=m_corrupt,
                     clean_value_diff_torch=abs(m_clean - t_clean),
                     corrupt_value_diff_torch=abs(m_corrupt - t_corrupt),
                     site_diff_torch={s: max_abs_diff(sites[s], t_sites[s]) for s in sites})
        report["patching"] = entry
        print(json.dumps(entry))

    if llama is not None:
        llama.close()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--oracle-dir", default=os.environ.get("INTERP_ORACLE"),
                    help="folder of llamacpp_lib.py, ref_tl.py and ref_patch.py (default $INTERP_ORACLE)")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tokenize", help="llama.cpp's token ids for a text")
    p.add_argument("model")
    p.add_argument("text")
    p.set_defaults(run=cmd_tokenize)

    p = sub.add_parser("answer-id", help="the single token an answer adds after a prompt")
    p.add_argument("model")
    p.add_argument("prompt")
    p.add_argument("answer")
    p.set_defaults(run=cmd_answer_id)

    p = sub.add_parser("compare", help="compare reference.py with ref_tl.py, ref_patch.py and llama.cpp")
    p.add_argument("model")
    p.add_argument("--ids", action="append", required=True, help="token ids of one prompt; repeat per prompt")
    p.add_argument("--no-llamacpp", action="store_true", help="skip the llama.cpp comparison")
    p.add_argument("--clean-ids")
    p.add_argument("--corrupt-ids")
    p.add_argument("--answer-id", type=int)
    p.add_argument("--wrong-id", type=int)
    p.add_argument("--json", help="also write the differences to this file")
    p.set_defaults(run=cmd_compare)

    a = ap.parse_args(argv)
    import_oracle(a.oracle_dir)
    a.run(a)


if __name__ == "__main__":
    main()
