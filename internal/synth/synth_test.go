package synth

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// vocabDir is the folder of llama.cpp's vocab-only GGUF files on the
// development machines. A fresh clone has no such folder, so the tests that
// need it skip.
var vocabDir = filepath.Join("..", "..", "..", "shared", "models", "vocab")

func tinyGPT2() Options {
	return Options{Arch: ArchGPT2, NLayers: 2, DModel: 64, NHeads: 4, DMLP: 128, NCtx: 32, Seed: 7, VocabSize: 300}
}

func tinyLlama() Options {
	return Options{Arch: ArchLlama, NLayers: 2, DModel: 64, NHeads: 4, NKVHeads: 2, DMLP: 96, NCtx: 32,
		RopeDim: 16, RopeBase: 10000, Seed: 7, VocabSize: 300}
}

func writeAndOpen(t *testing.T, opts Options) *gguf.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.gguf")
	if err := Write(path, opts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatalf("gguf.Open: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func tensorIndex(f *gguf.File) map[string]gguf.TensorInfo {
	index := map[string]gguf.TensorInfo{}
	for _, ti := range f.Tensors {
		index[ti.Name] = ti
	}
	return index
}

// checkTensors compares the file's tensor index with want (name -> dims
// in GGUF order, ne0 first) and the types with types.
func checkTensors(t *testing.T, f *gguf.File, want map[string][]uint64, types map[string]gguf.Type) {
	t.Helper()
	index := tensorIndex(f)
	if len(index) != len(want) {
		t.Errorf("file has %d tensors, want %d", len(index), len(want))
	}
	for name, dims := range want {
		ti, ok := index[name]
		if !ok {
			t.Errorf("tensor %s missing", name)
			continue
		}
		if !slices.Equal(ti.Dims, dims) {
			t.Errorf("tensor %s dims %v, want %v", name, ti.Dims, dims)
		}
		if typ, ok := types[name]; ok && ti.Type != typ {
			t.Errorf("tensor %s type %v, want %v", name, ti.Type, typ)
		}
	}
}

func checkUint(t *testing.T, f *gguf.File, key string, want uint64) {
	t.Helper()
	got, ok := f.Uint(key)
	if !ok {
		t.Errorf("key %s missing or not an integer", key)
	} else if got != want {
		t.Errorf("key %s = %d, want %d", key, got, want)
	}
}

func checkFloat(t *testing.T, f *gguf.File, key string, want float32) {
	t.Helper()
	v, ok := f.Value(key)
	if !ok {
		t.Errorf("key %s missing", key)
	} else if got, isFloat := v.(float32); !isFloat || got != want {
		t.Errorf("key %s = %v (%T), want float32 %v", key, v, v, want)
	}
}

func TestWriteGPT2Layout(t *testing.T) {
	f := writeAndOpen(t, tinyGPT2())

	if arch, _ := f.String("general.architecture"); arch != "gpt2" {
		t.Errorf("general.architecture = %q, want gpt2", arch)
	}
	checkUint(t, f, "gpt2.context_length", 32)
	checkUint(t, f, "gpt2.embedding_length", 64)
	checkUint(t, f, "gpt2.feed_forward_length", 128)
	checkUint(t, f, "gpt2.block_count", 2)
	checkUint(t, f, "gpt2.attention.head_count", 4)
	checkFloat(t, f, "gpt2.attention.layer_norm_epsilon", 1e-5)
	checkUint(t, f, "general.file_type", 0)

	want := map[string][]uint64{
		"token_embd.weight":    {64, 300},
		"position_embd.weight": {64, 32},
		"output_norm.weight":   {64},
		"output_norm.bias":     {64},
		"output.weight":        {64, 300},
	}
	for l := range 2 {
		p := "blk." + strconv.Itoa(l) + "."
		want[p+"attn_norm.weight"] = []uint64{64}
		want[p+"attn_norm.bias"] = []uint64{64}
		want[p+"attn_qkv.weight"] = []uint64{64, 192}
		want[p+"attn_qkv.bias"] = []uint64{192}
		want[p+"attn_output.weight"] = []uint64{64, 64}
		want[p+"attn_output.bias"] = []uint64{64}
		want[p+"ffn_norm.weight"] = []uint64{64}
		want[p+"ffn_norm.bias"] = []uint64{64}
		want[p+"ffn_up.weight"] = []uint64{64, 128}
		want[p+"ffn_up.bias"] = []uint64{128}
		want[p+"ffn_down.weight"] = []uint64{128, 64}
		want[p+"ffn_down.bias"] = []uint64{64}
	}
	checkTensors(t, f, want, nil)
}

func TestWriteLlamaLayout(t *testing.T) {
	opts := tinyLlama()
	opts.MatrixType = gguf.TypeQ8_0
	opts.EmbedType = gguf.TypeF16
	opts.Tied = true
	f := writeAndOpen(t, opts)

	checkUint(t, f, "llama.context_length", 32)
	checkUint(t, f, "llama.embedding_length", 64)
	checkUint(t, f, "llama.feed_forward_length", 96)
	checkUint(t, f, "llama.block_count", 2)
	checkUint(t, f, "llama.attention.head_count", 4)
	checkUint(t, f, "llama.attention.head_count_kv", 2)
	checkUint(t, f, "llama.rope.dimension_count", 16)
	checkFloat(t, f, "llama.rope.freq_base", 10000)
	checkFloat(t, f, "llama.attention.layer_norm_rms_epsilon", 1e-5)
	checkUint(t, f, "general.file_type", 7)

	want := map[string][]uint64{
		"token_embd.weight":  {64, 300},
		"output_norm.weight": {64},
	}
	types := map[string]gguf.Type{
		"token_embd.weight":  gguf.TypeF16,
		"output_norm.weight": gguf.TypeF32,
	}
	for l := range 2 {
		p := "blk." + strconv.Itoa(l) + "."
		want[p+"attn_norm.weight"] = []uint64{64}
		want[p+"attn_q.weight"] = []uint64{64, 64}
		want[p+"attn_k.weight"] = []uint64{64, 32}
		want[p+"attn_v.weight"] = []uint64{64, 32}
		want[p+"attn_output.weight"] = []uint64{64, 64}
		want[p+"ffn_norm.weight"] = []uint64{64}
		want[p+"ffn_gate.weight"] = []uint64{64, 96}
		want[p+"ffn_up.weight"] = []uint64{64, 96}
		want[p+"ffn_down.weight"] = []uint64{96, 64}
		types[p+"attn_norm.weight"] = gguf.TypeF32
		types[p+"attn_q.weight"] = gguf.TypeQ8_0
		types[p+"ffn_down.weight"] = gguf.TypeQ8_0
	}
	checkTensors(t, f, want, types)
}

// TestWriteFamilyLayouts checks the tensors that set each Llama-family
// architecture apart, with head width 32 (attention.key_length) so that
// n_heads·d_head = 128 differs from d_model = 64.
func TestWriteFamilyLayouts(t *testing.T) {
	tests := []struct {
		arch    string
		present map[string][]uint64 // tensors of block 0 (and the model), GGUF dims
		absent  []string
		keys    map[string]uint64
	}{
		{ArchQwen2, map[string][]uint64{
			"blk.0.attn_q.bias": {128}, "blk.0.attn_k.bias": {64}, "blk.0.attn_v.bias": {64},
			"blk.0.attn_q.weight": {64, 128}, "blk.0.attn_output.weight": {128, 64},
		}, nil, nil},
		{ArchQwen3, map[string][]uint64{
			"blk.0.attn_q_norm.weight": {32}, "blk.0.attn_k_norm.weight": {32},
		}, []string{"blk.0.attn_q.bias"}, nil},
		{ArchPhi3, map[string][]uint64{
			"blk.0.attn_qkv.weight": {64, 128 + 2*64}, "blk.0.ffn_up.weight": {64, 2 * 96},
		}, []string{"blk.0.attn_q.weight", "blk.0.ffn_gate.weight"}, map[string]uint64{"phi3.attention.sliding_window": 8}},
		{ArchGemma2, map[string][]uint64{
			"blk.0.post_attention_norm.weight": {64}, "blk.0.post_ffw_norm.weight": {64},
		}, []string{"output.weight"}, map[string]uint64{"gemma2.attention.sliding_window": 8}},
	}
	for _, tt := range tests {
		t.Run(tt.arch, func(t *testing.T) {
			opts := tinyLlama()
			opts.Arch, opts.HeadDim, opts.RopeDim = tt.arch, 32, 32
			if tt.arch == ArchPhi3 || tt.arch == ArchGemma2 {
				opts.SlidingWindow = 8
			}
			f := writeAndOpen(t, opts)

			checkUint(t, f, tt.arch+".attention.key_length", 32)
			checkUint(t, f, tt.arch+".attention.value_length", 32)
			checkUint(t, f, tt.arch+".attention.head_count_kv", 2)
			for key, want := range tt.keys {
				checkUint(t, f, key, want)
			}
			index := tensorIndex(f)
			for name, dims := range tt.present {
				if ti, ok := index[name]; !ok {
					t.Errorf("tensor %s missing", name)
				} else if !slices.Equal(ti.Dims, dims) {
					t.Errorf("tensor %s dims %v, want %v", name, ti.Dims, dims)
				}
			}
			for _, name := range tt.absent {
				if _, ok := index[name]; ok {
					t.Errorf("tensor %s present, want absent", name)
				}
			}
		})
	}
}

func TestWriteGemma2SoftCaps(t *testing.T) {
	opts := tinyLlama()
	opts.Arch, opts.AttnSoftCap, opts.FinalSoftCap = ArchGemma2, 50, 30
	f := writeAndOpen(t, opts)
	checkFloat(t, f, "gemma2.attn_logit_softcapping", 50)
	checkFloat(t, f, "gemma2.final_logit_softcapping", 30)
}

func TestWriteSyntheticVocab(t *testing.T) {
	f := writeAndOpen(t, tinyGPT2())

	tokens, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok || len(tokens) != 300 {
		t.Fatalf("tokenizer.ggml.tokens has %d entries (ok %v), want 300", len(tokens), ok)
	}
	if tokens[0] != "!" || tokens[255] != "\u0143" || tokens[299] != "<|endoftext|>" {
		t.Errorf("tokens 0, 255, 299 = %q, %q, %q, want \"!\", \"\\u0143\", \"<|endoftext|>\"", tokens[0], tokens[255], tokens[299])
	}
	if n := len(slices.Compact(slices.Sorted(slices.Values(tokens)))); n != len(tokens) {
		t.Errorf("%d distinct tokens among %d", n, len(tokens))
	}
	types, _ := f.Int32s("tokenizer.ggml.token_type")
	if len(types) != 300 || types[0] != tokenNormal || types[299] != tokenControl {
		t.Errorf("token_type has %d entries, first %v, last %v, want 300, normal (1), control (3)", len(types), types[:1], types[len(types)-1:])
	}
	merges, ok := f.Strings("tokenizer.ggml.merges")
	if !ok || len(merges) != 0 {
		t.Errorf("tokenizer.ggml.merges = %d entries (ok %v), want an empty string array", len(merges), ok)
	}
	checkUint(t, f, "tokenizer.ggml.bos_token_id", 299)
	checkUint(t, f, "tokenizer.ggml.eos_token_id", 299)
	if model, _ := f.String("tokenizer.ggml.model"); model != "gpt2" {
		t.Errorf("tokenizer.ggml.model = %q, want gpt2", model)
	}
}

func TestGPT2ByteTokensMatchGPT2(t *testing.T) {
	tokens := gpt2ByteTokens()
	if len(tokens) != 256 {
		t.Fatalf("%d byte tokens, want 256", len(tokens))
	}
	// Spot checks against GPT-2's vocabulary: id 0 is '!', id 93 '~',
	// id 188 is byte 0x00 (U+0100) and id 220 is the space (U+0120, 'Ġ').
	for id, want := range map[int]string{0: "!", 93: "~", 94: "\u00a1", 188: "\u0100", 220: "\u0120", 255: "\u0143"} {
		if tokens[id] != want {
			t.Errorf("token %d = %q, want %q", id, tokens[id], want)
		}
	}
}

func TestWriteCopiesVocab(t *testing.T) {
	path := filepath.Join(vocabDir, "ggml-vocab-llama-spm.gguf")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("vocabulary file not available: %v", err)
	}
	opts := tinyLlama()
	opts.VocabSize = 0
	opts.VocabPath = path
	f := writeAndOpen(t, opts)

	src, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var copied int
	for _, kv := range src.KV {
		if !strings.HasPrefix(kv.Key, "tokenizer.") {
			continue
		}
		copied++
		if _, ok := f.Value(kv.Key); !ok {
			t.Errorf("key %s not copied", kv.Key)
		}
	}
	if copied == 0 {
		t.Fatalf("%s has no tokenizer keys", path)
	}
	scores, _ := f.Float32s("tokenizer.ggml.scores")
	wantScores, _ := src.Float32s("tokenizer.ggml.scores")
	if !slices.Equal(scores, wantScores) {
		t.Errorf("tokenizer.ggml.scores differ from the source file")
	}
	if ti := tensorIndex(f)["token_embd.weight"]; !slices.Equal(ti.Dims, []uint64{64, 32000}) {
		t.Errorf("token_embd.weight dims %v, want [64 32000]", ti.Dims)
	}
}

