package interp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npz"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

func writeTestNPZ(t *testing.T, res *SNMFResult, acts *Activations) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "features.npz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSNMFNPZ(f, res, acts); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// The archive is read back with npyio, an independent .npz reader.
func TestWriteSNMFNPZ(t *testing.T) {
	_, acts, res := factorFixture(t, 3)
	path := writeTestNPZ(t, res, acts)
	r, err := npz.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	for _, tc := range []struct {
		name  string
		dtype string
		shape []int
	}{
		{"Z.npy", "<f8", []int{256, 3}},
		{"Y.npy", "<f8", []int{3, 90}},
		{"ids.npy", "<i8", []int{90}},
		{"sequence_starts.npy", "<i8", []int{3}},
		{"layer.npy", "<i8", []int{}},
	} {
		h := r.Header(tc.name)
		if h == nil {
			t.Errorf("no member %s", tc.name)
			continue
		}
		if dtype := strings.Trim(h.Descr.Type, "'"); dtype != tc.dtype || h.Descr.Fortran {
			t.Errorf("%s: dtype %s, Fortran order %v; want %s in C order", tc.name, dtype, h.Descr.Fortran, tc.dtype)
		}
		if !slices.Equal(h.Descr.Shape, tc.shape) && !(len(tc.shape) == 0 && len(h.Descr.Shape) == 0) {
			t.Errorf("%s: shape %v, want %v", tc.name, h.Descr.Shape, tc.shape)
		}
	}

	var y []float64
	if err := r.Read("Y.npy", &y); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if !slices.Equal(y[i*90:(i+1)*90], res.Y.RawRowView(i)) {
			t.Errorf("row %d of Y differs", i)
		}
	}
	var ids []int64
	if err := r.Read("ids.npy", &ids); err != nil {
		t.Fatal(err)
	}
	for i, id := range acts.IDs {
		if ids[i] != int64(id) {
			t.Fatalf("ids[%d] = %d, want %d", i, ids[i], id)
		}
	}
	var layer []int64
	if err := r.Read("layer.npy", &layer); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(layer, []int64{1}) {
		t.Errorf("layer %v, want [1]", layer)
	}
}

func TestLoadFeatureFromNPZAndJSON(t *testing.T) {
	m, acts, res := factorFixture(t, 3)
	npzPath := writeTestNPZ(t, res, acts)
	report, err := InterpretSNMF(m, acts, res, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(t.TempDir(), "features.json")
	data, _ := json.Marshal(report)
	if err := os.WriteFile(jsonPath, data, 0o644); err != nil {
		t.Fatal(err)
	}

	want := make([]float32, m.DMLP)
	for i := range want {
		want[i] = float32(res.Z.At(i, 2))
	}
	for _, path := range []string{npzPath, jsonPath} {
		f, err := LoadFeature(path, 2)
		if err != nil {
			t.Fatal(err)
		}
		if f.Layer != 1 || f.Index != 2 {
			t.Errorf("%s: layer %d, index %d; want 1, 2", filepath.Base(path), f.Layer, f.Index)
		}
		if !slices.Equal(f.Z, want) {
			t.Errorf("%s: z differs from column 2 of Z", filepath.Base(path))
		}
		if err := f.Validate(m); err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
		}
		if _, err := LoadFeature(path, 3); err == nil || !strings.Contains(err.Error(), "3") {
			t.Errorf("%s: feature 3 of 3: got error %v", filepath.Base(path), err)
		}
	}
	if _, err := LoadFeature(filepath.Join(t.TempDir(), "features.txt"), 0); err == nil {
		t.Error("accepted a .txt feature file")
	}
}

func TestParseFeatureRef(t *testing.T) {
	for _, tc := range []struct {
		ref   string
		path  string
		index int
		ok    bool
	}{
		{"features.npz:3", "features.npz", 3, true},
		{"C:/runs/a.json:0", "C:/runs/a.json", 0, true},
		{"features.npz", "", 0, false},
		{"features.npz:-1", "", 0, false},
		{"features.npz:x", "", 0, false},
		{":3", "", 0, false},
	} {
		path, index, err := ParseFeatureRef(tc.ref)
		if (err == nil) != tc.ok {
			t.Errorf("%q: error %v, want ok %v", tc.ref, err, tc.ok)
			continue
		}
		if tc.ok && (path != tc.path || index != tc.index) {
			t.Errorf("%q: got %q, %d; want %q, %d", tc.ref, path, index, tc.path, tc.index)
		}
	}
}

// A steered run's MLP hidden activation is the unsteered one plus
// strength·z/‖z‖ at every position.
func TestFeatureSteeringAddsDirection(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	z := make([]float32, m.DMLP)
	z[3], z[40] = 3, -4 // norm 5
	f := &Feature{Layer: 1, Index: 0, Z: z}
	if err := f.Validate(m); err != nil {
		t.Fatal(err)
	}
	ids, _ := m.Tokenizer.Encode("When Mary and John went", false)
	plain := hiddenOf(t, m, ids, 1)

	h := &hooks.Hooks{}
	f.Attach(h, 10)
	cache := hooks.NewCache(f.HookName())
	cache.Attach(h)
	if _, err := m.Run(ids, &transformer.Options{Hooks: h, Logits: transformer.NoLogits}); err != nil {
		t.Fatal(err)
	}
	steered, _ := cache.Get(f.HookName())
	for p := range len(ids) {
		for i := range m.DMLP {
			want := plain[p*m.DMLP+i]
			switch i {
			case 3:
				want += 6
			case 40:
				want -= 8
			}
			if got := steered.Data[p*m.DMLP+i]; got != want {
				t.Fatalf("position %d, neuron %d: %g, want %g", p, i, got, want)
			}
		}
	}
}

func TestFeatureValidate(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	unit := make([]float32, m.DMLP)
	unit[0] = 1
	for _, tc := range []struct {
		name string
		f    Feature
		want string
	}{
		{"block past the last", Feature{Layer: 2, Z: unit}, "block 2"},
		{"other width", Feature{Layer: 0, Z: unit[:10]}, "10 neurons"},
		{"zero", Feature{Layer: 0, Z: make([]float32, m.DMLP)}, "is zero"},
	} {
		if err := tc.f.Validate(m); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
