package interp

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/interp-go/interp/gguf"
	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// Control-vector files are GGUF files in the layout that llama.cpp's
// cvector-generator writes and its common_control_vector_load reads
// (common/common.cpp): general.architecture = "controlvector",
// controlvector.model_hint (the architecture of the model the vector was
// made for), controlvector.layer_count (the number of directions, written
// as int32 by llama.cpp and as other integer types by other tools), and one
// 1-D F32 tensor direction.N of length d_model for each steered block N.
// llama.cpp adds direction.N to the output of block N, counting from 0, and
// has no direction for block 0.
const (
	controlVectorArch      = "controlvector"
	controlVectorHintKey   = controlVectorArch + ".model_hint"
	controlVectorLayersKey = controlVectorArch + ".layer_count"
	directionPrefix        = "direction."
)

// ControlVectorFile names a control-vector file and the strength its
// directions are multiplied by, as llama.cpp's --control-vector-scaled
// FILE STRENGTH does (strength 1 for --control-vector FILE).
type ControlVectorFile struct {
	Path     string
	Strength float64
}

// ControlVector is the content of one control-vector file.
type ControlVector struct {
	// Vector has Method SteerControlVector, Point hooks.ResidPost and the
	// file's directions by block.
	Vector
	// ModelHint is controlvector.model_hint, or "" when the file has none.
	ModelHint string
}

// ReadControlVector reads a control-vector file. It accepts what llama.cpp
// accepts: tensors named direction.N with N ≥ 1, each 1-D F32 of one common
// length, several tensors for one block summed, and layer_count of any
// integer type. It rejects files whose general.architecture is another
// model's and files with no directions.
func ReadControlVector(path string) (*ControlVector, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("interp: control vector: %w", err)
	}
	defer f.Close()

	if arch, ok := f.Value("general.architecture"); ok && arch != controlVectorArch {
		return nil, fmt.Errorf("interp: %s: general.architecture is %q, not %q; pass a control-vector file, not a model", path, arch, controlVectorArch)
	}
	cv := &ControlVector{Vector: Vector{Method: SteerControlVector, Point: hooks.ResidPost, Directions: map[int][]float32{}}}
	if v, ok := f.Value(controlVectorHintKey); ok {
		hint, isString := v.(string)
		if !isString {
			return nil, fmt.Errorf("interp: %s: %s is a %T, want a string", path, controlVectorHintKey, v)
		}
		cv.ModelHint = hint
	}
	if v, ok := f.Value(controlVectorLayersKey); ok {
		_, signed := f.Int(controlVectorLayersKey)
		_, unsigned := f.Uint(controlVectorLayersKey)
		if !signed && !unsigned {
			return nil, fmt.Errorf("interp: %s: %s is %v (%T), want an integer", path, controlVectorLayersKey, v, v)
		}
	}

	width := -1
	for _, t := range f.Tensors {
		layer, err := directionLayer(t.Name)
		if err != nil {
			return nil, fmt.Errorf("interp: %s: %w", path, err)
		}
		if t.Type != gguf.TypeF32 {
			return nil, fmt.Errorf("interp: %s: tensor %s has type %s, want F32", path, t.Name, t.Type)
		}
		n := int(t.NumElements())
		if uint64(n) != t.Dims[0] {
			return nil, fmt.Errorf("interp: %s: tensor %s has dimensions %v, want one dimension", path, t.Name, t.Dims)
		}
		if width >= 0 && n != width {
			return nil, fmt.Errorf("interp: %s: tensor %s has %d values, but the tensors before it have %d", path, t.Name, n, width)
		}
		width = n
		values, err := f.TensorFloat32(t.Name)
		if err != nil {
			return nil, fmt.Errorf("interp: %w", err)
		}
		dir := cv.Directions[layer]
		if dir == nil {
			dir = make([]float32, n)
			cv.Directions[layer] = dir
		}
		for j, x := range values {
			dir[j] += x
		}
	}
	if width < 0 {
		return nil, fmt.Errorf("interp: %s has no direction tensors", path)
	}
	return cv, nil
}

