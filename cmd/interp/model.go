package main

import (
	"errors"
	"fmt"
	"time"

	bundle "github.com/interp-go/interp"
	"github.com/interp-go/interp/gguf"
	"github.com/interp-go/interp/transformer"
	"github.com/interp-go/interp/transformer/tokenizer"
)

// bundledModelName names the embedded demo model in messages.
const bundledModelName = "bundled gpt2-tiny"

// openModel loads the model that --model names (a GGUF file or an ollama
// model name), or the bundled demo model when the flag is empty. The caller
// must call release when done with the model.
func (a *app) openModel() (m *transformer.Model, release func(), err error) {
	start := time.Now()
	numerics, err := a.modelNumerics()
	if err != nil {
		return nil, nil, err
	}
	if a.modelPath == "" {
		m, release, err = loadBundledModel()
	} else {
		path, rerr := a.resolveModel()
		if rerr != nil {
			return nil, nil, rerr
		}
		m, err = transformer.Load(path)
		release = func() { _ = m.Close() }
		if err != nil && hasNoTensors(path) {
			return nil, nil, fmt.Errorf("loading model: %s has no tensors, only metadata such as a vocabulary; interp tokenize reads such a file, and the other commands need a model file", a.modelPath)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("loading model: %w", err)
	}
	m.SetNumerics(numerics)
	a.log.Debug("model loaded", "model", a.modelName(), "arch", m.Arch, "layers", m.NLayers,
		"d_model", m.DModel, "heads", m.NHeads, "vocab", m.VocabSize, "elapsed", time.Since(start))
	return m, release, nil
}

// hasNoTensors reports whether path is a GGUF file without tensors, such
// as llama.cpp's vocabulary-only ggml-vocab-*.gguf test files.
func hasNoTensors(path string) bool {
	f, err := gguf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return len(f.Tensors) == 0
}

// resolveModel returns the GGUF file that --model names: the path itself,
// or the blob of an ollama model name.
func (a *app) resolveModel() (string, error) {
	path, err := transformer.ResolveModel(a.modelPath)
	var notFound *transformer.ModelNotFoundError
	if errors.As(err, &notFound) && notFound.Manifest == "" {
		return "", fmt.Errorf("model file %s not found: pass a GGUF file or an ollama model name such as llama3.2:1b to --model, or leave --model out to use the bundled demo model", a.modelPath)
	}
	if err != nil {
		return "", err
	}
	if path != a.modelPath {
		a.log.Debug("ollama model resolved", "model", a.modelPath, "file", path)
	}
	return path, nil
}

// openTokenizer loads only the vocabulary of the model that --model
// names, so that vocabulary-only GGUF files, such as llama.cpp's
// ggml-vocab-*.gguf test files, work too. The caller must call release
// when done with the tokenizer.
func (a *app) openTokenizer() (tok *tokenizer.Tokenizer, release func(), err error) {
	if a.modelPath == "" {
		m, release, err := a.openModel()
		if err != nil {
			return nil, nil, err
		}
		return m.Tokenizer, release, nil
	}
	path, err := a.resolveModel()
	if err != nil {
		return nil, nil, err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the tokenizer: %w", err)
	}
	tok, err = tokenizer.New(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("loading the tokenizer: %s: %w", path, err)
	}
	return tok, func() { _ = f.Close() }, nil
}

// modelNumerics returns the rounding that --numerics and
// --float-activations select.
func (a *app) modelNumerics() (transformer.Numerics, error) {
	n := transformer.NumericsDefault
	if a.numerics != "" {
		var err error
		if n, err = transformer.ParseNumerics(a.numerics); err != nil {
			return 0, fmt.Errorf("--numerics: %w", err)
		}
	}
	if a.floatActivations {
		if a.numericsGiven && n != transformer.NumericsFloat {
			return 0, fmt.Errorf("--float-activations means --numerics float, but --numerics is %s: give one of them", n)
		}
		n = transformer.NumericsFloat
	}
	return n, nil
}

// modelName returns the model's name for human output.
func (a *app) modelName() string {
	if a.modelPath == "" {
		return bundledModelName
	}
	return a.modelPath
}

// loadBundledModel loads the demo model embedded in the binary.
func loadBundledModel() (*transformer.Model, func(), error) {
	m, err := transformer.LoadBytes("bundled gpt2-tiny.gguf", bundle.DemoModel)
	if err != nil {
		return nil, nil, err
	}
	return m, func() { _ = m.Close() }, nil
}
