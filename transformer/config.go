package transformer

import (
	"fmt"
	"math"
	"strings"

	"github.com/interp-go/interp/gguf"
)

// Config is a model's shape and numeric settings, read from GGUF metadata.
type Config struct {
	Arch      string  // general.architecture, one of supportedArchs
	NLayers   int     // transformer blocks
	DModel    int     // residual stream width
	NHeads    int     // query heads
	NKVHeads  int     // key and value heads (fewer than NHeads under grouped-query attention)
	DHead     int     // width of one head
	DMLP      int     // MLP hidden width
	NCtx      int     // context length the model was trained with
	VocabSize int     // rows of the token embedding
	NormEps   float32 // epsilon of LayerNorm or RMSNorm
	RopeDim   int     // leading dimensions of each head that RoPE rotates (0 without RoPE)
	RopeBase  float64 // RoPE frequency base
	RopeScale float64 // RoPE position scale, 1/rope.scaling.factor under linear scaling, else 1

	// RopeNeox selects llama.cpp's NEOX rotation, which pairs dimension i
	// with i + RopeDim/2, in place of the adjacent pairs (2i, 2i+1) of the
	// llama architecture.
	RopeNeox bool

	// AttnScale multiplies q·k before soft-capping and the softmax,
	// 1/sqrt(d_head) unless the architecture sets another value.
	AttnScale float32
	// AttnSoftCap, when positive, replaces each scaled attention score s by
	// AttnSoftCap·tanh(s/AttnSoftCap) before the mask and the softmax.
	AttnSoftCap float32
	// FinalSoftCap, when positive, replaces each logit y by
	// FinalSoftCap·tanh(y/FinalSoftCap).
	FinalSoftCap float32

	// SlidingWindow, when positive, limits the blocks that SlidingLayer
	// selects to keys less than SlidingWindow positions before the query.
	SlidingWindow int
	// SlidingPeriod selects the sliding-window blocks as llama.cpp's
	// set_swa_pattern does: block l slides when l % SlidingPeriod <
	// SlidingPeriod−1, so 2 means every even block and 0 every block.
	SlidingPeriod int
	// RopeBaseSliding is the RoPE frequency base of sliding-window blocks.
	RopeBaseSliding float64
}

// SlidingLayer reports whether block l attends through a sliding window.
func (c Config) SlidingLayer(l int) bool {
	if c.SlidingWindow <= 0 {
		return false
	}
	return c.SlidingPeriod == 0 || l%c.SlidingPeriod < c.SlidingPeriod-1
}

// ropeBase returns the RoPE frequency base of block l.
func (c Config) ropeBase(l int) float64 {
	if c.SlidingLayer(l) {
		return c.RopeBaseSliding
	}
	return c.RopeBase
}

// maxDimension bounds every dimension read from metadata, so that a crafted
// file cannot make the runtime allocate absurd buffers. Real models stay far
// below it.
const maxDimension = 1 << 24

// readConfig reads the hyperparameters of architecture arch from f and
// checks them for consistency.
func readConfig(f *gguf.File, arch string) (Config, error) {
	c := Config{Arch: arch}
	r := metaReader{f: f, arch: arch}
	c.NLayers = r.int("block_count", 0)
	c.DModel = r.int("embedding_length", 0)
	c.DMLP = r.int("feed_forward_length", 0)
	c.NCtx = r.int("context_length", 0)
	c.NHeads = r.int("attention.head_count", 0)
	c.NKVHeads = r.int("attention.head_count_kv", c.NHeads)
	if r.err != nil {
		return c, r.err
	}
	if c.NHeads > 0 {
		c.DHead = r.int("attention.key_length", c.DModel/c.NHeads)
		if v := r.int("attention.value_length", c.DHead); v != c.DHead && r.err == nil {
			r.err = fmt.Errorf("transformer: %s: %s.attention.value_length = %d differs from the key length %d, which the runtime does not support", f.Path, arch, v, c.DHead)
		}
	}
	if arch == "gpt2" {
		c.NormEps = float32(r.float("attention.layer_norm_epsilon", 1e-5))
	} else {
		c.NormEps = float32(r.float("attention.layer_norm_rms_epsilon", 1e-5))
		c.RopeDim = r.int("rope.dimension_count", c.DHead)
		c.RopeBase = r.float("rope.freq_base", 10000)
		c.RopeBaseSliding = c.RopeBase
		c.RopeScale = r.ropeScale()
	}
	if c.NHeads > 0 && c.DHead > 0 {
		c.AttnScale = float32(1 / math.Sqrt(float64(c.DHead)))
	}
	switch arch {
	case "qwen2", "qwen3", "phi3":
		c.RopeNeox = true
	case "gemma2":
		c.RopeNeox = true
		readGemma2Config(&c, &r)
	}
	if r.err != nil {
		return c, r.err
	}
	return c, c.check(f)
}

// readGemma2Config reads gemma2's soft-capping, sliding-window and query
// scale settings. Its defaults are llama.cpp's (src/models/gemma2.cpp,
// commit 80fb11a): soft caps 50 (attention) and 30 (logits), and a window
// of 4096 on every even block. Queries are scaled by 1/sqrt(d_head), except
// in the 46-block (27B) model, which scales by 1/sqrt(d_model/n_heads).
func readGemma2Config(c *Config, r *metaReader) {
	c.AttnSoftCap = float32(r.float("attn_logit_softcapping", 50))
	c.FinalSoftCap = float32(r.float("final_logit_softcapping", 30))
	c.SlidingWindow = r.int("attention.sliding_window", 4096)
	c.SlidingPeriod = r.int("attention.sliding_window_pattern", 2)
	c.RopeBaseSliding = r.float("rope.freq_base_swa", c.RopeBase)
	if c.NLayers == 46 && c.NHeads > 0 {
		c.AttnScale = float32(1 / math.Sqrt(float64(c.DModel/c.NHeads)))
	}
}

