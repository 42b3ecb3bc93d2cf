// Package transformer runs GPT-2 and Llama-family language models (llama,
// qwen2, qwen3, phi3, gemma2) from GGUF files in float32. It has a forward
// hook at every TransformerLens-named point (see package hooks), a KV cache
// for incremental decoding, batched runs with left padding, and generation.
package transformer

import (
	"fmt"

	"github.com/interp-go/interp/gguf"
	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer/internal/kernels"
	"github.com/interp-go/interp/transformer/tokenizer"
)

// Model is a loaded model: configuration, tokenizer and weights. Its weights
// may alias the memory-mapped file, so a Model must be closed after use and
// not used after Close. A Model is safe for concurrent runs.
type Model struct {
	Config
	Tokenizer *tokenizer.Tokenizer

	file        *gguf.File
	arch        architecture
	ropeFactors []float32     // per-pair RoPE frequency divisors, or nil
	points      []hooks.Point // every hook point of this model, in forward order
	names       []string      // names[i] is points[i].Name()

	numerics Numerics // rounding of products and GELU, see SetNumerics

	// decoders holds the blocks of architectures built on decoderBlock,
	// built once at load so that a forward pass does not build them per
	// layer and call. The weights never change after load.
	decoders []*decoderBlock
	// unembed is the unembedding that arch.final returns, copied once at
	// load so that a forward pass can pass its address to the products
	// without a copy on the heap per call.
	unembed *matrix
}

// decoderArchitecture is an architecture whose blocks are decoderBlocks.
type decoderArchitecture interface {
	// decoder returns block l.
	decoder(l int) *decoderBlock
}

// architecture is one model family's weights and forward pass over blocks.
type architecture interface {
	// hasKind reports whether the architecture has hook points of kind k.
	hasKind(k hooks.Kind) bool
	// embed writes the input embedding of the run's tokens into r.resid.
	embed(r *run)
	// block runs block l on r.resid in place.
	block(r *run, l int)
	// final returns the final norm and the unembedding.
	final() (norm, matrix)
}

// Load opens a GGUF model file and prepares it to run.
func Load(path string) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	m, err := newModel(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return m, nil
}

// LoadBytes prepares a model from a GGUF file held in memory, such as one
// embedded in the program. name stands for the file in error messages. The
// weights alias data, which must not change while the model is in use.
func LoadBytes(name string, data []byte) (*Model, error) {
	f, err := gguf.OpenBytes(name, data)
	if err != nil {
		return nil, err
	}
	return newModel(f)
}

func newModel(f *gguf.File) (*Model, error) {
	arch, ok := f.String("general.architecture")
	if !ok {
		return nil, fmt.Errorf("transformer: %s: missing metadata key general.architecture", f.Path)
	}
	switch arch {
	case "gpt2", "llama", "qwen2", "qwen3", "phi3", "gemma2":
	default:
		return nil, unsupportedArch(f.Path, arch)
	}
	cfg, err := readConfig(f, arch)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.New(f)
	if err != nil {
		return nil, fmt.Errorf("transformer: %s: %w", f.Path, err)
	}
	cfg.VocabSize = tok.VocabSize()

	m := &Model{Config: cfg, Tokenizer: tok, file: f}
	switch arch {
	case "gpt2":
		w := &gpt2Weights{}
		err = bindWeights(f, cfg, w)
		m.arch = w
	case "llama":
		w := &llamaWeights{}
		err = bindWeights(f, cfg, w)
		m.arch = w
	case "qwen2":
		w := &qwen2Weights{}
		err = bindWeights(f, cfg, w)
		m.arch = w
	case "qwen3":
		w := &qwen3Weights{}
		err = bindWeights(f, cfg, w)
		m.arch = w
	case "phi3":
		w := &phi3Weights{}
		err = bindPhi3(f, cfg, w)
		m.arch = w
	case "gemma2":
		w := &gemma2Weights{}
		err = bindWeights(f, cfg, w)
		m.arch = w
	}
	if err != nil {
		return nil, err
	}
	if m.ropeFactors, err = readRopeFactors(f, cfg); err != nil {
		return nil, err
	}
	_, unembed := m.arch.final()
	m.unembed = &unembed
	if d, ok := m.arch.(decoderArchitecture); ok {
		m.decoders = make([]*decoderBlock, cfg.NLayers)
		for l := range m.decoders {
			m.decoders[l] = d.decoder(l)
		}
	}
	m.points, m.names = hookPoints(cfg.NLayers, m.arch)
	return m, nil
}

// readRopeFactors reads rope_freqs.weight, the per-pair frequency divisors
// that Llama 3.1 and later files carry for their long-context RoPE
// scaling, or returns nil when the file has none.
func readRopeFactors(f *gguf.File, c Config) ([]float32, error) {
	const name = "rope_freqs.weight"
	info, ok := f.Tensor(name)
	if !ok {
		return nil, nil
	}
	if c.RopeDim == 0 || info.NumElements() != uint64(c.RopeDim/2) {
		return nil, fmt.Errorf("transformer: %s: tensor %q has dimensions %v, want [%d] (half the RoPE dimensions)", f.Path, name, info.Dims, c.RopeDim/2)
	}
	factors, err := f.TensorFloat32(name)
	if err != nil {
		return nil, fmt.Errorf("transformer: %s: %w", f.Path, err)
	}
	for i, v := range factors {
		if !(v > 0) {
			return nil, fmt.Errorf("transformer: %s: tensor %q: factor %d is %g, want a positive number", f.Path, name, i, v)
		}
	}
	return factors, nil
}

