// Package interp embeds the demo model and patching task that the interp
// command runs when no --model is given, so the command works from any
// directory without a model file of its own.
//
// The interpretability methods themselves live in package
// github.com/interp-go/interp/interp.
package interp

import _ "embed"

// DemoModel is the GGUF file testdata/gpt2-tiny.gguf: a two-layer GPT-2 with
// seeded random weights and GPT-2's 50,257-token vocabulary, written by
// `go run ./internal/fixtures`.
//
//go:embed testdata/gpt2-tiny.gguf
var DemoModel []byte

// DemoTask is testdata/demo.json, the indirect-object-identification prompt
// pair that `interp patch` runs without arguments. It is a JSON object with
// the strings "clean", "corrupt", "answer" and "wrong", and the GPT-2 token
// ids "clean_ids", "corrupt_ids", "answer_id" and "wrong_id" (no BOS).
//
//go:embed testdata/demo.json
var DemoTask []byte
