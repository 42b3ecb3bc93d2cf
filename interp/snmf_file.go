package interp

import (
	"archive/zip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"codeberg.org/sbinet/npyio/npz"
	"gonum.org/v1/gonum/mat"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// WriteSNMFNPZ writes a factorization of acts to w as a NumPy .npz archive
// that numpy.load reads. Z [d_mlp, k] and Y [k, tokens] are float64 arrays.
// The int64 arrays are the collected token ids [tokens], sequence_starts
// (the rows where each forward pass starts) and layer (the block, a 0-d
// array).
func WriteSNMFNPZ(w io.Writer, res *SNMFResult, acts *Activations) error {
	_, n := res.Y.Dims()
	if n != len(acts.IDs) {
		return fmt.Errorf("interp: Y has %d tokens, the activations %d", n, len(acts.IDs))
	}
	ids := make([]int64, len(acts.IDs))
	for i, id := range acts.IDs {
		ids[i] = int64(id)
	}
	starts := make([]int64, len(acts.SequenceStarts))
	for i, s := range acts.SequenceStarts {
		starts[i] = int64(s)
	}
	zw := zip.NewWriter(w)
	for _, a := range []npyArray{
		denseArray("Z", res.Z),
		denseArray("Y", res.Y),
		{name: "ids", shape: []int{len(ids)}, ints: ids},
		{name: "sequence_starts", shape: []int{len(starts)}, ints: starts},
		{name: "layer", shape: []int{}, ints: []int64{int64(acts.Layer)}},
	} {
		member, err := zw.CreateHeader(&zip.FileHeader{Name: a.name + ".npy", Method: zip.Store})
		if err != nil {
			return fmt.Errorf("interp: npz member %s: %w", a.name, err)
		}
		if err := a.write(member); err != nil {
			return fmt.Errorf("interp: npz member %s: %w", a.name, err)
		}
	}
	return zw.Close()
}

// npyArray is one array of an .npz archive: float64 values or int64 ones,
// in C order.
type npyArray struct {
	name   string
	shape  []int
	floats []float64
	ints   []int64
}

func denseArray(name string, m *mat.Dense) npyArray {
	r, c := m.Dims()
	values := make([]float64, 0, r*c)
	for i := range r {
		values = append(values, m.RawRowView(i)...)
	}
	return npyArray{name: name, shape: []int{r, c}, floats: values}
}

// write writes the array in NumPy's .npy format version 1.0. The file
// starts with the magic string and version, a little-endian uint16 header
// length, and a Python dict literal with dtype, order and shape. Spaces and
// a final newline pad the header so that the data starts at a multiple of
// 64 bytes.
func (a npyArray) write(w io.Writer) error {
	const magic = "\x93NUMPY\x01\x00"
	descr := "<f8"
	if a.floats == nil {
		descr = "<i8"
	}
	dims := make([]string, len(a.shape))
	for i, d := range a.shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	dict := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }"
	prefix := len(magic) + 2
	padded := (prefix + len(dict) + 1 + 63) / 64 * 64
	header := dict + strings.Repeat(" ", padded-prefix-len(dict)-1) + "\n"
	if len(header) > math.MaxUint16 {
		return fmt.Errorf("npy header of %d bytes does not fit format 1.0", len(header))
	}

	buf := make([]byte, 0, 1<<16)
	buf = append(buf, magic...)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(header)))
	buf = append(buf, header...)
	flush := func() error {
		if len(buf)+8 <= cap(buf) {
			return nil
		}
		_, err := w.Write(buf)
		buf = buf[:0]
		return err
	}
	for _, v := range a.floats {
		if err := flush(); err != nil {
			return err
		}
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
	}
	for _, v := range a.ints {
		if err := flush(); err != nil {
			return err
		}
		buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
	}
	_, err := w.Write(buf)
	return err
}

// Feature is one SNMF feature, read back from an output of `interp snmf`
// for steering: a direction z [d_mlp] in the hidden activation space of
// block Layer's MLP.
type Feature struct {
	Layer int
	Index int
	Z     []float32
}

// ParseFeatureRef splits a feature reference "FILE:INDEX", such as
// "features.npz:3", at its last colon.
func ParseFeatureRef(ref string) (path string, index int, err error) {
	i := strings.LastIndexByte(ref, ':')
	if i <= 0 {
		return "", 0, fmt.Errorf("interp: feature %q is not FILE:INDEX, such as features.npz:3", ref)
	}
	index, err = strconv.Atoi(ref[i+1:])
	if err != nil || index < 0 {
		return "", 0, fmt.Errorf("interp: feature %q: index %q is not a non-negative integer", ref, ref[i+1:])
	}
	return ref[:i], index, nil
}

// LoadFeature reads feature index (column index of Z) from a file that
// `interp snmf --out` wrote: an .npz file (arrays Z and layer) or a .json
// report (fields layer, d_mlp and features[index].neurons).
func LoadFeature(path string, index int) (*Feature, error) {
	var f *Feature
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npz":
		f, err = loadFeatureNPZ(path, index)
	case ".json":
		f, err = loadFeatureJSON(path, index)
	default:
		return nil, fmt.Errorf("interp: feature file %s: want an .npz or .json file written by interp snmf", path)
	}
	if err != nil {
		return nil, fmt.Errorf("interp: feature file %s: %w", path, err)
	}
	return f, nil
}

