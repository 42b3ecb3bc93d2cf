#!/usr/bin/env python3
"""Float64 NumPy reference for GPT-2 and Llama-family GGUF models, independent of interp.

It reads a GGUF file itself (F32, F16, BF16 and Q8_0 tensors), runs the
forward pass the way llama.cpp's `gpt2`, `llama`, `qwen2`, `qwen3`, `phi3`
and `gemma2` graphs compute it, and records every TransformerLens-named
hook point. The Go runtime is tested against the golden files this script
writes, never against itself.

Subcommands:
  trace  MODEL --ids 1,2,3 --out trace.npz
      Every hook point of one prompt plus its logits (layout below).
  logits MODEL --ids 1,2 --ids 3,4,5 --out logits.npz
      Logits of several prompts.
  pack-logits MODEL --ids 1,2 --ids 3,4,5 --full A.npz --full B.npz --out out.npz
      Repack full [seq, vocab] logits (one .npz with a "logits" array per
      prompt, e.g. from llama.cpp) into the golden layout below.
  patch  MODEL --clean-ids ... --corrupt-ids ... --answer-id N --wrong-id N --out patch.json
      Denoising activation patching (layout below).
  info   MODEL
      Print the configuration and the tensor table.

Logits layout, for prompt p = 0, 1, ... (a trace has one prompt and no _p
suffix):
  ids_p            int64 [seq]         token ids
  logits_last_p    float32 [vocab]     full-vocabulary logits at the last position
  logits_subset_p  float32 [seq, k]    logits at every position for subset_ids
  subset_ids       int64 [k]           k = 256 ids spread evenly over the vocabulary
The subset keeps the goldens small, because full logits at every position
take seq * vocab * 4 bytes.

Where the Llama-family architectures place their hook points:
  qwen3   attn.hook_q and hook_k after the per-head RMSNorm, before RoPE.
  gemma2  hook_embed after the sqrt(d_model) scaling; hook_attn_out and
          hook_mlp_out after the post-attention and post-MLP norms.
  gemma2  attn.hook_attn_scores after soft-capping; keys outside a
          sliding window are masked (-inf) like future keys.

Hook shapes (one sequence, no batch dimension): residual-stream hooks
[seq, d_model]; attn.hook_q, hook_rot_q and hook_z [seq, n_heads, d_head];
attn.hook_k, hook_rot_k and hook_v [seq, n_kv_heads, d_head];
attn.hook_attn_scores and hook_pattern [n_heads, seq_q, seq_k]; mlp hooks
[seq, d_mlp]; hook_scale [seq, 1]. Masked entries of hook_attn_scores (key
after query) are -inf, as in TransformerLens.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys

import numpy as np

# ---------------------------------------------------------------- GGUF reader

# GGUF metadata value types: id -> struct format (strings and arrays are
# handled separately).
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9

# ggml tensor types this reader dequantizes: id -> (name, values per block,
# bytes per block).
TYPE_F32, TYPE_F16, TYPE_Q8_0, TYPE_BF16 = 0, 1, 8, 30
_TENSOR_TYPES = {TYPE_F32: ("F32", 1, 4), TYPE_F16: ("F16", 1, 2), TYPE_Q8_0: ("Q8_0", 32, 34),
                 TYPE_BF16: ("BF16", 1, 2)}


class GGUFFile:
    """Metadata and tensors of one GGUF v2/v3 file.

    kv maps each key to its Python value (lists for arrays). tensors maps
    each tensor name to (ne, type, absolute offset), where ne is ggml's
    dimension order (ne[0] varies fastest), so the NumPy shape is ne
    reversed.
    """

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        self.pos = 0
        if self.data[:4] != b"GGUF":
            raise ValueError(f"{path}: missing GGUF magic")
        self.pos = 4
        version = self._unpack("<I")
        if version not in (2, 3):
            raise ValueError(f"{path}: unsupported GGUF version {version}")
        n_tensors = self._unpack("<Q")
        n_kv = self._unpack("<Q")
        self.kv = {}
        for _ in range(n_kv):
            key = self._string()
            self.kv[key] = self._value(self._unpack("<I"))
        infos = []
        for _ in range(n_tensors):
            name = self._string()
            n_dims = self._unpack("<I")
            ne = tuple(self._unpack("<Q") for _ in range(n_dims))
            ggml_type = self._unpack("<I")
            offset = self._unpack("<Q")
            infos.append((name, ne, ggml_type, offset))
        alignment = int(self.kv.get("general.alignment", 32))
        data_start = (self.pos + alignment - 1) // alignment * alignment
        self.tensors = {name: (ne, t, data_start + off) for name, ne, t, off in infos}

    def _unpack(self, fmt):
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def _string(self):
        n = self._unpack("<Q")
        s = self.data[self.pos:self.pos + n].decode("utf-8", errors="surrogateescape")
        self.pos += n
        return s

    def _value(self, vtype):
        if vtype == _GGUF_STRING:
            return self._string()
        if vtype == _GGUF_ARRAY:
            elem = self._unpack("<I")
            n = self._unpack("<Q")
            return [self._value(elem) for _ in range(n)]
        if vtype not in _SCALAR:
            raise ValueError(f"{self.path}: unknown metadata value type {vtype}")
        return self._unpack(_SCALAR[vtype])

    def type_name(self, name):
        return _TENSOR_TYPES.get(self.tensors[name][1], (f"type{self.tensors[name][1]}",))[0]

    def tensor(self, name):
        """Return the tensor dequantized to float64, in NumPy (row-major) shape."""
        ne, ggml_type, offset = self.tensors[name]
        if ggml_type not in _TENSOR_TYPES:
            raise ValueError(f"{self.path}: tensor {name}: type {ggml_type} not supported")
        type_name, per_block, block_bytes = _TENSOR_TYPES[ggml_type]
        count = int(np.prod(ne))
        if count % per_block:
            raise ValueError(f"{self.path}: tensor {name}: {count} values is not a multiple of {per_block}")
        nbytes = count // per_block * block_bytes
        raw = np.frombuffer(self.data, dtype=np.uint8, count=nbytes, offset=offset)
        if ggml_type == TYPE_F32:
            values = raw.view("<f4").astype(np.float64)
        elif ggml_type == TYPE_F16:
            values = raw.view("<f2").astype(np.float64)
        elif ggml_type == TYPE_BF16:
            values = (raw.view("<u2").astype(np.uint32) << 16).view("<f4").astype(np.float64)
        else:
            # Q8_0 block: float16 scale d, then 32 int8 quants; value = q * d.
            blocks = raw.reshape(-1, block_bytes)
            d = blocks[:, :2].copy().view("<f2").astype(np.float64)
            q = blocks[:, 2:].view(np.int8).astype(np.float64)
            values = (q * d).reshape(-1)
        return values.reshape(tuple(reversed(ne)))


# ---------------------------------------------------------------- model

ARCHS = ("gpt2", "llama", "qwen2", "qwen3", "phi3", "gemma2")

# Architectures whose RoPE is llama.cpp's NEOX type (llama_model_rope_type in
# src/llama-model.cpp): dimension i pairs with i + rope_dim/2.
NEOX_ROPE = ("qwen2", "qwen3", "phi3", "gemma2")


class Model:
    """Configuration and float64 weights of a GGUF of one of ARCHS."""

    def __init__(self, path):
        f = GGUFFile(path)
        self.path = path

        self.arch = f.kv.get("general.architecture")
        if self.arch not in ARCHS:
            raise SystemExit(f"{path}: architecture {self.arch!r} is not supported ({', '.join(ARCHS)})")
        a = self.arch
        self.n_layers = int(f.kv[f"{a}.block_count"])
        self.d_model = int(f.kv[f"{a}.embedding_length"])
        self.n_heads = int(f.kv[f"{a}.attention.head_count"])
        self.n_kv_heads = int(f.kv.get(f"{a}.attention.head_count_kv", self.n_heads))
        self.d_mlp = int(f.kv[f"{a}.feed_forward_length"])
        self.n_ctx = int(f.kv[f"{a}.context_length"])
        self.d_head = int(f.kv.get(f"{a}.attention.key_length", self.d_model // self.n_heads))
        if int(f.kv.get(f"{a}.attention.value_length", self.d_head)) != self.d_head:
            raise SystemExit(f"{path}: value_length differs from key_length, which this reference does not support")
        # Attention settings that only gemma2 changes: score scale, soft caps,
        # sliding window (0: none) on blocks where L % swa_period < swa_period - 1.
        self.attn_scale = 1.0 / math.sqrt(self.d_head)
        self.attn_soft_cap = self.final_soft_cap = 0.0
        self.window, self.swa_period = 0, 0
        if a == "gpt2":
            self.eps = float(f.kv["gpt2.attention.layer_norm_epsilon"])
        else:
            self.eps = float(f.kv[f"{a}.attention.layer_norm_rms_epsilon"])
            self.rope_dim = int(f.kv.get(f"{a}.rope.dimension_count", self.d_head))
            self.rope_base = float(f.kv.get(f"{a}.rope.freq_base", 10000.0))
            self.rope_base_swa = self.rope_base
            self.rope_neox = a in NEOX_ROPE
            if f.kv.get(f"{a}.rope.scaling.type", "none") != "none" and f.kv.get(f"{a}.rope.scaling.factor", 0) not in (0, 1):
                raise SystemExit(f"{path}: RoPE scaling is not supported by this reference")
        if a == "gemma2":
            # Defaults and the 27B (46-block) query scale as in llama.cpp's
            # src/models/gemma2.cpp.
            self.attn_soft_cap = float(f.kv.get("gemma2.attn_logit_softcapping", 50.0))
            self.final_soft_cap = float(f.kv.get("gemma2.final_logit_softcapping", 30.0))
            self.window = int(f.kv.get("gemma2.attention.sliding_window", 4096))
            self.swa_period = int(f.kv.get("gemma2.attention.sliding_window_pattern", 2))
            self.rope_base_swa = float(f.kv.get("gemma2.rope.freq_base_swa", self.rope_base))
            if self.n_layers == 46:
                self.attn_scale = 1.0 / math.sqrt(self.d_model // self.n_heads)

        unknown = sorted(set(f.tensors) - set(self.known_tensors()))
        if unknown:
            raise SystemExit(f"{path}: tensors this reference does not implement: {', '.join(unknown[:8])}")
        self.types = {name: f.type_name(name) for name in f.tensors}
        self.w = {name: f.tensor(name) for name in f.tensors}
        self.tied = "output.weight" not in self.w or a == "gemma2"
        if self.tied:
            self.w["output.weight"] = self.w["token_embd.weight"]
        self.vocab_size = self.w["token_embd.weight"].shape[0]

    def known_tensors(self):
        """Return the names of every tensor that the forward pass reads, optional biases included."""
        names = ["token_embd.weight", "output_norm.weight", "output.weight", "rope_freqs.weight"]
        if self.arch == "gpt2":
            names += ["position_embd.weight", "output_norm.bias"]
            with_bias = ["attn_norm", "attn_qkv", "attn_output", "ffn_norm", "ffn_up", "ffn_down"]
            weight_only = []
        elif self.arch == "phi3":
            with_bias = ["attn_qkv", "attn_output", "ffn_up", "ffn_down"]
            weight_only = ["attn_norm", "ffn_norm"]
        else:
            with_bias = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
            weight_only = ["attn_norm", "ffn_norm"]
            if self.arch == "qwen3":
                weight_only += ["attn_q_norm", "attn_k_norm"]
            if self.arch == "gemma2":
                names.remove("output.weight")
                weight_only += ["post_attention_norm", "post_ffw_norm"]
        for L in range(self.n_layers):
            names += [f"blk.{L}.{t}.{kind}" for t in with_bias for kind in ("weight", "bias")]
            names += [f"blk.{L}.{t}.weight" for t in weight_only]
        return names

    def config(self):
        c = dict(arch=self.arch, n_layers=self.n_layers, d_model=self.d_model, n_heads=self.n_heads,
                 n_kv_heads=self.n_kv_heads, d_head=self.d_head, d_mlp=self.d_mlp, n_ctx=self.n_ctx,
                 vocab_size=self.vocab_size, eps=self.eps, tied=self.tied)
        if self.arch != "gpt2":
            c.update(rope_dim=self.rope_dim, rope_base=self.rope_base, rope_neox=self.rope_neox)
        if self.arch == "gemma2":
            c.update(attn_scale=self.attn_scale, attn_soft_cap=self.attn_soft_cap,
                     final_soft_cap=self.final_soft_cap, window=self.window, swa_period=self.swa_period,
                     rope_base_swa=self.rope_base_swa)
        return c

    def sliding(self, L):
        """Return whether block L attends through the sliding window (llama.cpp's set_swa_pattern)."""
        return self.window > 0 and (self.swa_period == 0 or L % self.swa_period < self.swa_period - 1)


def gelu_tanh(x):
    """GELU, tanh approximation (Hendrycks and Gimpel, "Gaussian Error Linear Units", eq. 2)."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def softmax_rows(scores):
    """Softmax over the last axis; -inf entries get probability 0."""
    peak = scores.max(axis=-1, keepdims=True)
    e = np.exp(scores - peak)
    return e / e.sum(axis=-1, keepdims=True)


def rope(x, positions, rope_dim, base, neox=False, factors=None):
    """Rotate pair i < rope_dim/2 of each head by pos * base^(-2i/rope_dim),
    divided by factors[i] when the file has rope_freqs.weight (Llama 3.1's
    long-context RoPE, as ggml_rope_ext applies its freq_factors).
    The pair is (x[2i], x[2i+1]) for ggml's GGML_ROPE_TYPE_NORMAL, the rope
    type of llama.cpp's `llama` architecture, and (x[i], x[i + rope_dim/2])
    for GGML_ROPE_TYPE_NEOX (neox=True). Dims >= rope_dim pass through.

    x: [seq, heads, d_head]."""
    i = np.arange(rope_dim // 2, dtype=np.float64)
    freqs = base ** (-2.0 * i / rope_dim)
    if factors is not None:
        freqs = freqs / factors.astype(np.float64)
    theta = positions[:, None].astype(np.float64) * freqs  # [seq, rope_dim/2]
    cos = np.cos(theta)[:, None, :]
    sin = np.sin(theta)[:, None, :]
    out = x.copy()
    if neox:
        first, second = slice(0, rope_dim // 2), slice(rope_dim // 2, rope_dim)
    else:
        first, second = slice(0, rope_dim, 2), slice(1, rope_dim, 2)
    a, b = x[..., first], x[..., second]
    out[..., first] = a * cos - b * sin
    out[..., second] = a * sin + b * cos
    return out


class Recorder:
    """Calls the optional hook at each hook point and caches the result.

    hook(name, value) may return a replacement array; None keeps the value."""

    def __init__(self, hook=None):
        self.hook = hook
        self.cache = {}

    def __call__(self, name, value):
        if self.hook is not None:
            replaced = self.hook(name, value)
            if replaced is not None:
                value = replaced
        self.cache[name] = value
        return value


def layer_norm(rec, prefix, x, eps):
    """Return the LayerNorm output before its weight and bias: (x - mean) / sqrt(var + eps)."""
    centered = x - x.mean(axis=-1, keepdims=True)
    scale = rec(prefix + "hook_scale", np.sqrt((centered ** 2).mean(axis=-1, keepdims=True) + eps))
    return rec(prefix + "hook_normalized", centered / scale)


def rms_norm(rec, prefix, x, eps):
    """Return the RMSNorm output before its weight: x / sqrt(mean(x^2) + eps)."""
    scale = rec(prefix + "hook_scale", np.sqrt((x ** 2).mean(axis=-1, keepdims=True) + eps))
    return rec(prefix + "hook_normalized", x / scale)


def attention(rec, prefix, q, k, v, n_heads, n_kv_heads, scale=None, soft_cap=0.0, window=0):
    """Return hook_z [seq, n_heads, d_head] of causal attention over q
    [seq, n_heads, d_head] and k, v [seq, n_kv_heads, d_head]. Query head h
    reads KV head h // (n_heads / n_kv_heads), as ggml broadcasts.

    Scores are q.k * scale (default 1/sqrt(d_head)), then
    soft_cap * tanh(score / soft_cap) when soft_cap > 0. With window > 0,
    key j is masked for query i when i - j >= window, as llama.cpp's
    LLAMA_SWA_TYPE_STANDARD."""
    seq, _, d_head = q.shape
    if scale is None:
        scale = 1.0 / math.sqrt(d_head)
    group = n_heads // n_kv_heads
    k_per_head = np.repeat(k, group, axis=1)
    v_per_head = np.repeat(v, group, axis=1)
    scores = np.einsum("qhd,khd->hqk", q, k_per_head) * scale
    if soft_cap > 0:
        scores = soft_cap * np.tanh(scores / soft_cap)
    i, j = np.meshgrid(np.arange(seq), np.arange(seq), indexing="ij")
    masked = j > i
    if window > 0:
        masked |= i - j >= window
    scores = rec(prefix + "hook_attn_scores", np.where(masked[None], -np.inf, scores))
    pattern = rec(prefix + "hook_pattern", softmax_rows(scores))
    return rec(prefix + "hook_z", np.einsum("hqk,khd->qhd", pattern, v_per_head))


def gpt2_block(m, rec, L, x):
    w, s, p = m.w, f"blocks.{L}.", f"blk.{L}."
    seq, d = x.shape

    h = layer_norm(rec, s + "ln1.", x, m.eps) * w[p + "attn_norm.weight"] + w[p + "attn_norm.bias"]
    qkv = h @ w[p + "attn_qkv.weight"].T + w[p + "attn_qkv.bias"]  # [seq, 3*d], rows [Q; K; V]
    q = rec(s + "attn.hook_q", qkv[:, 0:d].reshape(seq, m.n_heads, m.d_head))
    k = rec(s + "attn.hook_k", qkv[:, d:2 * d].reshape(seq, m.n_heads, m.d_head))
    v = rec(s + "attn.hook_v", qkv[:, 2 * d:3 * d].reshape(seq, m.n_heads, m.d_head))
    z = attention(rec, s + "attn.", q, k, v, m.n_heads, m.n_heads)
    attn_out = rec(s + "hook_attn_out", z.reshape(seq, d) @ w[p + "attn_output.weight"].T + w[p + "attn_output.bias"])
    mid = rec(s + "hook_resid_mid", x + attn_out)

    h = layer_norm(rec, s + "ln2.", mid, m.eps) * w[p + "ffn_norm.weight"] + w[p + "ffn_norm.bias"]
    pre = rec(s + "mlp.hook_pre", h @ w[p + "ffn_up.weight"].T + w[p + "ffn_up.bias"])
    post = rec(s + "mlp.hook_post", gelu_tanh(pre))
    mlp_out = rec(s + "hook_mlp_out", post @ w[p + "ffn_down.weight"].T + w[p + "ffn_down.bias"])
    return mid + mlp_out


def linear(w, x, name):
    """Return x @ W.T (+ bias when the file has one) for the weight called name + ".weight"."""
    y = x @ w[name + ".weight"].T
    if name + ".bias" in w:
        y = y + w[name + ".bias"]
    return y


def plain_rms_norm(x, weight, eps):
    """Return an RMSNorm over the last axis times weight, without hook points."""
    return x / np.sqrt((x ** 2).mean(axis=-1, keepdims=True) + eps) * weight


def llama_block(m, rec, L, x, positions):
    """Run one block of llama, qwen2 (biased Q, K, V), qwen3 (per-head Q and
    K norms), phi3 (fused QKV and gate-up) or gemma2 (post-norms, GELU gate,
    soft caps, sliding window)."""
    w, s, p = m.w, f"blocks.{L}.", f"blk.{L}."
    seq, d = x.shape
    q_width, kv_width = m.n_heads * m.d_head, m.n_kv_heads * m.d_head

    h = rms_norm(rec, s + "ln1.", x, m.eps) * w[p + "attn_norm.weight"]
    if m.arch == "phi3":
        qkv = linear(w, h, p + "attn_qkv")  # rows [Q; K; V]
        q, k, v = qkv[:, :q_width], qkv[:, q_width:q_width + kv_width], qkv[:, q_width + kv_width:]
    else:
        q, k, v = linear(w, h, p + "attn_q"), linear(w, h, p + "attn_k"), linear(w, h, p + "attn_v")
    q = q.reshape(seq, m.n_heads, m.d_head)
    k = k.reshape(seq, m.n_kv_heads, m.d_head)
    if m.arch == "qwen3":
        q = plain_rms_norm(q, w[p + "attn_q_norm.weight"], m.eps)
        k = plain_rms_norm(k, w[p + "attn_k_norm.weight"], m.eps)
    q = rec(s + "attn.hook_q", q)
    k = rec(s + "attn.hook_k", k)
    v = rec(s + "attn.hook_v", v.reshape(seq, m.n_kv_heads, m.d_head))
    sliding = m.sliding(L)
    base = m.rope_base_swa if sliding else m.rope_base
    factors = m.w.get("rope_freqs.weight")
    q = rec(s + "attn.hook_rot_q", rope(q, positions, m.rope_dim, base, m.rope_neox, factors))
    k = rec(s + "attn.hook_rot_k", rope(k, positions, m.rope_dim, base, m.rope_neox, factors))
    z = attention(rec, s + "attn.", q, k, v, m.n_heads, m.n_kv_heads,
                  m.attn_scale, m.attn_soft_cap, m.window if sliding else 0)
    attn_out = linear(w, z.reshape(seq, q_width), p + "attn_output")
    if m.arch == "gemma2":
        attn_out = plain_rms_norm(attn_out, w[p + "post_attention_norm.weight"], m.eps)
    attn_out = rec(s + "hook_attn_out", attn_out)
    mid = rec(s + "hook_resid_mid", x + attn_out)

    h = rms_norm(rec, s + "ln2.", mid, m.eps) * w[p + "ffn_norm.weight"]
    if m.arch == "phi3":
        gate_up = linear(w, h, p + "ffn_up")  # rows [gate; up]
        gate, up = gate_up[:, :m.d_mlp], gate_up[:, m.d_mlp:]
    else:
        gate, up = linear(w, h, p + "ffn_gate"), linear(w, h, p + "ffn_up")
    gate = rec(s + "mlp.hook_pre", gate)
    up = rec(s + "mlp.hook_pre_linear", up)
    activation = gelu_tanh if m.arch == "gemma2" else silu
    post = rec(s + "mlp.hook_post", activation(gate) * up)
    mlp_out = linear(w, post, p + "ffn_down")
    if m.arch == "gemma2":
        mlp_out = plain_rms_norm(mlp_out, w[p + "post_ffw_norm.weight"], m.eps)
    mlp_out = rec(s + "hook_mlp_out", mlp_out)
    return mid + mlp_out


def forward(m, ids, hook=None):
    """Return (logits [seq, vocab], cache {hook name: array}) for one prompt."""
    ids = np.asarray(ids, dtype=np.int64)
    seq = len(ids)
    if seq == 0 or seq > m.n_ctx:
        raise SystemExit(f"prompt length {seq} is outside 1..{m.n_ctx} (the context length)")
    if ids.min() < 0 or ids.max() >= m.vocab_size:
        raise SystemExit(f"token id out of range 0..{m.vocab_size - 1}")
    rec = Recorder(hook)
    w = m.w
    positions = np.arange(seq)

    x = w["token_embd.weight"][ids]
    if m.arch == "gemma2":
        x = x * math.sqrt(m.d_model)
    x = rec("hook_embed", x)
    if m.arch == "gpt2":
        x = x + rec("hook_pos_embed", w["position_embd.weight"][positions])
    for L in range(m.n_layers):
        x = rec(f"blocks.{L}.hook_resid_pre", x)
        if m.arch == "gpt2":
            x = gpt2_block(m, rec, L, x)
        else:
            x = llama_block(m, rec, L, x, positions)
        x = rec(f"blocks.{L}.hook_resid_post", x)

    if m.arch == "gpt2":
        h = layer_norm(rec, "ln_final.", x, m.eps) * w["output_norm.weight"] + w["output_norm.bias"]
    else:
        h = rms_norm(rec, "ln_final.", x, m.eps) * w["output_norm.weight"]
    logits = h @ w["output.weight"].T
    if m.final_soft_cap > 0:
        logits = m.final_soft_cap * np.tanh(logits / m.final_soft_cap)
    return logits, rec.cache


# ---------------------------------------------------------------- activation patching

SITE_HOOKS = {
    "resid_pre": "blocks.{L}.hook_resid_pre",
    "attn_out": "blocks.{L}.hook_attn_out",
    "mlp_out": "blocks.{L}.hook_mlp_out",
    "z": "blocks.{L}.attn.hook_z",
}


def logit_difference(logits, answer_id, wrong_id):
    return float(logits[-1, answer_id] - logits[-1, wrong_id])


def patch_sweep(m, clean_ids, corrupt_ids, answer_id, wrong_id):
    """Run denoising activation patching and return (M_clean, M_corrupt, sites).

    Each site reruns the corrupted prompt with one clean activation written
    in. Its value is (M_patched - M_corrupt) / (M_clean - M_corrupt), where M
    is logit[answer] - logit[wrong] at the last position.

    resid_pre, attn_out and mlp_out: [n_layers][seq], one (layer, position)
    patched. z: [n_layers][n_heads], one head patched at every position."""
    if len(clean_ids) != len(corrupt_ids):
        raise SystemExit(f"clean has {len(clean_ids)} tokens and corrupt {len(corrupt_ids)}; they must be equal")
    clean_logits, clean_cache = forward(m, clean_ids)
    corrupt_logits, _ = forward(m, corrupt_ids)
    m_clean = logit_difference(clean_logits, answer_id, wrong_id)
    m_corrupt = logit_difference(corrupt_logits, answer_id, wrong_id)
    denominator = m_clean - m_corrupt
    if denominator == 0:
        raise SystemExit("clean and corrupt logit differences are equal; the normalized metric is undefined")

    sites = {}
    for site, pattern in SITE_HOOKS.items():
        rows = []
        for L in range(m.n_layers):
            name = pattern.format(L=L)
            clean = clean_cache[name]
            row = []
            for j in range(m.n_heads if site == "z" else len(corrupt_ids)):
                def write_clean(hook_name, value, name=name, clean=clean, j=j, site=site):
                    if hook_name != name:
                        return None
                    value = value.copy()
                    if site == "z":
                        value[:, j, :] = clean[:, j, :]
                    else:
                        value[j] = clean[j]
                    return value
                patched, _ = forward(m, corrupt_ids, write_clean)
                row.append((logit_difference(patched, answer_id, wrong_id) - m_corrupt) / denominator)
            rows.append(row)
        sites[site] = rows
    return m_clean, m_corrupt, sites


# ---------------------------------------------------------------- golden files

def subset_ids(vocab_size, k=256):
    """Return k vocabulary ids spread evenly over 0..vocab_size-1, both ends included."""
    return np.unique(np.linspace(0, vocab_size - 1, min(k, vocab_size)).round().astype(np.int64))


def logits_arrays(logits, ids, subset, suffix):
    return {
        "ids" + suffix: np.asarray(ids, dtype=np.int64),
        "logits_last" + suffix: logits[-1].astype(np.float32),
        "logits_subset" + suffix: logits[:, subset].astype(np.float32),
    }


def parse_ids(text):
    return [int(t) for t in text.replace(",", " ").split()]


def cmd_trace(a):
    m = Model(a.model)
    ids = parse_ids(a.ids)
    logits, cache = forward(m, ids)
    subset = subset_ids(m.vocab_size)
    out = {"subset_ids": subset}
    out.update(logits_arrays(logits, ids, subset, ""))
    for name, value in cache.items():
        out[name] = value.astype(np.float32)
    np.savez_compressed(a.out, **out)
    print(f"wrote {a.out}: {len(cache)} hooks, {len(ids)} tokens, {m.config()}")


def cmd_logits(a):
    m = Model(a.model)
    subset = subset_ids(m.vocab_size)
    out = {"subset_ids": subset}
    for p, text in enumerate(a.ids):
        ids = parse_ids(text)
        logits, _ = forward(m, ids)
        out.update(logits_arrays(logits, ids, subset, f"_{p}"))
    np.savez_compressed(a.out, **out)
    print(f"wrote {a.out}: {len(a.ids)} prompts")


def cmd_pack_logits(a):
    m = Model(a.model)
    if len(a.ids) != len(a.full):
        raise SystemExit(f"got {len(a.ids)} --ids and {len(a.full)} --full; give one --full per prompt")
    subset = subset_ids(m.vocab_size)
    out = {"subset_ids": subset}
    for p, (text, path) in enumerate(zip(a.ids, a.full)):
        ids = parse_ids(text)
        with np.load(path) as z:
            logits = z["logits"]
            if "tokens" in z and list(z["tokens"]) != ids:
                raise SystemExit(f"{path}: its tokens {list(z['tokens'])} differ from --ids {ids}")
        if logits.shape != (len(ids), m.vocab_size):
            raise SystemExit(f"{path}: logits shape {logits.shape}, expected {(len(ids), m.vocab_size)}")
        out.update(logits_arrays(logits.astype(np.float64), ids, subset, f"_{p}"))
    np.savez_compressed(a.out, **out)
    print(f"wrote {a.out}: {len(a.ids)} prompts")


def cmd_patch(a):
    m = Model(a.model)
    clean, corrupt = parse_ids(a.clean_ids), parse_ids(a.corrupt_ids)
    m_clean, m_corrupt, sites = patch_sweep(m, clean, corrupt, a.answer_id, a.wrong_id)
    out = dict(model=os.path.basename(a.model), arch=m.arch,
               metric="logit[answer] - logit[wrong] at the last position",
               clean_ids=clean, corrupt_ids=corrupt, answer_id=a.answer_id, wrong_id=a.wrong_id)
    for key in ("clean", "corrupt", "answer", "wrong"):
        text = getattr(a, key + "_text")
        if text is not None:
            out[key + "_text"] = text
    out.update(n_layers=m.n_layers, n_heads=m.n_heads, seq=len(clean),
               clean_value=m_clean, corrupt_value=m_corrupt, sites=sites)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {a.out}: M_clean {m_clean:.6f}, M_corrupt {m_corrupt:.6f}")


def cmd_info(a):
    m = Model(a.model)
    print(json.dumps(m.config()))
    for name, t in m.types.items():
        print(f"{name}\t{t}\t{list(m.w[name].shape)}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("trace", help="every hook point of one prompt")
    p.add_argument("model")
    p.add_argument("--ids", required=True, help="token ids, comma or space separated")
    p.add_argument("--out", required=True)
    p.set_defaults(run=cmd_trace)

    p = sub.add_parser("logits", help="logits of several prompts")
    p.add_argument("model")
    p.add_argument("--ids", action="append", required=True, help="token ids of one prompt; repeat per prompt")
    p.add_argument("--out", required=True)
    p.set_defaults(run=cmd_logits)

    p = sub.add_parser("pack-logits", help="repack full logits (e.g. llama.cpp's) into the golden layout")
    p.add_argument("model")
    p.add_argument("--ids", action="append", required=True)
    p.add_argument("--full", action="append", required=True, help=".npz with logits [seq, vocab], one per --ids")
    p.add_argument("--out", required=True)
    p.set_defaults(run=cmd_pack_logits)

    p = sub.add_parser("patch", help="denoising activation patching")
    p.add_argument("model")
    p.add_argument("--clean-ids", required=True)
    p.add_argument("--corrupt-ids", required=True)
    p.add_argument("--answer-id", type=int, required=True)
    p.add_argument("--wrong-id", type=int, required=True)
    for key in ("clean", "corrupt", "answer", "wrong"):
        p.add_argument(f"--{key}-text", help=f"{key} text, stored in the output for readers")
    p.add_argument("--out", required=True)
    p.set_defaults(run=cmd_patch)

    p = sub.add_parser("info", help="configuration and tensor table")
    p.add_argument("model")
    p.set_defaults(run=cmd_info)

    a = ap.parse_args(argv)
    a.run(a)


if __name__ == "__main__":
    main()
