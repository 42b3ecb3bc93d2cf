package transformer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeStore is an ollama model store in a temporary directory, laid out as
// ollama writes it.
type fakeStore struct {
	dir string
}

// newFakeStore creates an empty store and points OLLAMA_MODELS at it.
func newFakeStore(t *testing.T) *fakeStore {
	t.Helper()
	s := &fakeStore{dir: t.TempDir()}
	t.Setenv("OLLAMA_MODELS", s.dir)
	return s
}

// addBlob stores data under its SHA-256 digest and returns its model layer.
func (s *fakeStore) addBlob(t *testing.T, data []byte) ollamaLayer {
	t.Helper()
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	blobs := filepath.Join(s.dir, "blobs")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(blobs, "sha256-"+hexSum), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return ollamaLayer{MediaType: ollamaModelMediaType, Digest: "sha256:" + hexSum, Size: int64(len(data))}
}

// blobPath returns where the store keeps the blob of layer l.
func (s *fakeStore) blobPath(l ollamaLayer) string {
	return filepath.Join(s.dir, "blobs", "sha256-"+strings.TrimPrefix(l.Digest, "sha256:"))
}

// addManifest writes the manifest of host/namespace/model:tag with the
// given layers and a config layer, as ollama does.
func (s *fakeStore) addManifest(t *testing.T, host, namespace, model, tag string, layers ...ollamaLayer) {
	t.Helper()
	manifest := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.docker.distribution.manifest.v2+json",
		"config":        ollamaLayer{MediaType: "application/vnd.docker.container.image.v1+json", Digest: "sha256:" + strings.Repeat("c", 64), Size: 485},
		"layers":        layers,
	}
	data, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	s.writeManifest(t, host, namespace, model, tag, data)
}

// writeManifest writes raw manifest bytes.
func (s *fakeStore) writeManifest(t *testing.T, host, namespace, model, tag string, data []byte) {
	t.Helper()
	dir := filepath.Join(s.dir, "manifests", host, namespace, model)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tag), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readFixture returns the bytes of a committed fixture model.
