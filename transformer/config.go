package transformer

import (
	"fmt"
	"strings"

	"github.com/interp-go/interp/gguf"
)

// Config is a model's shape and numeric settings, read from GGUF metadata.
type Config struct {
	Arch      string  // general.architecture: "gpt2" or "llama"
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
	}
	switch arch {
	case "gpt2":
		c.NormEps = float32(r.float("attention.layer_norm_epsilon", 1e-5))
	case "llama":
		c.NormEps = float32(r.float("attention.layer_norm_rms_epsilon", 1e-5))
		c.RopeDim = r.int("rope.dimension_count", c.DHead)
		c.RopeBase = r.float("rope.freq_base", 10000)
	}
	if r.err != nil {
		return c, r.err
	}
	return c, c.check(f.Path)
}

func (c Config) check(path string) error {
	bad := func(field string, value any, why string) error {
		return fmt.Errorf("transformer: %s: %s.%s = %v: %s", path, c.Arch, field, value, why)
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
	// NOTE: both supported architectures have d_model = n_heads·d_head;
	// architectures with a separate key_length will relax this.
	if c.DHead*c.NHeads != c.DModel {
		return bad("attention.head_count", c.NHeads, fmt.Sprintf("must divide the embedding length %d", c.DModel))
	}
	if c.RopeDim < 0 || c.RopeDim > c.DHead || c.RopeDim%2 != 0 {
		return bad("rope.dimension_count", c.RopeDim, fmt.Sprintf("must be even and at most the head width %d", c.DHead))
	}
	if !(c.NormEps > 0) {
		return bad("norm epsilon", c.NormEps, "must be positive")
	}
	if c.RopeDim > 0 && !(c.RopeBase > 0) {
		return bad("rope.freq_base", c.RopeBase, "must be positive")
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
var supportedArchs = []string{"gpt2", "llama"}

// ErrUnsupportedArch is wrapped by the error Load returns for an
// architecture the runtime does not implement.
var ErrUnsupportedArch = fmt.Errorf("unsupported architecture")

func unsupportedArch(path, arch string) error {
	return fmt.Errorf("transformer: %s: %w %q (supported: %s)", path, ErrUnsupportedArch, arch, strings.Join(supportedArchs, ", "))
}
