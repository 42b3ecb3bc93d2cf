package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gpt2Tiny is the fixture that the binary embeds as its demo model.
var gpt2Tiny = filepath.Join("..", "..", "testdata", "gpt2-tiny.gguf")

// newOllamaStore builds an ollama model store in a temporary directory, points
// OLLAMA_MODELS at it, and stores a copy of gpt2-tiny.gguf under each name,
// given as namespace/model/tag.
func newOllamaStore(t *testing.T, names ...string) string {
	t.Helper()
	requireFile(t, gpt2Tiny)
	data, err := os.ReadFile(gpt2Tiny)
	if err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	t.Setenv("OLLAMA_MODELS", store)

	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	if err := os.MkdirAll(filepath.Join(store, "blobs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, "blobs", "sha256-"+hexSum), data, 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:%s","size":485},`+
		`"layers":[{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:%s","size":%d}]}`,
		strings.Repeat("c", 64), hexSum, len(data))

	for _, name := range names {
		path := filepath.Join(store, "manifests", "registry.ollama.ai", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

func TestInspectOllamaName(t *testing.T) {
	newOllamaStore(t, "library/tiny/q8", "alice/tiny/latest")
	var bundled inspectResult
	mustRunJSON(t, &bundled, "inspect")

	for _, name := range []string{"tiny:q8", "alice/tiny", "registry.ollama.ai/library/tiny:q8"} {
		var got inspectResult
		mustRunJSON(t, &got, "inspect", "--model", name)
		if got.Model != name {
			t.Errorf("inspect --model %s: model = %q, want the name as given", name, got.Model)
		}
		if got.Architecture != "gpt2" || got.NLayers != bundled.NLayers || len(got.Tensors) != len(bundled.Tensors) {
			t.Errorf("inspect --model %s: %s with %d layers and %d tensors, want the bundled gpt2 with %d layers and %d tensors",
				name, got.Architecture, got.NLayers, len(got.Tensors), bundled.NLayers, len(bundled.Tensors))
		}
	}
}

// TestPatchOllamaName checks that patching the demo task on a store entry
// holding the demo model gives the bundled model's result.
func TestPatchOllamaName(t *testing.T) {
	newOllamaStore(t, "library/tiny/latest")
	want := mustRun(t, "patch", "--json")
	got := mustRun(t, "patch", "--model", "tiny", "--json")

	if !json.Valid([]byte(got)) {
		t.Fatalf("patch --model tiny --json output is not JSON:\n%s", got)
	}
	if got != want {
		t.Errorf("patch --model tiny --json differs from the bundled model's result:\n got %.300s\nwant %.300s", got, want)
	}
}

func TestOllamaNameNotFound(t *testing.T) {
	store := newOllamaStore(t)
	_, _, err := runCLI(t, "inspect", "--model", "nosuch:1b")
	if err == nil {
		t.Fatal("inspect --model nosuch:1b succeeded, want an error")
	}
	manifest := filepath.Join(store, "manifests", "registry.ollama.ai", "library", "nosuch", "1b")
	for _, want := range []string{"model nosuch:1b not found", manifest, "ollama pull nosuch:1b"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestModelFileNotFoundHint(t *testing.T) {
	newOllamaStore(t)
	_, _, err := runCLI(t, "inspect", "--model", filepath.Join("models", "missing.gguf"))
	if err == nil {
		t.Fatal("inspect with a missing file succeeded, want an error")
	}
	for _, want := range []string{"missing.gguf not found", "ollama model name", "--model"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "manifests") {
		t.Errorf("error %q mentions the ollama store for a file path", err)
	}
}

func TestBenchOllamaName(t *testing.T) {
	store := newOllamaStore(t, "library/tiny/latest")
	var got benchResult
	mustRunJSON(t, &got, "bench", "--model", "tiny", "--prompt-tokens", "4", "--gen-tokens", "2", "--runs", "1")
	if got.Model != "tiny" {
		t.Errorf("model = %q, want tiny", got.Model)
	}
	if !strings.HasPrefix(got.File, filepath.Join(store, "blobs", "sha256-")) {
		t.Errorf("file = %q, want the blob under %s", got.File, store)
	}
	info, err := os.Stat(gpt2Tiny)
	if err != nil {
		t.Fatal(err)
	}
	if got.ModelBytes != info.Size() {
		t.Errorf("model_bytes = %d, want the blob's %d", got.ModelBytes, info.Size())
	}
}
