package transformer

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// sharedModel returns the path of a file under ../shared/models, skipping
// the test when that folder is absent (a user's clone has none).
func sharedModel(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "models", name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipping: %s not found (../shared/models is only present in CI and development checkouts)", path)
	}
	return path
}

// fixture returns the path of a committed fixture under testdata.
func fixture(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join("..", "testdata", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("fixture %s missing: regenerate with go run ./internal/fixtures", path)
	}
	return path
}

func loadModel(t testing.TB, path string) *Model {
	t.Helper()
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// maxAbsDiff returns max |a[i] − b[i]| and its index.
func maxAbsDiff(a, b []float32) (float64, int) {
	worst, at := 0.0, -1
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	return worst, at
}