// ropeScale returns the RoPE position scale of rope.scaling.type and
// rope.scaling.factor: 1/factor for linear scaling, 1 without scaling.
func (r *metaReader) ropeScale() float64 {
	kind, ok := r.f.String(r.arch + ".rope.scaling.type")
	if !ok {
		kind = "linear" // llama.cpp's default; without a factor it is no scaling
	}
	factor := r.float("rope.scaling.factor", 0)
	switch {
	case kind == "none" || factor == 0 || factor == 1:
		return 1
	case kind == "linear" && factor > 0:
		return 1 / factor
	}
	if r.err == nil {
		// TODO: YaRN and LongRoPE scaling are not implemented.
		r.err = fmt.Errorf("transformer: %s: %s.rope.scaling.type = %q with factor %g is not supported (supported: none, linear)", r.f.Path, r.arch, kind, factor)
	}
	return 1
}

func (c Config) check(f *gguf.File) error {
	bad := func(field string, value any, why string) error {
		return fmt.Errorf("transformer: %s: %s.%s = %v: %s", f.Path, c.Arch, field, value, why)
	}
	for _, d := range []struct {
		field string
		value int
	}{
		{"block_count", c.NLayers}, {"embedding_length", c.DModel}, {"feed_forward_length", c.DMLP},
		{"context_length", c.NCtx}, {"attention.head_count", c.NHeads}, {"attention.head_count_kv", c.NKVHeads},
	} {
		if d.value <= 0 || d.value > maxDimension {
			return bad(d.field, d.value, fmt.Sprintf("must be in [1, %d]", maxDimension))
		}
	}
	if c.NHeads%c.NKVHeads != 0 {
		return bad("attention.head_count_kv", c.NKVHeads, fmt.Sprintf("must divide the head count %d", c.NHeads))
	}
	// A file without attention.key_length has d_head = d_model/n_heads, so
	// n_heads must divide d_model. With the key it may differ, as in
	// gemma2, qwen3 and Mistral Nemo.
	_, hasKeyLength := f.Value(c.Arch + ".attention.key_length")
	if !hasKeyLength && c.DHead*c.NHeads != c.DModel {
		return bad("attention.head_count", c.NHeads, fmt.Sprintf("must divide the embedding length %d", c.DModel))
	}
	if c.DHead <= 0 || c.DHead > maxDimension {
		return bad("attention.key_length", c.DHead, fmt.Sprintf("must be in [1, %d]", maxDimension))
	}
	if c.RopeDim < 0 || c.RopeDim > c.DHead || c.RopeDim%2 != 0 {
		return bad("rope.dimension_count", c.RopeDim, fmt.Sprintf("must be even and at most the head width %d", c.DHead))
	}
	if !(c.NormEps > 0) {
		key := "attention.layer_norm_rms_epsilon"
		if c.Arch == "gpt2" {
			key = "attention.layer_norm_epsilon"
		}
		return bad(key, c.NormEps, "must be positive")
	}
	if c.RopeDim > 0 && !(c.RopeBase > 0) {
		return bad("rope.freq_base", c.RopeBase, "must be positive")
	}
	if c.RopeDim > 0 && !(c.RopeBaseSliding > 0) {
		return bad("rope.freq_base_swa", c.RopeBaseSliding, "must be positive")
	}
	if c.AttnSoftCap < 0 || math.IsNaN(float64(c.AttnSoftCap)) {
		return bad("attn_logit_softcapping", c.AttnSoftCap, "must not be negative")
	}
	if c.FinalSoftCap < 0 || math.IsNaN(float64(c.FinalSoftCap)) {
		return bad("final_logit_softcapping", c.FinalSoftCap, "must not be negative")
	}
	return nil
}

// metaReader reads "<arch>.<key>" values, remembering the first error.
type metaReader struct {
	f    *gguf.File
	arch string
	err  error
}

func (r *metaReader) int(key string, def int) int {
	full := r.arch + "." + key
	if _, present := r.f.Value(full); !present {
		if def == 0 && r.err == nil {
			r.err = fmt.Errorf("transformer: %s: missing metadata key %s", r.f.Path, full)
		}
		return def
	}
	v, ok := r.f.Uint(full)
	if !ok || v > maxDimension {
		if r.err == nil {
			val, _ := r.f.Value(full)
			r.err = fmt.Errorf("transformer: %s: metadata key %s = %v: want an integer in [0, %d]", r.f.Path, full, val, maxDimension)
		}
		return def
	}
	return int(v)
}

func (r *metaReader) float(key string, def float64) float64 {
	full := r.arch + "." + key
	if _, present := r.f.Value(full); !present {
		return def
	}
	v, ok := r.f.Float(full)
	if !ok && r.err == nil {
		val, _ := r.f.Value(full)
		r.err = fmt.Errorf("transformer: %s: metadata key %s = %v: want a number", r.f.Path, full, val)
	}
	return v
}

// supportedArchs lists the architectures the runtime implements.
var supportedArchs = []string{"gpt2", "llama", "qwen2", "qwen3", "phi3", "gemma2"}

// ErrUnsupportedArch is wrapped by the error Load returns for an
// architecture the runtime does not implement.
var ErrUnsupportedArch = fmt.Errorf("unsupported architecture")

func unsupportedArch(path, arch string) error {
	return fmt.Errorf("transformer: %s: %w %q (supported: %s)", path, ErrUnsupportedArch, arch, strings.Join(supportedArchs, ", "))
}