func loadFeatureNPZ(path string, index int) (*Feature, error) {
	r, err := npz.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()

	h := r.Header("Z.npy")
	if h == nil {
		return nil, errors.New("no array Z")
	}
	if len(h.Descr.Shape) != 2 || h.Descr.Fortran {
		return nil, fmt.Errorf("array Z has shape %v (Fortran order %v), want [d_mlp, k] in C order", h.Descr.Shape, h.Descr.Fortran)
	}
	d, k := h.Descr.Shape[0], h.Descr.Shape[1]
	if index >= k {
		return nil, fmt.Errorf("feature %d out of range; the file has features 0 to %d", index, k-1)
	}
	var values []float64
	switch strings.Trim(h.Descr.Type, "'") {
	case "<f8":
		if err := r.Read("Z.npy", &values); err != nil {
			return nil, err
		}
	case "<f4":
		var narrow []float32
		if err := r.Read("Z.npy", &narrow); err != nil {
			return nil, err
		}
		values = make([]float64, len(narrow))
		for i, v := range narrow {
			values[i] = float64(v)
		}
	default:
		return nil, fmt.Errorf("array Z has dtype %s, want <f8 or <f4", h.Descr.Type)
	}
	var layer []int64
	if err := r.Read("layer.npy", &layer); err != nil {
		return nil, err
	}
	if len(layer) != 1 {
		return nil, fmt.Errorf("array layer has %d values, want 1", len(layer))
	}
	f := &Feature{Layer: int(layer[0]), Index: index, Z: make([]float32, d)}
	for i := range d {
		f.Z[i] = float32(values[i*k+index])
	}
	return f, nil
}

func loadFeatureJSON(path string, index int) (*Feature, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var report SNMFReport
	if err := json.Unmarshal(data, &report); err != nil {
		return nil, err
	}

	if report.DMLP <= 0 {
		return nil, fmt.Errorf("d_mlp is %d; want the positive width of the MLP", report.DMLP)
	}
	var neurons []NeuronWeight
	found := false
	for _, fr := range report.Features {
		if fr.Index == index {
			neurons, found = fr.Neurons, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("no feature %d among the report's %d features", index, len(report.Features))
	}

	f := &Feature{Layer: report.Layer, Index: index, Z: make([]float32, report.DMLP)}
	for _, n := range neurons {
		if n.Neuron >= report.DMLP {
			return nil, fmt.Errorf("feature %d: neuron %d out of range for d_mlp %d", index, n.Neuron, report.DMLP)
		}
		f.Z[n.Neuron] = float32(n.Weight)
	}
	return f, nil
}

// HookName returns the hook point that the feature lives at,
// blocks.Layer.mlp.hook_post.
func (f *Feature) HookName() string {
	return hooks.Point{Layer: f.Layer, Kind: hooks.MLPPost}.Name()
}

// Validate checks the feature against a model: a block within the model,
// a direction of width d_mlp, and a non-zero direction.
func (f *Feature) Validate(m *transformer.Model) error {
	if f.Layer < 0 || f.Layer >= m.NLayers {
		return fmt.Errorf("interp: feature %d is at block %d, but the model has blocks 0 to %d", f.Index, f.Layer, m.NLayers-1)
	}
	if len(f.Z) != m.DMLP {
		return fmt.Errorf("interp: feature %d has %d neurons, but the model's d_mlp is %d; was it found on another model?", f.Index, len(f.Z), m.DMLP)
	}
	if f.norm() == 0 {
		return fmt.Errorf("interp: feature %d is zero", f.Index)
	}
	return nil
}

func (f *Feature) norm() float64 {
	var s float64
	for _, v := range f.Z {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// Direction returns z/‖z‖, the feature scaled to unit norm. A zero
// feature gives a zero vector.
func (f *Feature) Direction() []float32 {
	norm := f.norm()
	dir := make([]float32, len(f.Z))
	if norm == 0 {
		return dir
	}
	for i, v := range f.Z {
		dir[i] = float32(float64(v) / norm)
	}
	return dir
}

// SteeringHook returns a forward hook for blocks.Layer.mlp.hook_post that
// adds strength·z/‖z‖ to the MLP hidden activation at every position, in
// prefill and in every decoding step alike.
func (f *Feature) SteeringHook(strength float64) hooks.Func {
	dir := f.Direction()
	for i, v := range dir {
		dir[i] = float32(strength * float64(v))
	}
	return hooks.AddVector(dir)
}

// Attach registers SteeringHook(strength) on h at the feature's hook
// point. Hooks registered on h later see the steered activation.
func (f *Feature) Attach(h *hooks.Hooks, strength float64) {
	h.Add(f.HookName(), f.SteeringHook(strength))
}
