#!/usr/bin/env python3
"""Goldens from llama.cpp for the real model files in ../shared/models.

The Go tests that use these files skip when ../shared/models is absent; the
goldens let them check logits without running llama.cpp.

Needs the oracle set-up of ../shared/oracle/README.md (llama.cpp's libllama
from npm, driven through ctypes). Run from the repository root:

  export LLAMA_LIB_DIR=~/.cache/interp-oracle/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
  /usr/bin/python3 testdata/reference/shared_models.py

Writes testdata/reference/golden/shared-stories260K.llamacpp.json:
{"model", "prompt", "ids" (llama.cpp's tokenization, BOS added),
 "logits" [positions][vocab] (every position, KV cache F32, flash attention
 off), "greedy_ids" (64 greedy tokens after the prompt)}.
"""
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
shared = os.path.join(os.path.dirname(root), "shared")
sys.path.insert(0, os.path.join(shared, "oracle"))
import llamacpp_lib  # noqa: E402


def main():
    path = os.path.join(shared, "models", "stories260K.gguf")
    prompt = "Once upon a time"
    m = llamacpp_lib.Llama(path, n_ctx=256)
    ids = m.tokenize(prompt, add_special=True)
    logits = m.eval_logits(ids, all_positions=True)
    m.clear()
    greedy, _, _ = m.greedy(ids, 64)
    out = {
        "model": "stories260K.gguf",
        "prompt": prompt,
        "ids": [int(i) for i in ids],
        "logits": [[float(x) for x in row] for row in logits],
        "greedy_ids": [int(i) for i in greedy],
    }
    dst = os.path.join(here, "golden", "shared-stories260K.llamacpp.json")
    with open(dst, "w") as f:
        json.dump(out, f)
    print(f"wrote {dst}: {len(ids)} ids, logits {logits.shape}")


if __name__ == "__main__":
    main()
