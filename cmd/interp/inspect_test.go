package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestInspectJSONContract(t *testing.T) {
	var got map[string]json.RawMessage
	mustRunJSON(t, &got, "inspect")
	for _, key := range []string{"architecture", "n_layers", "d_model", "n_heads", "n_kv_heads", "d_head", "d_mlp", "n_ctx", "vocab_size", "tokenizer", "tensors"} {
		if _, ok := got[key]; !ok {
			t.Errorf("inspect --json has no %q field", key)
		}
	}
}

func TestInspectJSONValues(t *testing.T) {
	requireFile(t, llamaTiny)
	// The shapes are those written by internal/fixtures for each file.
	tests := []struct {
		args []string
		want inspectResult
	}{
		{nil, inspectResult{Architecture: "gpt2", NLayers: 2, DModel: 64, NHeads: 4, NKVHeads: 4, DHead: 16, DMLP: 256, NCtx: 128, VocabSize: 50257, Tokenizer: "gpt2"}},
		{[]string{"--model", llamaTiny}, inspectResult{Architecture: "llama", NLayers: 2, DModel: 64, NHeads: 4, NKVHeads: 2, DHead: 16, DMLP: 160, NCtx: 128, VocabSize: 32000, Tokenizer: "llama", AddBOS: true}},
	}
	for _, tc := range tests {
		var got inspectResult
		mustRunJSON(t, &got, append([]string{"inspect"}, tc.args...)...)
		if got.Architecture != tc.want.Architecture || got.NLayers != tc.want.NLayers || got.DModel != tc.want.DModel ||
			got.NHeads != tc.want.NHeads || got.NKVHeads != tc.want.NKVHeads || got.DHead != tc.want.DHead ||
			got.DMLP != tc.want.DMLP || got.NCtx != tc.want.NCtx || got.VocabSize != tc.want.VocabSize ||
			got.Tokenizer != tc.want.Tokenizer || got.AddBOS != tc.want.AddBOS {
			t.Errorf("inspect %v: got %+v, want %+v", tc.args, got, tc.want)
		}
	}
}

func TestInspectTensorShapes(t *testing.T) {
	var got inspectResult
	mustRunJSON(t, &got, "inspect")
	i := slices.IndexFunc(got.Tensors, func(ti tensorInfo) bool { return ti.Name == "token_embd.weight" })
	if i < 0 {
		t.Fatalf("no token_embd.weight among %d tensors", len(got.Tensors))
	}
	embd := got.Tensors[i]
	if embd.Type != "F16" {
		t.Errorf("token_embd.weight type = %s, want F16", embd.Type)
	}
	if !slices.Equal(embd.Shape, []uint64{50257, 64}) {
		t.Errorf("token_embd.weight shape = %v, want [50257 64] (row-major)", embd.Shape)
	}
	if !slices.Equal(embd.NE, []uint64{64, 50257}) {
		t.Errorf("token_embd.weight ne = %v, want [64 50257] (ggml order)", embd.NE)
	}
}

func TestInspectTableAndHooks(t *testing.T) {
	out := mustRun(t, "inspect", "--hooks")
	for _, want := range []string{"architecture  gpt2", "token_embd.weight", "[50257, 64]", "blocks.1.attn.hook_z", "hook_pos_embed"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect --hooks output lacks %q:\n%s", want, out)
		}
	}
}