// Numerics names a choice of rounding for products with encoded weights
// and for GELU. On float32 files the choice moves logits by about 1e-3
// (up to 5e-3 on the test fixtures), and by more on quantized ones. That
// matters when comparing with a reference.
type Numerics int

const (
	// NumericsDefault follows llama.cpp's CPU backend where a weight is
	// encoded (quantized, F16 or BF16): each activation row is rounded to
	// the weight type's activation format before the product, and GELU
	// after an encoded projection is looked up in llama.cpp's F16 table.
	// Where weights are F32 it computes in plain float32, as PyTorch does.
	NumericsDefault Numerics = iota
	// NumericsLlamaCpp follows llama.cpp's CPU backend everywhere: GELU is
	// looked up in its F16 table also after F32 projections. On the F32
	// files measured this narrows the gap to llama.cpp's logits from about
	// 1e-3 to 1e-5–4e-4. Where a float32 sum in another order moves a GELU
	// input across an f16 step of the table, a logit still moves by up to
	// about 2e-3.
	NumericsLlamaCpp
	// NumericsFloat keeps activations float32 against the decoded weights
	// and computes GELU exactly: the exact product of the stored weights,
	// as a float64 reference computes it.
	NumericsFloat
)

var numericsNames = [...]string{
	NumericsDefault:  "default",
	NumericsLlamaCpp: "llamacpp",
	NumericsFloat:    "float",
}

// String returns the name ParseNumerics accepts.
func (n Numerics) String() string {
	if n >= 0 && int(n) < len(numericsNames) {
		return numericsNames[n]
	}
	return fmt.Sprintf("Numerics(%d)", int(n))
}

// ParseNumerics returns the Numerics named s: default, llamacpp or float.
func ParseNumerics(s string) (Numerics, error) {
	for n, name := range numericsNames {
		if s == name {
			return Numerics(n), nil
		}
	}
	return 0, fmt.Errorf("unknown numerics %q: want default, llamacpp or float", s)
}

// SetNumerics selects how products with encoded weights and GELU round
// (see Numerics). Set it before running the model, not during runs.
func (m *Model) SetNumerics(n Numerics) { m.numerics = n }

// Numerics returns the model's choice of rounding.
func (m *Model) Numerics() Numerics { return m.numerics }

// SetFloatActivations selects NumericsFloat (on) or NumericsDefault (off).
func (m *Model) SetFloatActivations(on bool) {
	m.numerics = NumericsDefault
	if on {
		m.numerics = NumericsFloat
	}
}

// product sets dst = x·wᵀ for rows of x, with the model's choice of
// activation rounding.
func (m *Model) product(dst, x []float32, rows int, w *matrix) {
	if m.numerics == NumericsFloat {
		kernels.MatMulFloat(dst, x, rows, &w.Matrix)
		return
	}
	kernels.MatMul(dst, x, rows, &w.Matrix)
}

// gelu sets out = GELU(x) for an MLP whose up (or gate) projection is w:
// looked up in llama.cpp's F16 table where the model follows llama.cpp's
// numerics for w (see Numerics), otherwise the exact tanh approximation.
// The backward pass differentiates the tanh approximation in both cases.
func (m *Model) gelu(out, x []float32, w *matrix) {
	if m.numerics == NumericsLlamaCpp || m.numerics == NumericsDefault && w.Type != gguf.TypeF32 {
		kernels.GELUHalf(out, x)
		return
	}
	kernels.GELU(out, x)
}

// Close releases the model file's mapping.
func (m *Model) Close() error { return m.file.Close() }

// File returns the model's GGUF file, for inspection.
func (m *Model) File() *gguf.File { return m.file }

// HookNames returns the names of every hook point of the model, in the
// order a forward pass reaches them.
func (m *Model) HookNames() []string { return append([]string(nil), m.names...) }

// hookPoints lists the model's points in forward order.
func hookPoints(nLayers int, a architecture) ([]hooks.Point, []string) {
	var points []hooks.Point
	add := func(layer int, k hooks.Kind) {
		if a.hasKind(k) {
			points = append(points, hooks.Point{Layer: layer, Kind: k})
		}
	}
	add(-1, hooks.Embed)
	add(-1, hooks.PosEmbed)
	for l := 0; l < nLayers; l++ {
		for k := hooks.ResidPre; k <= hooks.ResidPost; k++ {
			add(l, k)
		}
	}
	add(-1, hooks.LnFinalScale)
	add(-1, hooks.LnFinalNormalized)
	names := make([]string, len(points))
	for i, p := range points {
		names[i] = p.Name()
	}
	return points, names
}

// pointIndex returns a dense index for p among a model of nLayers blocks.
func pointIndex(nLayers int, p hooks.Point) int {
	if p.Kind.ModelLevel() {
		return nLayers*int(hooks.NumKinds) + int(p.Kind)
	}
	return p.Layer*int(hooks.NumKinds) + int(p.Kind)
}
