package transformer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Layout of ollama's local model store, as ollama v0.17 writes it: a
// manifest per model at manifests/HOST/NAMESPACE/MODEL/TAG listing the
// model's layers by media type and digest, and each layer's content in
// blobs/sha256-HEX.
const (
	ollamaDefaultHost      = "registry.ollama.ai"
	ollamaDefaultNamespace = "library"
	ollamaDefaultTag       = "latest"
	ollamaModelMediaType   = "application/vnd.ollama.image.model"
	ollamaAdapterMediaType = "application/vnd.ollama.image.adapter"

	// maxManifestBytes bounds how much of a manifest is read. A manifest
	// lists a handful of layers, so 1 MiB leaves a wide margin.
	maxManifestBytes = 1 << 20
)

// ModelNotFoundError reports a --model argument that names neither an
// existing file nor a model in the local ollama store. It matches
// fs.ErrNotExist under errors.Is.
type ModelNotFoundError struct {
	// Name is the argument as given.
	Name string
	// Manifest is the ollama manifest path that was looked up, or empty
	// when the argument is a file path.
	Manifest string
}

func (e *ModelNotFoundError) Error() string {
	if e.Manifest == "" {
		return fmt.Sprintf("model file %s not found", e.Name)
	}
	return fmt.Sprintf("model %s not found: it is not a file, and the ollama store has no manifest %s; run `ollama pull %s` to download it, or set OLLAMA_MODELS to the store's models directory",
		e.Name, e.Manifest, e.Name)
}

func (e *ModelNotFoundError) Unwrap() error { return fs.ErrNotExist }

// ResolveModel returns the path of the GGUF file that nameOrPath names.
// An existing file is returned unchanged. Otherwise nameOrPath is an ollama
// model name ("llama3.2:1b", "llama3.2" for tag latest, "namespace/name:tag",
// "registry.ollama.ai/library/name:tag") looked up in the local ollama
// store: $OLLAMA_MODELS, or ~/.ollama/models when it is unset. The result
// is the blob of the manifest's single model layer, after checking that
// its digest is well formed and its size equals the manifest's.
//
// A missing file whose argument looks like a path gives a
// *ModelNotFoundError without a store lookup. Such an argument ends in .gguf,
// starts with /, ./, ../ or ~, or contains a slash but is no valid model
// name. A model name missing from the store also gives a
// *ModelNotFoundError, with the manifest path it looked up.
func ResolveModel(nameOrPath string) (string, error) {
	if nameOrPath == "" {
		return "", errors.New("transformer: empty model name or path")
	}
	info, err := os.Stat(nameOrPath)
	switch {
	case err == nil && info.IsDir():
		return "", fmt.Errorf("transformer: model path %s is a directory; pass a GGUF file or an ollama model name", nameOrPath)
	case err == nil:
		return nameOrPath, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("transformer: model path %s: %w", nameOrPath, err)
	}

	name, ok := parseOllamaName(nameOrPath)
	if !ok || looksLikePath(nameOrPath) {
		return "", &ModelNotFoundError{Name: nameOrPath}
	}
	store, err := ollamaStore()
	if err != nil {
		return "", err
	}
	return name.blobPath(store, nameOrPath)
}

