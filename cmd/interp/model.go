package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	bundle "github.com/interp-go/interp"
	"github.com/interp-go/interp/transformer"
)

// bundledModelName names the embedded demo model in messages.
const bundledModelName = "bundled gpt2-tiny"

// openModel loads the model that --model names, or the bundled demo model
// when the flag is empty. The caller must call release when done with the
// model.
func (a *app) openModel() (m *transformer.Model, release func(), err error) {
	start := time.Now()
	if a.modelPath == "" {
		m, release, err = loadBundledModel()
	} else {
		m, err = transformer.Load(a.modelPath)
		release = func() { _ = m.Close() }
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("model file %s not found: pass a GGUF file to --model, or leave --model out to use the bundled demo model", a.modelPath)
		}
		return nil, nil, fmt.Errorf("loading model: %w", err)
	}
	a.log.Debug("model loaded", "model", a.modelName(), "arch", m.Arch, "layers", m.NLayers,
		"d_model", m.DModel, "heads", m.NHeads, "vocab", m.VocabSize, "elapsed", time.Since(start))
	return m, release, nil
}

// modelName returns the model's name for human output.
func (a *app) modelName() string {
	if a.modelPath == "" {
		return bundledModelName
	}
	return a.modelPath
}

// loadBundledModel loads the embedded demo model through a temporary file,
// because package transformer loads models from paths only.
//
// TODO: load from bundle.DemoModel directly once transformer can load a
// model from memory, and drop the temporary file.
func loadBundledModel() (*transformer.Model, func(), error) {
	f, err := os.CreateTemp("", "interp-gpt2-tiny-*.gguf")
	if err != nil {
		return nil, nil, fmt.Errorf("writing the bundled model to a temporary file: %w", err)
	}
	path := f.Name()
	_, err = f.Write(bundle.DemoModel)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return nil, nil, fmt.Errorf("writing the bundled model to %s: %w", path, err)
	}

	m, err := transformer.Load(path)
	if err != nil {
		_ = os.Remove(path)
		return nil, nil, err
	}
	// The model keeps the file memory-mapped, so on Unix the name can go
	// now and a killed process leaves no file behind. Windows rejects
	// removing a mapped file, so there it is removed after Close.
	removed := os.Remove(path) == nil
	release := func() {
		_ = m.Close()
		if !removed {
			_ = os.Remove(path)
		}
	}
	return m, release, nil
}
