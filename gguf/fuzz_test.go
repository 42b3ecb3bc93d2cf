package gguf

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the FuzzOpen seed corpus in testdata/fuzz/FuzzOpen")

// maxFuzzDecode bounds the tensors that FuzzOpen decodes, so that one
// input cannot make an iteration slow.
const maxFuzzDecode = 1 << 16

// FuzzOpen writes arbitrary bytes to a file and opens it. Open must return
// an error or a File, never panic. For a File that opens, every accessor
// must work, and writing its content with the Writer and reading that back
// must reproduce the same bytes.
func FuzzOpen(f *testing.F) {
	// Each fuzzing process calls the function below sequentially, so one
	// file per process suffices and saves a directory per input.
	path := filepath.Join(f.TempDir(), "fuzz.gguf")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		file, err := Open(path)
		if err != nil {
			return
		}
		defer file.Close()

		for _, kv := range file.KV {
			file.Value(kv.Key)
			file.String(kv.Key)
			file.Uint(kv.Key)
			file.Int(kv.Key)
			file.Float(kv.Key)
			file.Bool(kv.Key)
			file.Strings(kv.Key)
			file.Float32s(kv.Key)
			file.Int32s(kv.Key)
		}
		for _, info := range file.Tensors {
			raw, err := file.TensorBytes(info.Name)
			if err != nil {
				t.Fatalf("TensorBytes(%q) of an opened file: %v", info.Name, err)
			}
			if uint64(len(raw)) != info.NumBytes() {
				t.Fatalf("TensorBytes(%q) = %d bytes, want %d", info.Name, len(raw), info.NumBytes())
			}
			if info.NumElements() <= maxFuzzDecode {
				file.TensorFloat32(info.Name)
			}
		}

		first, ok := rewrite(t, file)
		if !ok {
			return
		}
		again, err := parse("rewritten", first)
		if err != nil {
			t.Fatalf("file written from an opened file does not parse: %v", err)
		}
		second, ok := rewrite(t, again)
		if !ok || !bytes.Equal(first, second) {
			t.Fatalf("writing the file twice gave different bytes (%d and %d)", len(first), len(second))
		}
	})
}

// rewrite writes the metadata and tensors of f with a Writer. ok is false
// when f has content that the Writer rejects, such as a tensor name longer
// than ggml allows.
func rewrite(t *testing.T, f *File) (out []byte, ok bool) {
	w := NewWriter()
	for _, kv := range f.KV {
		if err := w.Add(kv.Key, kv.Value); err != nil {
			return nil, false
		}
	}
	for _, info := range f.Tensors {
		raw, err := f.TensorBytes(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(info.Name, info.Type, info.Dims, raw); err != nil {
			return nil, false
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), true
}

// TestFuzzSeeds rewrites the seed corpus when run with -update-seeds:
//
//	go test ./gguf -run TestFuzzSeeds -update-seeds
//
// The seeds are valid files made by the Writer, prefixes of one, and the
// malformed files of badInputs.
func TestFuzzSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-seeds to rewrite testdata/fuzz/FuzzOpen")
	}
	seeds := map[string][]byte{}

	valid := validFile(t)
	seeds["valid"] = valid
	for _, cut := range []int{20, 90, 140, 208, 289} {
		seeds[fmt.Sprintf("cut-%d", cut)] = valid[:cut]
	}

	v2 := bytes.Clone(valid)
	v2[4] = 2
	seeds["version-2"] = v2

	path := filepath.Join(t.TempDir(), "all.gguf")
	writeTestFile(t, path, 64)
	all, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seeds["all-values-align-64"] = all

	var metadataOnly bytes.Buffer
	w := NewWriter()
	if err := w.Add("general.architecture", "gpt2"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(&metadataOnly); err != nil {
		t.Fatal(err)
	}
	seeds["metadata-only"] = metadataOnly.Bytes()
	seeds["nested-arrays"] = nestedArrays(maxArrayDepth)

	for _, c := range badInputs() {
		seeds["bad-"+strings.ReplaceAll(c.name, " ", "-")] = c.file
	}

	dir := filepath.Join("testdata", "fuzz", "FuzzOpen")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