// looksLikePath reports whether s is meant as a file path rather than an
// ollama model name. Model names may contain one or two slashes
// (namespace/model, host/namespace/model), so a slash alone does not make
// a path.
func looksLikePath(s string) bool {
	if strings.HasSuffix(strings.ToLower(s), ".gguf") || filepath.IsAbs(s) {
		return true
	}
	for _, prefix := range []string{"/", "./", "../", "~"} {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return filepath.Separator != '/' && strings.ContainsRune(s, filepath.Separator)
}

// ollamaStore returns the directory of the local ollama store.
func ollamaStore() (string, error) {
	// ollama strips surrounding spaces and quotes from its variables.
	if dir := strings.Trim(strings.TrimSpace(os.Getenv("OLLAMA_MODELS")), `"'`); dir != "" {
		return dir, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("transformer: locating the ollama store: OLLAMA_MODELS is not set and the home directory is unknown: %w", err)
	}
	return filepath.Join(home, ".ollama", "models"), nil
}

// ollamaName is a model name split into the parts that form its manifest
// path.
type ollamaName struct {
	host, namespace, model, tag string
}

// parseOllamaName splits s into host, namespace, model and tag, filling
// ollama's defaults for missing parts, and reports whether every part is
// valid. A valid part cannot contain a path separator or be "." or "..",
// so the manifest path stays inside the store.
func parseOllamaName(s string) (ollamaName, bool) {
	n := ollamaName{host: ollamaDefaultHost, namespace: ollamaDefaultNamespace, tag: ollamaDefaultTag}

	// A colon after the last slash starts the tag. An earlier colon
	// belongs to the host's port, as in localhost:5000/ns/model.
	if i := strings.LastIndexByte(s, ':'); i > strings.LastIndexByte(s, '/') {
		s, n.tag = s[:i], s[i+1:]
	}
	parts := strings.Split(s, "/")
	switch len(parts) {
	case 1:
		n.model = parts[0]
	case 2:
		n.namespace, n.model = parts[0], parts[1]
	case 3:
		n.host, n.namespace, n.model = parts[0], parts[1], parts[2]
	default:
		return ollamaName{}, false
	}

	ok := validNamePart(n.host, 350, ".-_:") &&
		validNamePart(n.namespace, 80, "-_") &&
		validNamePart(n.model, 80, ".-_") &&
		validNamePart(n.tag, 80, ".-_")
	return n, ok
}

// validNamePart reports whether part follows ollama's rules for a name
// part: 1 to maxLen bytes, starting with a letter, digit or underscore,
// then letters, digits and the punctuation in extra.
func validNamePart(part string, maxLen int, extra string) bool {
	if len(part) == 0 || len(part) > maxLen {
		return false
	}
	for i := 0; i < len(part); i++ {
		c := part[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		if !alnum && (i == 0 || !strings.ContainsRune(extra, rune(c))) {
			return false
		}
	}
	return true
}

// String returns the fully qualified name, host/namespace/model:tag.
func (n ollamaName) String() string {
	return n.host + "/" + n.namespace + "/" + n.model + ":" + n.tag
}

// manifestPath returns where the store keeps the name's manifest.
func (n ollamaName) manifestPath(store string) string {
	return filepath.Join(store, "manifests", n.host, n.namespace, n.model, n.tag)
}

// ollamaLayer is one entry of a manifest's layers.
type ollamaLayer struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

// blobPath reads the name's manifest in store and returns the path of its
// model blob. arg is the name as the user gave it, for messages.
func (n ollamaName) blobPath(store, arg string) (string, error) {
	manifest := n.manifestPath(store)
	layers, err := readManifest(manifest)
	if errors.Is(err, fs.ErrNotExist) {
		return "", &ModelNotFoundError{Name: arg, Manifest: manifest}
	}
	if err != nil {
		return "", fmt.Errorf("transformer: ollama model %s: %w", n, err)
	}

	var model []ollamaLayer
	for _, l := range layers {
		switch l.MediaType {
		case ollamaModelMediaType:
			model = append(model, l)
		case ollamaAdapterMediaType:
			// Running the base weights alone would silently give
			// another model's logits.
			return "", fmt.Errorf("transformer: ollama model %s: manifest %s has a LoRA adapter layer, which interp cannot apply; use the base model", n, manifest)
		}
	}
	if len(model) != 1 {
		return "", fmt.Errorf("transformer: ollama model %s: manifest %s has %d layers of media type %s, want exactly 1 (cloud models and models imported from safetensors have none)",
			n, manifest, len(model), ollamaModelMediaType)
	}
	layer := model[0]

	hex, ok := strings.CutPrefix(layer.Digest, "sha256:")
	if !ok || !isHex64(hex) {
		return "", fmt.Errorf("transformer: ollama model %s: manifest %s: invalid model layer digest %q, want sha256: followed by 64 hex digits", n, manifest, layer.Digest)
	}
	blob := filepath.Join(store, "blobs", "sha256-"+hex)
	info, err := os.Stat(blob)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("transformer: ollama model %s: blob %s named by manifest %s is missing; run `ollama pull %s` to download it again", n, blob, manifest, arg)
	}
	if err != nil {
		return "", fmt.Errorf("transformer: ollama model %s: %w", n, err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("transformer: ollama model %s: blob %s is not a regular file", n, blob)
	}
	// NOTE: the blob's SHA-256 is not recomputed, because hashing a
	// model of several GB would add seconds to every start. ollama checks
	// it when it downloads the blob.
	if info.Size() != layer.Size {
		return "", fmt.Errorf("transformer: ollama model %s: blob %s has %d bytes, but manifest %s gives %d; run `ollama pull %s` to download it again",
			n, blob, info.Size(), manifest, layer.Size, arg)
	}
	return blob, nil
}

// readManifest decodes the layers of the manifest file at path.
func readManifest(path string) ([]ollamaLayer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, fmt.Errorf("manifest %s is a directory", path)
	}

	data, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", path, err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("manifest %s is larger than %d bytes", path, maxManifestBytes)
	}
	var m struct {
		Layers []ollamaLayer `json:"layers"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest %s is not valid JSON: %w", path, err)
	}
	return m.Layers, nil
}

// isHex64 reports whether s is 64 hexadecimal digits, the form of a
// SHA-256 digest.
func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