func TestWriteMissingVocab(t *testing.T) {
	opts := tinyLlama()
	opts.VocabSize = 0
	opts.VocabPath = filepath.Join(t.TempDir(), "absent.gguf")
	err := Write(filepath.Join(t.TempDir(), "model.gguf"), opts)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Write with a missing vocabulary: %v, want an error wrapping os.ErrNotExist", err)
	}
}

func TestWriteDeterministic(t *testing.T) {
	for _, opts := range []Options{tinyGPT2(), tinyLlama()} {
		t.Run(opts.Arch, func(t *testing.T) {
			dir := t.TempDir()
			read := func(name string, o Options) []byte {
				path := filepath.Join(dir, name)
				if err := Write(path, o); err != nil {
					t.Fatal(err)
				}
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				return data
			}
			opts.Name = "fixed" // the default name contains the seed
			first := read("a.gguf", opts)
			second := read("b.gguf", opts)
			if !bytes.Equal(first, second) {
				t.Errorf("two writes with seed %d differ", opts.Seed)
			}
			other := opts
			other.Seed++
			if bytes.Equal(first, read("c.gguf", other)) {
				t.Errorf("seeds %d and %d give the same bytes", opts.Seed, other.Seed)
			}
		})
	}
}

// TestWeightStatistics checks the scales that keep activations of order 1:
// norm weights near 1, nonzero biases, projections with std gain/sqrt(fan_in).
func TestWeightStatistics(t *testing.T) {
	opts := tinyGPT2()
	opts.DModel, opts.DMLP = 256, 1024
	f := writeAndOpen(t, opts)

	tests := []struct {
		name      string
		mean, std float64
	}{
		{"blk.0.attn_norm.weight", 1, normWeightNoise},
		{"blk.0.attn_norm.bias", 0, biasStd},
		{"blk.1.ffn_up.bias", 0, biasStd},
		{"token_embd.weight", 0, embedGain / 16},
		{"blk.0.attn_output.weight", 0, projectionGain / 16},
		{"blk.0.ffn_down.weight", 0, projectionGain / 32},
	}
	for _, tt := range tests {
		values := readTensor(t, f, tt.name)
		mean, std := meanStd(values)
		if math.Abs(mean-tt.mean) > 4*tt.std/math.Sqrt(float64(len(values))) {
			t.Errorf("%s mean %.4f, want %.4f", tt.name, mean, tt.mean)
		}
		if math.Abs(std/tt.std-1) > 0.15 {
			t.Errorf("%s std %.4f, want %.4f", tt.name, std, tt.std)
		}
	}

	// Q and K rows of the fused projection are wider than V rows.
	qkv := readTensor(t, f, "blk.0.attn_qkv.weight")
	d := opts.DModel
	_, qStd := meanStd(qkv[:d*d])
	_, vStd := meanStd(qkv[2*d*d:])
	if want := queryKeyGain / projectionGain; math.Abs(qStd/vStd/want-1) > 0.1 {
		t.Errorf("attn_qkv Q/V std ratio %.3f, want %.3f", qStd/vStd, want)
	}
}

