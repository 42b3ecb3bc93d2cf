package gguf

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// sharedModels returns the folder of real model files kept beside the
// repository, or skips the test when it is absent, as in a fresh clone.
func sharedModels(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "models")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real model files not found at %s (only development machines and CI have them): %v", dir, err)
	}
	return dir
}

// openShared opens a file under the shared models folder.
func openShared(t *testing.T, name string) *File {
	t.Helper()
	f, err := Open(filepath.Join(sharedModels(t), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// expectedTensorCount derives the number of tensors of a llama or gpt2
// model from its block count. A llama block has 9 tensors (attn_norm,
// attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up,
// ffn_down) and the model adds token_embd, output_norm and, unless the
// output is tied, output. A gpt2 block has 12 (weight and bias of
// attn_norm, attn_qkv, attn_output, ffn_norm, ffn_up, ffn_down) and the
// model adds token_embd, position_embd, the output_norm pair and, unless
// tied, output. ok is false for other architectures.
func expectedTensorCount(f *File) (n int, ok bool) {
	arch, _ := f.String("general.architecture")
	blocks, hasBlocks := f.Uint(arch + ".block_count")
	if !hasBlocks {
		return 0, false
	}
	_, untied := f.Tensor("output.weight")
	n = 0
	if untied {
		n = 1
	}
	switch arch {
	case "llama":
		return n + 2 + 9*int(blocks), true
	case "gpt2":
		return n + 4 + 12*int(blocks), true
	}
	return 0, false
}

func TestSharedModelsOpen(t *testing.T) {
	dir := sharedModels(t)
	var paths []string
	for _, sub := range []string{"", "vocab", "quantized"} {
		found, err := filepath.Glob(filepath.Join(dir, sub, "*.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, found...)
	}
	if len(paths) == 0 {
		t.Fatalf("no .gguf files under %s", dir)
	}

	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			if len(f.KV) == 0 {
				t.Error("file has no metadata")
			}
			// Vocabulary-only files keep their model's block count but no
			// tensors.
			if want, ok := expectedTensorCount(f); ok && len(f.Tensors) > 0 && len(f.Tensors) != want {
				t.Errorf("%d tensors, want %d from the architecture and block count", len(f.Tensors), want)
			}
			if filepath.Base(filepath.Dir(path)) == "vocab" && len(f.Tensors) != 0 {
				t.Errorf("vocabulary-only file has %d tensors", len(f.Tensors))
			}

			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			var total uint64
			for _, info := range f.Tensors {
				raw, err := f.TensorBytes(info.Name)
				if err != nil {
					t.Fatal(err)
				}
				if uint64(len(raw)) != info.NumBytes() {
					t.Errorf("tensor %q: %d bytes, want %d", info.Name, len(raw), info.NumBytes())
				}
				total += info.NumBytes()
			}
			if total > uint64(st.Size()) {
				t.Errorf("tensors take %d bytes, more than the file's %d", total, st.Size())
			}
		})
	}
}

func TestSharedStories260K(t *testing.T) {
	f := openShared(t, "stories260K.gguf")
	if arch, _ := f.String("general.architecture"); arch != "llama" {
		t.Errorf("general.architecture = %q, want llama", arch)
	}
	tokens, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok || len(tokens) != 512 {
		t.Errorf("tokenizer.ggml.tokens has %d entries (ok %v), want 512", len(tokens), ok)
	}
	if scores, ok := f.Float32s("tokenizer.ggml.scores"); !ok || len(scores) != 512 {
		t.Errorf("tokenizer.ggml.scores has %d entries (ok %v), want 512", len(scores), ok)
	}
	if n, ok := f.Uint("llama.embedding_length"); n != 64 || !ok {
		t.Errorf("llama.embedding_length = %d, %v; want 64", n, ok)
	}
	info, ok := f.Tensor("token_embd.weight")
	if !ok || info.Type != TypeF32 || len(info.Dims) != 2 || info.Dims[0] != 64 || info.Dims[1] != 512 {
		t.Errorf("token_embd.weight = %+v, want F32 [64 512]", info)
	}
}

// TestSharedF16MatchesF32 compares stories260K-F16.gguf, which llama.cpp's
// llama-quantize converted from stories260K.gguf, with the F32 original:
// each F16 value must be the original rounded to nearest even, and must
// decode to a finite float32 close to the original.
func TestSharedF16MatchesF32(t *testing.T) {
	f32 := openShared(t, "stories260K.gguf")
	f16 := openShared(t, "stories260K-F16.gguf")

	checked := 0
	for _, info := range f16.Tensors {
		if info.Type != TypeF16 {
			continue
		}
		orig, err := f32.TensorFloat32(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := f16.TensorBytes(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f16.TensorFloat32(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(orig) {
			t.Fatalf("tensor %q: %d values, F32 original has %d", info.Name, len(got), len(orig))
		}
		for i, x := range orig {
			bits := uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
			if want := Float32ToF16(x); bits != want {
				t.Errorf("tensor %q[%d]: llama.cpp stored 0x%04X for %v, Float32ToF16 gives 0x%04X", info.Name, i, bits, x, want)
				break
			}
			// Half precision keeps 11 significant bits, so the relative
			// error is at most 2^-11, or 2^-25 absolute below 2^-14.
			if e := math.Abs(float64(got[i] - x)); e > math.Abs(float64(x))/2048+0x1p-25 {
				t.Errorf("tensor %q[%d] = %v, original %v", info.Name, i, got[i], x)
				break
			}
		}
		checked++
	}
	if checked == 0 {
		t.Error("stories260K-F16.gguf has no F16 tensors")
	}
}

func TestSharedTinyRandomF16Finite(t *testing.T) {
	f := openShared(t, "llama-2-tiny-random.gguf")
	checked := 0
	for _, info := range f.Tensors {
		if info.Type != TypeF16 {
			continue
		}
		values, err := f.TensorFloat32(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(values)) != info.NumElements() {
			t.Errorf("tensor %q: %d values, want %d", info.Name, len(values), info.NumElements())
		}
		for i, v := range values {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Errorf("tensor %q[%d] = %v, want a finite value", info.Name, i, v)
				break
			}
		}
		checked++
	}
	if checked == 0 {
		t.Error("llama-2-tiny-random.gguf has no F16 tensors")
	}
}

func TestSharedQuantized(t *testing.T) {
	q8 := openShared(t, filepath.Join("quantized", "gpt2-small-q-Q8_0.gguf"))
	checked := 0
	for _, info := range q8.Tensors {
		if info.Type != TypeQ8_0 {
			continue
		}
		values, err := q8.TensorFloat32(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Errorf("tensor %q[%d] = %v, want a finite value", info.Name, i, v)
				break
			}
		}
		checked++
	}
	if checked == 0 {
		t.Error("gpt2-small-q-Q8_0.gguf has no Q8_0 tensors")
	}

	// Q4_K_M mixes K-quant types; TestSharedQuantizedMatchesGGML checks
	// their values against ggml.
	q4 := openShared(t, filepath.Join("quantized", "gpt2-small-q-Q4_K_M.gguf"))
	types := map[Type]bool{}
	for _, info := range q4.Tensors {
		types[info.Type] = true
	}
	for _, typ := range []Type{TypeQ4_K, TypeQ6_K} {
		if !types[typ] {
			t.Errorf("gpt2-small-q-Q4_K_M.gguf has no %s tensor", typ)
		}
	}
}
