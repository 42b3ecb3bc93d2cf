package gguf

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npy"
)

// The goldens in testdata/quant are ggml's own dequantization of the same
// bytes (libggml-base from llama.cpp, see testdata/README.md), so the
// comparisons below require bit-for-bit equality.

var goldenTypes = []Type{
	TypeQ4_0, TypeQ4_1, TypeQ5_0, TypeQ5_1,
	TypeQ2_K, TypeQ3_K, TypeQ4_K, TypeQ5_K, TypeQ6_K,
}

// readNpyFloat32 reads a float32 .npy file of any shape as a flat slice.
func readNpyFloat32(t *testing.T, path string) []float32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var v []float32
	if err := npy.Read(f, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// checkBits fails at the first value whose float32 bits differ from ggml's.
func checkBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, ggml has %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("%s: value %d = %v (0x%08X), ggml gives %v (0x%08X)",
				what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			return
		}
	}
}

func TestDequantizeMatchesGGML(t *testing.T) {
	for _, typ := range goldenTypes {
		for _, set := range []string{"", ".random"} {
			name := strings.ToLower(typ.String()) + set
			t.Run(name, func(t *testing.T) {
				raw, err := os.ReadFile(filepath.Join("testdata", "quant", name+".bin"))
				if err != nil {
					t.Fatal(err)
				}
				want := readNpyFloat32(t, filepath.Join("testdata", "quant", name+".dequant.npy"))
				got := make([]float32, len(want))
				if err := Dequantize(got, raw, typ); err != nil {
					t.Fatal(err)
				}
				checkBits(t, name, got, want)
			})
		}
	}
}

// TestDequantizeBlockIndependence decodes the golden blocks one at a time
// and checks that each block gives the same values as in a whole-row
// decode, so no state leaks from one block to the next.
func TestDequantizeBlockIndependence(t *testing.T) {
	for _, typ := range goldenTypes {
		name := strings.ToLower(typ.String()) + ".random"
		raw, err := os.ReadFile(filepath.Join("testdata", "quant", name+".bin"))
		if err != nil {
			t.Fatal(err)
		}
		n := len(raw) / typ.BlockBytes() * typ.BlockSize()
		whole := make([]float32, n)
		if err := Dequantize(whole, raw, typ); err != nil {
			t.Fatal(err)
		}
		one := make([]float32, typ.BlockSize())
		for b := len(raw)/typ.BlockBytes() - 1; b >= 0; b-- {
			src := raw[b*typ.BlockBytes() : (b+1)*typ.BlockBytes()]
			if err := Dequantize(one, src, typ); err != nil {
				t.Fatal(err)
			}
			checkBits(t, name+" block", one, whole[b*typ.BlockSize():(b+1)*typ.BlockSize()])
		}
	}
}

func TestDequantizeNoAllocation(t *testing.T) {
	for _, typ := range append([]Type{TypeF16, TypeBF16, TypeQ8_0}, goldenTypes...) {
		src := make([]byte, 4*typ.BlockBytes())
		dst := make([]float32, 4*typ.BlockSize())
		allocs := testing.AllocsPerRun(10, func() {
			if err := Dequantize(dst, src, typ); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", typ, allocs)
		}
	}
}

func TestDequantizeUnsupported(t *testing.T) {
	for _, typ := range []Type{TypeIQ2_XXS, TypeIQ4_NL, TypeIQ4_XS, TypeTQ1_0, TypeTQ2_0, TypeMXFP4, TypeQ8_1, TypeQ8_K, TypeI8, TypeF64} {
		n := typ.BlockSize()
		err := Dequantize(make([]float32, n), make([]byte, typ.BlockBytes()), typ)
		if !errors.Is(err, ErrUnsupportedType) {
			t.Errorf("%s: error %v, want ErrUnsupportedType", typ, err)
			continue
		}
		const list = "(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)"
		if want := "unsupported tensor type " + typ.String() + " " + list; !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q does not contain %q", typ, err, want)
		}
	}
}

// sharedGolden is one entry of testdata/quant/shared.json: the first values
// of ggml's dequantization of a tensor of a shared GPT-2 file.
type sharedGolden struct {
	File      string    `json:"file"`
	Tensor    string    `json:"tensor"`
	Type      string    `json:"type"`
	SHA256Raw string    `json:"sha256_raw"`
	First     []float32 `json:"first"`
}

// TestSharedQuantizedMatchesGGML decodes every tensor of the real
// quantized GPT-2 files that llama.cpp's llama-quantize made (found by
// sharedModels), and compares the first tensor of each quantized type with
// ggml's values.
func TestSharedQuantizedMatchesGGML(t *testing.T) {
	dir := filepath.Join(sharedModels(t), "quantized")
	data, err := os.ReadFile(filepath.Join("testdata", "quant", "shared.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Tensors []sharedGolden `json:"tensors"`
	}
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}

	byFile := map[string][]sharedGolden{}
	for _, g := range golden.Tensors {
		byFile[g.File] = append(byFile[g.File], g)
	}
	for file, goldens := range byFile {
		t.Run(file, func(t *testing.T) {
			f, err := Open(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()

			// Every tensor decodes to finite values.
			for _, info := range f.Tensors {
				values, err := f.TensorFloat32(info.Name)
				if err != nil {
					t.Fatalf("tensor %q (%s): %v", info.Name, info.Type, err)
				}
				for i, v := range values {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Errorf("tensor %q (%s) [%d] = %v, want a finite value", info.Name, info.Type, i, v)
						break
					}
				}
			}

			for _, g := range goldens {
				info, ok := f.Tensor(g.Tensor)
				if !ok || info.Type.String() != g.Type {
					t.Errorf("tensor %q: want type %s in the file, found %v", g.Tensor, g.Type, info)
					continue
				}
				raw, err := f.TensorBytes(g.Tensor)
				if err != nil {
					t.Fatal(err)
				}
				if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != g.SHA256Raw {
					t.Errorf("tensor %q: raw bytes have sha256 %x, the golden was made from %s", g.Tensor, sum, g.SHA256Raw)
					continue
				}
				values, err := f.TensorFloat32(g.Tensor)
				if err != nil {
					t.Fatal(err)
				}
				checkBits(t, g.Tensor+" ("+g.Type+")", values[:len(g.First)], g.First)
			}
		})
	}
}

// BenchmarkDequantize decodes one 4096-value row of each type, the width of
// a 7B model's residual stream.
func BenchmarkDequantize(b *testing.B) {
	for _, typ := range append([]Type{TypeQ8_0}, goldenTypes...) {
		b.Run(typ.String(), func(b *testing.B) {
			const n = 4096
			src := make([]byte, n/typ.BlockSize()*typ.BlockBytes())
			dst := make([]float32, n)
			b.SetBytes(n * 4)
			for b.Loop() {
				if err := Dequantize(dst, src, typ); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
