package main

import (
	"slices"
	"strings"
	"testing"
)

func TestLogitsLastPosition(t *testing.T) {
	var got logitsResult
	mustRunJSON(t, &got, "logits", "--prompt", "When Mary and John")
	if !slices.Equal(got.IDs, []int32{2215, 5335, 290, 1757}) {
		t.Errorf("ids = %v, want the prompt's tokens without BOS", got.IDs)
	}
	if len(got.Logits) != 1 {
		t.Fatalf("got %d rows, want 1 (last position only)", len(got.Logits))
	}
	if len(got.Logits[0]) != 50257 {
		t.Errorf("row has %d logits, want the vocabulary size 50257", len(got.Logits[0]))
	}
}

func TestLogitsAllPositions(t *testing.T) {
	var last, all logitsResult
	mustRunJSON(t, &last, "logits", "--ids", "2215,5335,290")
	mustRunJSON(t, &all, "logits", "--ids", "2215,5335,290", "--all-positions")
	if len(all.Logits) != 3 {
		t.Fatalf("got %d rows, want one per position (3)", len(all.Logits))
	}
	for i, row := range all.Logits {
		if len(row) != 50257 {
			t.Errorf("row %d has %d logits, want 50257", i, len(row))
		}
	}
	// The last row of a full run is the last-position run's row.
	for v := range last.Logits[0] {
		if d := all.Logits[2][v] - last.Logits[0][v]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("logit %d: all-positions %g, last-position %g", v, all.Logits[2][v], last.Logits[0][v])
		}
	}
}

func TestLogitsLlamaAddsBOS(t *testing.T) {
	requireFile(t, llamaTiny)
	var got logitsResult
	mustRunJSON(t, &got, "logits", "--model", llamaTiny, "--prompt", "Hello", "--all-positions")
	if len(got.IDs) != 2 || got.IDs[0] != 1 {
		t.Errorf("ids = %v, want BOS (1) then the prompt's token", got.IDs)
	}
	if len(got.Logits) != 2 || len(got.Logits[0]) != 32000 {
		t.Errorf("got %d rows, want 2 rows of 32000 logits", len(got.Logits))
	}
}

func TestLogitsTopTable(t *testing.T) {
	var res logitsResult
	mustRunJSON(t, &res, "logits", "--ids", "2215,5335")
	best := topTokens(res.Logits[0], 3)

	out := mustRun(t, "logits", "--ids", "2215,5335", "--top", "3")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want a position line, a header and 3 tokens:\n%s", len(lines), out)
	}
	if !strings.Contains(lines[0], `position 1, after " Mary" (5335)`) {
		t.Errorf("first line = %q, want the position and its token", lines[0])
	}
	for k, id := range best {
		fields := strings.Fields(lines[2+k])
		if fields[1] != itoa(id) {
			t.Errorf("rank %d: line %q, want token id %d", k+1, lines[2+k], id)
		}
	}
}

func TestTopTokensOrder(t *testing.T) {
	got := topTokens([]float32{0.5, 3, -1, 3, 2}, 3)
	if !slices.Equal(got, []int32{1, 3, 4}) {
		t.Errorf("topTokens = %v, want [1 3 4] (largest first, lower id on ties)", got)
	}
}