// directionLayer returns N of a tensor named direction.N, N ≥ 1.
func directionLayer(name string) (int, error) {
	digits, ok := strings.CutPrefix(name, directionPrefix)
	if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, fmt.Errorf("tensor %q is not named direction.N with a block number N", name)
	}
	layer, err := strconv.Atoi(digits)
	if err != nil {
		return 0, fmt.Errorf("tensor %q: block number out of range", name)
	}
	if layer == 0 {
		return 0, fmt.Errorf("tensor %q is invalid: llama.cpp never steers block 0, so control vectors start at direction.1", name)
	}
	return layer, nil
}

// LoadControlVectors reads control-vector files and sums their directions,
// each multiplied by its file's strength, as llama.cpp sums several
// --control-vector options (in float32, in file order). The result is
// checked against the model: a direction whose length differs from
// d_model, or for a block the model does not have, is an error; llama.cpp
// ignores directions for missing blocks instead.
func LoadControlVectors(m *transformer.Model, files []ControlVectorFile) (*Vector, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("interp: no control-vector files given")
	}
	sum := &Vector{Method: SteerControlVector, Point: hooks.ResidPost, Directions: map[int][]float32{}}
	for _, file := range files {
		cv, err := ReadControlVector(file.Path)
		if err != nil {
			return nil, err
		}
		strength := float32(file.Strength)
		for _, l := range cv.Layers() {
			dir := cv.Directions[l]
			if len(dir) != m.DModel {
				return nil, fmt.Errorf("interp: control vector %s has directions of length %d, but the model's d_model is %d", file.Path, len(dir), m.DModel)
			}
			if l >= m.NLayers {
				return nil, fmt.Errorf("interp: control vector %s has direction.%d, but the model has blocks 0 to %d", file.Path, l, m.NLayers-1)
			}
			acc := sum.Directions[l]
			if acc == nil {
				acc = make([]float32, m.DModel)
				sum.Directions[l] = acc
			}
			for j, x := range dir {
				acc[j] += x * strength
			}
		}
	}
	return sum, nil
}

// WriteControlVector writes v as a control-vector file that llama.cpp
// loads, atomically. v must be added at hook_resid_post, have no direction
// for block 0 and directions of one length, all finite. modelHint is
// stored as controlvector.model_hint; llama.cpp's cvector-generator stores
// the model's general.architecture there.
func WriteControlVector(path string, v *Vector, modelHint string) error {
	if v.Point != hooks.ResidPost {
		return fmt.Errorf("interp: control vectors are added to hook_resid_post, but this vector steers %s", v.Point)
	}
	layers := v.Layers()
	if len(layers) == 0 {
		return fmt.Errorf("interp: steering vector has no directions to write")
	}
	if layers[0] == 0 {
		return fmt.Errorf("interp: a control vector cannot steer block 0, because llama.cpp rejects direction.0; choose blocks from 1")
	}
	width := len(v.Directions[layers[0]])
	for _, l := range layers {
		dir := v.Directions[l]
		if len(dir) != width {
			return fmt.Errorf("interp: directions of blocks %d and %d have lengths %d and %d", layers[0], l, width, len(dir))
		}
		for j, x := range dir {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("interp: direction of block %d has value %g at index %d", l, x, j)
			}
		}
	}

	w := gguf.NewWriter()
	meta := []struct {
		key   string
		value any
	}{
		{"general.architecture", controlVectorArch},
		{controlVectorHintKey, modelHint},
		{controlVectorLayersKey, int32(len(layers))},
	}
	for _, kv := range meta {
		if err := w.Add(kv.key, kv.value); err != nil {
			return fmt.Errorf("interp: %w", err)
		}
	}
	for _, l := range layers {
		name := directionPrefix + strconv.Itoa(l)
		if err := w.AddFloat32(name, gguf.TypeF32, []uint64{uint64(width)}, v.Directions[l]); err != nil {
			return fmt.Errorf("interp: %w", err)
		}
	}
	if err := w.WriteFile(path); err != nil {
		return fmt.Errorf("interp: writing control vector: %w", err)
	}
	return nil
}
