package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestWriteJSONNotFinite(t *testing.T) {
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
		var buf bytes.Buffer
		err := writeJSON(&buf, map[string][]float32{"logits": {1, v}})
		if err == nil {
			t.Fatalf("writeJSON of %v succeeded, want an error", v)
		}
		if !strings.Contains(err.Error(), "not finite") {
			t.Errorf("error %q does not say the values are not finite", err)
		}
		if !strings.Contains(err.Error(), "without --json") {
			t.Errorf("error %q does not suggest running without --json", err)
		}
		if buf.Len() != 0 {
			t.Errorf("writeJSON wrote %q before failing, want nothing", buf.String())
		}
	}
}
