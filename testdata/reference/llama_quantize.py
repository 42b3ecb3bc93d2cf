#!/usr/bin/env python3
"""Quantize a GGUF file with llama.cpp's own quantizer, as the llama-quantize
tool does: llama_model_quantize() of the prebuilt libllama that the npm
package @node-llama-cpp/linux-x64@3.21.1 ships, called through ctypes with
llama_model_quantize_default_params() and only ftype (and nthread) changed.
So the per-tensor type choices (which tensors of a Q4_K_M file get Q6_K or
Q5_K, what happens to token_embd and output) are llama.cpp's, and so are
the bytes.

Usage:
  LLAMA_LIB_DIR=.../bins/linux-x64 /usr/bin/python3 llama_quantize.py IN.gguf OUT.gguf FTYPE
FTYPE is one of Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_M, Q4_K_M, Q5_K_M,
Q6_K.

The ctypes struct below mirrors struct llama_model_quantize_params of
include/llama.h in that exact llama.cpp source (the git bundle in the npm
package). A C program built with gcc against that header gave the field
offsets 0, 4, 8, 12, 16..21, 24, 32, 40, 48, 56 and sizeof 64 on x86-64,
which the asserts below repeat.
"""
from __future__ import annotations

import ctypes as C
import os
import sys

# enum llama_ftype (include/llama.h).
FTYPES = {
    "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10,
    "Q3_K_M": 12, "Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18,
}


class QuantizeParams(C.Structure):
    _fields_ = [
        ("nthread", C.c_int32),
        ("ftype", C.c_int32),
        ("output_tensor_type", C.c_int32),
        ("token_embedding_type", C.c_int32),
        ("allow_requantize", C.c_bool),
        ("quantize_output_tensor", C.c_bool),
        ("only_copy", C.c_bool),
        ("pure", C.c_bool),
        ("keep_split", C.c_bool),
        ("dry_run", C.c_bool),
        ("imatrix", C.c_void_p),
        ("kv_overrides", C.c_void_p),
        ("tt_overrides", C.c_void_p),
        ("prune_layers", C.c_void_p),
        ("max_buf_size", C.c_size_t),
    ]


assert C.sizeof(QuantizeParams) == 64
assert [getattr(QuantizeParams, f).offset for f, _ in QuantizeParams._fields_] == \
    [0, 4, 8, 12, 16, 17, 18, 19, 20, 21, 24, 32, 40, 48, 56]


def load_libllama():
    d = os.environ.get("LLAMA_LIB_DIR")
    if not d:
        raise SystemExit("set LLAMA_LIB_DIR to the folder of libllama (bins/linux-x64 of the npm package)")
    names = [n for n in os.listdir(d) if n.startswith("libllama.") and n.endswith(".so") and "common" not in n]
    if not names:
        raise SystemExit(f"{d}: no libllama*.so")
    # libllama loads the ggml CPU backends from its own folder.
    C.CDLL(os.path.join(d, "libggml-base.so"), mode=C.RTLD_GLOBAL)
    lib = C.CDLL(os.path.join(d, sorted(names)[0]), mode=C.RTLD_GLOBAL)
    lib.llama_backend_init.argtypes = []
    lib.llama_backend_init.restype = None
    lib.llama_model_quantize_default_params.argtypes = []
    lib.llama_model_quantize_default_params.restype = QuantizeParams
    lib.llama_model_quantize.argtypes = [C.c_char_p, C.c_char_p, C.POINTER(QuantizeParams)]
    lib.llama_model_quantize.restype = C.c_uint32
    return lib


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in FTYPES:
        raise SystemExit(__doc__)
    src, dst, ftype = sys.argv[1:]
    lib = load_libllama()
    lib.llama_backend_init()
    p = lib.llama_model_quantize_default_params()
    p.ftype = FTYPES[ftype]
    p.nthread = 1
    rc = lib.llama_model_quantize(src.encode(), dst.encode(), C.byref(p))
    if rc != 0:
        raise SystemExit(f"llama_model_quantize({src}, {dst}, {ftype}) returned {rc}")
    print(f"{src} -> {dst} ({ftype})")


if __name__ == "__main__":
    main()