func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(fixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestResolveModelNames(t *testing.T) {
	s := newFakeStore(t)
	gpt2 := s.addBlob(t, readFixture(t, "gpt2-tiny.gguf"))
	other := s.addBlob(t, []byte("a different blob for tag latest"))
	template := ollamaLayer{MediaType: "application/vnd.ollama.image.template", Digest: "sha256:" + strings.Repeat("d", 64), Size: 12}
	s.addManifest(t, "registry.ollama.ai", "library", "llama3.2", "1b", template, gpt2)
	s.addManifest(t, "registry.ollama.ai", "library", "llama3.2", "latest", other)
	s.addManifest(t, "registry.ollama.ai", "alice", "tiny-gpt2", "q8_0", gpt2)
	s.addManifest(t, "hf.co", "bob", "Tiny-GGUF", "Q4_K_M", gpt2)
	s.addManifest(t, "localhost:5000", "carol", "m", "v1.2", gpt2)

	tests := []struct {
		name string
		want ollamaLayer
	}{
		{"llama3.2:1b", gpt2},
		{"llama3.2", other},
		{"llama3.2:latest", other},
		{"library/llama3.2:1b", gpt2},
		{"registry.ollama.ai/library/llama3.2:1b", gpt2},
		{"alice/tiny-gpt2:q8_0", gpt2},
		{"hf.co/bob/Tiny-GGUF:Q4_K_M", gpt2},
		{"localhost:5000/carol/m:v1.2", gpt2},
	}
	for _, tc := range tests {
		got, err := ResolveModel(tc.name)
		if err != nil {
			t.Errorf("ResolveModel(%q): %v", tc.name, err)
			continue
		}
		if want := s.blobPath(tc.want); got != want {
			t.Errorf("ResolveModel(%q) = %s, want %s", tc.name, got, want)
		}
	}
}

func TestResolveModelLoadsBlob(t *testing.T) {
	s := newFakeStore(t)
	s.addManifest(t, "registry.ollama.ai", "library", "gpt2-tiny", "latest", s.addBlob(t, readFixture(t, "gpt2-tiny.gguf")))

	path, err := ResolveModel("gpt2-tiny")
	if err != nil {
		t.Fatal(err)
	}
	m := loadModel(t, path)
	if m.Arch != "gpt2" {
		t.Errorf("architecture of the resolved blob = %s, want gpt2", m.Arch)
	}
}

func TestResolveModelExistingFile(t *testing.T) {
	newFakeStore(t)
	path := fixture(t, "gpt2-tiny.gguf")
	got, err := ResolveModel(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != path {
		t.Errorf("ResolveModel(%q) = %q, want the path unchanged", path, got)
	}
}

func TestResolveModelPrefersLocalFile(t *testing.T) {
	s := newFakeStore(t)
	s.addManifest(t, "registry.ollama.ai", "library", "tiny", "latest", s.addBlob(t, []byte("blob")))
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("tiny", []byte("local file"), 0o644); err != nil {
		t.Fatal(err)
	}

	got, err := ResolveModel("tiny")
	if err != nil {
		t.Fatal(err)
	}
	if got != "tiny" {
		t.Errorf("ResolveModel(tiny) = %q, want the local file tiny", got)
	}
}

func TestResolveModelMissingName(t *testing.T) {
	s := newFakeStore(t)
	_, err := ResolveModel("nosuch:7b")
	if err == nil {
		t.Fatal("ResolveModel(nosuch:7b) succeeded, want an error")
	}

	var nf *ModelNotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("error %v (%T) is not a *ModelNotFoundError", err, err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not match fs.ErrNotExist", err)
	}
	manifest := filepath.Join(s.dir, "manifests", "registry.ollama.ai", "library", "nosuch", "7b")
	if nf.Manifest != manifest {
		t.Errorf("Manifest = %s, want %s", nf.Manifest, manifest)
	}
	for _, want := range []string{manifest, "ollama pull nosuch:7b", "OLLAMA_MODELS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestResolveModelMissingFile(t *testing.T) {
	newFakeStore(t)
	for _, arg := range []string{
		"missing.gguf",
		"models/missing.GGUF",
		"./missing",
		"../missing",
		filepath.Join(t.TempDir(), "missing"),
		"a/b/c/d",   // four parts: no valid model name
		"llama3.2:", // empty tag: no valid model name
	} {
		_, err := ResolveModel(arg)
		var nf *ModelNotFoundError
		if !errors.As(err, &nf) {
			t.Errorf("ResolveModel(%q) = %v, want a *ModelNotFoundError", arg, err)
			continue
		}
		if nf.Manifest != "" {
			t.Errorf("ResolveModel(%q) looked up ollama manifest %s, want a plain file lookup", arg, nf.Manifest)
		}
		if want := "model file " + arg + " not found"; err.Error() != want {
			t.Errorf("ResolveModel(%q) error = %q, want %q", arg, err, want)
		}
	}
}

func TestResolveModelDirectory(t *testing.T) {
	newFakeStore(t)
	dir := t.TempDir()
	_, err := ResolveModel(dir)
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("ResolveModel(directory) error = %v, want one saying it is a directory", err)
	}
}

// TestResolveModelBadManifest checks that each fault in a store entry is
// reported with the fact that is wrong.
func TestResolveModelBadManifest(t *testing.T) {
	template := ollamaLayer{MediaType: "application/vnd.ollama.image.template", Digest: "sha256:" + strings.Repeat("d", 64), Size: 12}
	tests := []struct {
		name string
		// setup writes the manifest of library/broken:latest.
		setup func(t *testing.T, s *fakeStore, blob ollamaLayer)
		want  []string
	}{
		{"no model layer", func(t *testing.T, s *fakeStore, blob ollamaLayer) {
			s.addManifest(t, "registry.ollama.ai", "library", "broken", "latest", template)
		}, []string{"has 0 layers of media type application/vnd.ollama.image.model", "want exactly 1"}},
		{"two model layers", func(t *testing.T, s *fakeStore, blob ollamaLayer) {
			s.addManifest(t, "registry.ollama.ai", "library", "broken", "latest", blob, blob)
		}, []string{"has 2 layers"}},
		{"adapter layer", func(t *testing.T, s *fakeStore, blob ollamaLayer) {
			adapter := blob
			adapter.MediaType = ollamaAdapterMediaType
			s.addManifest(t, "registry.ollama.ai", "library", "broken", "latest", blob, adapter)
		}, []string{"LoRA adapter"}},
		{"not JSON", func(t *testing.T, s *fakeStore, blob ollamaLayer) {
			s.writeManifest(t, "registry.ollama.ai", "library", "broken", "latest", []byte("layers: none"))
		}, []string{"not valid JSON"}},
		{"path traversal in digest", func(t *testing.T, s *fakeStore, blob ollamaLayer) {
			bad := blob
			bad.Digest = "sha256:../../x"
			s.addManifest(t, "registry.ollama.ai", "library", "broken", "latest", bad)
		}, []string{`invalid model layer digest "sha256:../../x"`, "64 hex digits"}},
		{"hex digest followed by a path", func(t *testing.T, s *fakeStore, blob ollamaLayer) {
			bad := blob
			bad.Digest += "/../../x"
			s.addManifest(t, "registry.ollama.ai", "library", "broken", "latest", bad)
		}, []string{"invalid model layer digest"}},
		{"other hash", func(t *testing.T, s *fakeStore, blob ollamaLayer) {
			bad := blob
			bad.Digest = "md5:" + strings.Repeat("a", 32)
			s.addManifest(t, "registry.ollama.ai", "library", "broken", "latest", bad)
		}, []string{"invalid model layer digest", "sha256:"}},
		{"missing blob", func(t *testing.T, s *fakeStore, blob ollamaLayer) {
			missing := blob
			missing.Digest = "sha256:" + strings.Repeat("e", 64)
			s.addManifest(t, "registry.ollama.ai", "library", "broken", "latest", missing)
		}, []string{"sha256-" + strings.Repeat("e", 64), "is missing", "ollama pull broken"}},
		{"size mismatch", func(t *testing.T, s *fakeStore, blob ollamaLayer) {
			short := blob
			short.Size++
			s.addManifest(t, "registry.ollama.ai", "library", "broken", "latest", short)
		}, []string{"has 4 bytes, but manifest", "gives 5", "ollama pull broken"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newFakeStore(t)
			blob := s.addBlob(t, []byte("GGUF"))
			// Files that a digest escaping blobs/ could reach.
			for _, p := range []string{filepath.Join(s.dir, "x"), filepath.Join(s.dir, "blobs", "x")} {
				if err := os.WriteFile(p, []byte("GGUF"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tc.setup(t, s, blob)

			got, err := ResolveModel("broken")
			if err == nil {
				t.Fatalf("ResolveModel(broken) = %s, want an error", got)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestResolveModelHomeFallback(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("OLLAMA_MODELS", "")
	os.Unsetenv("OLLAMA_MODELS") // t.Setenv restores the old value after the test
	s := &fakeStore{dir: filepath.Join(home, ".ollama", "models")}
	blob := s.addBlob(t, []byte("GGUF"))
	s.addManifest(t, "registry.ollama.ai", "library", "tiny", "latest", blob)

	got, err := ResolveModel("tiny")
	if err != nil {
		t.Fatal(err)
	}
	if want := s.blobPath(blob); got != want {
		t.Errorf("ResolveModel(tiny) = %s, want %s", got, want)
	}

	_, err = ResolveModel("absent")
	want := filepath.Join(home, ".ollama", "models", "manifests", "registry.ollama.ai", "library", "absent", "latest")
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("ResolveModel(absent) error = %v, want it to name %s", err, want)
	}
}

func TestParseOllamaName(t *testing.T) {
	tests := []struct {
		in   string
		want string // fully qualified, or "" when invalid
	}{
		{"llama3.2", "registry.ollama.ai/library/llama3.2:latest"},
		{"qwen2.5:0.5b-instruct", "registry.ollama.ai/library/qwen2.5:0.5b-instruct"},
		{"alice/tiny:q8_0", "registry.ollama.ai/alice/tiny:q8_0"},
		{"localhost:5000/ns/m", "localhost:5000/ns/m:latest"},
		{"..", ""},
		{"ns/..:t", ""},
		{"na.me/model", ""}, // a namespace has no dots
		{"-model", ""},
		{"model:", ""},
		{"a/b/c/d", ""},
		{"model:" + strings.Repeat("t", 81), ""},
	}
	for _, tc := range tests {
		n, ok := parseOllamaName(tc.in)
		got := ""
		if ok {
			got = n.String()
		}
		if got != tc.want {
			t.Errorf("parseOllamaName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
