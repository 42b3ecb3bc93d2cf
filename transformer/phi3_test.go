package transformer

import (
	"errors"
	"strings"
	"testing"
)

func TestPhi3RejectsLongRoPE(t *testing.T) {
	path := editFixture(t, "phi3-tiny.gguf", fixtureEdit{add: map[string][]float32{
		"rope_factors_long.weight":  make([]float32, 6),
		"rope_factors_short.weight": make([]float32, 6),
	}})
	err := loadError(t, path)
	if !errors.Is(err, ErrUnsupportedRoPE) || !strings.Contains(err.Error(), "rope_factors_long.weight") {
		t.Errorf("err = %v, want ErrUnsupportedRoPE naming rope_factors_long.weight", err)
	}
}

// TestPhi3IgnoresSlidingWindow checks that phi3's sliding-window key is
// ignored, as llama.cpp ignores it: phi3-tiny has a 4-token window in its
// metadata, and no block may use it.
func TestPhi3IgnoresSlidingWindow(t *testing.T) {
	m := loadModel(t, fixture(t, "phi3-tiny.gguf"))
	for l := range m.NLayers {
		if m.SlidingLayer(l) {
			t.Errorf("block %d has a sliding window, want none", l)
		}
	}
}

func TestPhi3PartialRoPE(t *testing.T) {
	m := loadModel(t, fixture(t, "phi3-tiny.gguf"))
	if m.RopeDim != 12 || m.DHead != 16 || !m.RopeNeox {
		t.Errorf("RoPE on %d of %d dimensions, NEOX %v; want 12 of 16, NEOX", m.RopeDim, m.DHead, m.RopeNeox)
	}
}