func readTensor(t *testing.T, f *gguf.File, name string) []float64 {
	t.Helper()
	data, err := f.TensorBytes(name)
	if err != nil {
		t.Fatalf("TensorBytes(%s): %v", name, err)
	}
	ti := tensorIndex(f)[name]
	values := make([]float32, ti.NumElements())
	if err := gguf.Dequantize(values, data, ti.Type); err != nil {
		t.Fatalf("Dequantize(%s): %v", name, err)
	}
	out := make([]float64, len(values))
	for i, v := range values {
		out[i] = float64(v)
	}
	return out
}

func meanStd(values []float64) (mean, std float64) {
	for _, v := range values {
		mean += v
	}
	mean /= float64(len(values))
	for _, v := range values {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std / float64(len(values)))
}

func TestWriteInvalidOptions(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Options)
	}{
		{"unknown arch", func(o *Options) { o.Arch = "bert" }},
		{"zero layers", func(o *Options) { o.NLayers = 0 }},
		{"heads do not divide d_model", func(o *Options) { o.NHeads = 5 }},
		{"kv heads do not divide heads", func(o *Options) { o.NKVHeads = 3 }},
		{"odd rope dim", func(o *Options) { o.RopeDim = 15 }},
		{"rope dim above d_head", func(o *Options) { o.RopeDim = 32 }},
		{"vocab too small", func(o *Options) { o.VocabSize = 100 }},
		{"vocab path and size", func(o *Options) { o.VocabPath = "vocab.gguf" }},
		{"unsupported matrix type", func(o *Options) { o.MatrixType = gguf.TypeQ4_K }},
		{"q8_0 d_mlp not a block multiple", func(o *Options) { o.MatrixType = gguf.TypeQ8_0; o.DMLP = 100 }},
		{"q8_0 embedding d_model not a block multiple", func(o *Options) {
			o.EmbedType = gguf.TypeQ8_0
			o.DModel, o.NHeads, o.NKVHeads, o.RopeDim = 48, 4, 2, 12
		}},
		{"negative head width", func(o *Options) { o.HeadDim = -8 }},
		{"soft cap outside gemma2", func(o *Options) { o.AttnSoftCap = 50 }},
		{"sliding window on llama", func(o *Options) { o.SlidingWindow = 4 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tinyLlama()
			tt.modify(&opts)
			path := filepath.Join(t.TempDir(), "model.gguf")
			err := Write(path, opts)
			if !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("Write: %v, want ErrInvalidOptions", err)
			}
			if _, statErr := os.Stat(path); statErr == nil {
				t.Errorf("Write left a file at %s after an error", path)
			}
		})
	}
}

func TestDefault124M(t *testing.T) {
	o, err := Default124M().withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	var params int
	for _, spec := range gpt2Tensors(o, o.VocabSize) {
		params += spec.size()
	}
	// GPT-2 small: 124,439,808 parameters with the output tied.
	if params != 124439808 {
		t.Errorf("Default124M has %d parameters, want 124439808", params)
	}
}
