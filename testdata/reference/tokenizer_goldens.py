#!/usr/bin/env python3
"""Write llama.cpp's token ids for a dozen varied strings, per vocabulary,
as JSON goldens for the Go tokenizer tests.

For each vocabulary below, llama.cpp (llamacpp_lib.py, vocab-only load)
tokenizes every string with add_special=False and parse_special=False, and
the script writes golden/tokenizer-NAME.llamacpp.json:

  {"vocab": FILE, "overrides": {KEY: VALUE}, "texts": [...], "ids": [[...], ...]}

"overrides" lists metadata keys that the test changes in the vocabulary
before tokenizing. No Gemma 2 vocab-only file is published, so the
"gemma-spm" golden uses Llama 2's SentencePiece vocabulary with
tokenizer.ggml.add_space_prefix = false, the setting that Gemma's
converter writes (llama.cpp's conversion/gemma.py). The script writes that
modified vocabulary to a temporary file for llama.cpp.

Usage (INTERP_ORACLE and LLAMA_LIB_DIR as for make_goldens.sh):
  python3 tokenizer_goldens.py --vocab-dir DIR [--vocab-dir DIR ...]

Each vocabulary file is taken from the first folder that has it. A
vocabulary found in none is skipped with a message.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

# name: (vocab-only file from llama.cpp's models folder, metadata overrides)
VOCABS = {
    "qwen2": ("ggml-vocab-qwen2.gguf", {}),
    "phi-3": ("ggml-vocab-phi-3.gguf", {}),
    "llama-bpe": ("ggml-vocab-llama-bpe.gguf", {}),
    "gemma-spm": ("ggml-vocab-llama-spm.gguf", {"tokenizer.ggml.add_space_prefix": False}),
}

TEXTS = [
    "Hello world",
    " leading space and  two  spaces   three",
    "Numbers: 1234567890, 3.14159 and 2024-06-01",
    "Punctuation!?;: ... (parens) [brackets] {braces} «quotes» — dash",
    "Accents: café, naïve, façade, Ångström, São Paulo",
    "Emoji 😀👍🏽 and a flag 🇫🇷",
    "Line one\nLine two\n\nLine four\r\nend",
    "\ttab\tseparated\tvalues\t",
    "Mixed scripts: 日本語のテキスト, 中文, Привет мир, αβγ",
    "Code: def f(x):\n    return x**2  # square",
    "I'm sure they're right, aren't we? You'll see, we'd know.",
    "   ",
    "ÜPPER lower MiXeD CamelCase snake_case",
]


def find_vocab(dirs, name):
    for d in dirs:
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
    return None


def with_overrides(path, overrides, tmp):
    """Write a copy of the vocab-only file at path with the metadata keys
    of overrides set to their values, and return the copy's path."""
    from gguf_io import GGUFReader, GGUFWriter, VT
    r = GGUFReader(path)
    if r.tensors:
        raise SystemExit(f"{path}: expected a vocab-only file without tensors")
    w = GGUFWriter(alignment=r.alignment, write_alignment_key=False)
    for key, value in r.kv.items():
        if key in overrides:
            continue
        vt = r.kv_types[key]
        if isinstance(vt, tuple):
            w.add(key, value, VT.ARRAY, vt[1])
        else:
            w.add(key, value, vt)
    for key, value in overrides.items():
        w.add(key, value)
    out = os.path.join(tmp, os.path.basename(path))
    w.write(out)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab-dir", action="append", required=True, help="folder of ggml-vocab-*.gguf files")
    ap.add_argument("--oracle-dir", default=os.environ.get("INTERP_ORACLE"),
                    help="folder of llamacpp_lib.py and gguf_io.py (default $INTERP_ORACLE)")
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden"))
    a = ap.parse_args(argv)
    if not a.oracle_dir:
        raise SystemExit("give --oracle-dir or set INTERP_ORACLE to the folder of the oracle tools")
    sys.path.insert(0, a.oracle_dir)
    import llamacpp_lib

    with tempfile.TemporaryDirectory() as tmp:
        for name, (file, overrides) in VOCABS.items():
            path = find_vocab(a.vocab_dir, file)
            if path is None:
                print(f"skipping {name}: {file} not found in {', '.join(a.vocab_dir)}")
                continue
            if overrides:
                path = with_overrides(path, overrides, tmp)
            vocab = llamacpp_lib.Llama(path, vocab_only=True)
            ids = [vocab.tokenize(text, add_special=False, parse_special=False) for text in TEXTS]
            vocab.close()
            out = os.path.join(a.out_dir, f"tokenizer-{name}.llamacpp.json")
            with open(out, "w", encoding="utf-8") as f:
                json.dump({"vocab": file, "overrides": overrides, "texts": TEXTS, "ids": ids}, f,
                          ensure_ascii=False, indent=1)
                f.write("\n")
            print(f"wrote {out}: {len(TEXTS)} texts, {sum(map(len, ids))} tokens")


if __name__ == "__main__":
    main()
