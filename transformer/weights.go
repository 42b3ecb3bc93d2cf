package transformer

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/interp-go/interp/gguf"
	"github.com/interp-go/interp/transformer/internal/kernels"
)

// matrix is a named weight matrix; see kernels.Matrix for its layout.
type matrix struct {
	name string
	kernels.Matrix
}

// linear is a linear layer y = x·Wᵀ + b; the bias may be absent. name is
// the tensors' prefix, such as "blk.0.attn_qkv".
type linear struct {
	name   string
	weight matrix
	bias   []float32
}

// norm is a LayerNorm or RMSNorm's elementwise weight and optional bias.
// name is the tensors' prefix, such as "blk.0.attn_norm".
type norm struct {
	name   string
	weight []float32
	bias   []float32
}

// Struct tags bind weight fields to GGUF tensors, so an architecture
// declares its weights and one loader fills them:
//
//	gguf:"NAME[,bias][,alt=OTHER]"  shape:"ROWS,COLS" or shape:"LEN"
//
// For a matrix field NAME is the full tensor name; for a linear or norm
// field it is a prefix that gets ".weight" and ".bias". "bias" makes the
// bias required (otherwise it is optional for linear and absent for norm
// unless the file has it). "alt" names the tensor to use when NAME is
// missing (tied output embeddings). A slice of structs binds one element
// per block with "NAME.<i>." prepended to its fields' names. Shapes are
// products of config symbols and integers, such as "3*d_model,d_model".

type binder struct {
	f     *gguf.File
	dims  map[string]int
	used  map[string]bool
	count int // blocks, for slices
}

func bindWeights(f *gguf.File, c Config, dst any) error {
	b := &binder{
		f: f,
		dims: map[string]int{
			"d_model": c.DModel, "d_mlp": c.DMLP, "n_ctx": c.NCtx, "vocab": c.VocabSize,
			"n_heads": c.NHeads, "n_kv_heads": c.NKVHeads, "d_head": c.DHead,
		},
		used:  map[string]bool{},
		count: c.NLayers,
	}
	return b.bindStruct(reflect.ValueOf(dst).Elem(), "")
}

func (b *binder) bindStruct(v reflect.Value, prefix string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		field := t.Field(i)
		tag, ok := field.Tag.Lookup("gguf")
		if !ok {
			continue
		}
		parts := strings.Split(tag, ",")
		name := prefix + parts[0]
		var alt string
		requireBias := false
		for _, opt := range parts[1:] {
			switch {
			case opt == "bias":
				requireBias = true
			case strings.HasPrefix(opt, "alt="):
				alt = strings.TrimPrefix(opt, "alt=")
			}
		}
		shape, err := b.shape(field.Tag.Get("shape"))
		if err != nil {
			return fmt.Errorf("transformer: field %s: %w", field.Name, err)
		}
		fv := v.Field(i)
		switch p := fv.Addr().Interface().(type) {
		case *matrix:
			if _, ok := b.f.Tensor(name); !ok && alt != "" {
				name = alt
			}
			*p, err = b.matrix(name, shape)
		case *linear:
			p.name = name
			p.weight, err = b.matrix(name+".weight", shape)
			if err == nil {
				p.bias, err = b.vector(name+".bias", shape[0], requireBias)
			}
		case *norm:
			p.name = name
			p.weight, err = b.vector(name+".weight", shape[0], true)
			if err == nil {
				p.bias, err = b.vector(name+".bias", shape[0], requireBias)
			}
		default:
			if fv.Kind() != reflect.Slice || fv.Type().Elem().Kind() != reflect.Struct {
				return fmt.Errorf("transformer: field %s: type %s cannot bind a tensor", field.Name, fv.Type())
			}
			fv.Set(reflect.MakeSlice(fv.Type(), b.count, b.count))
			for j := 0; j < b.count; j++ {
				if err := b.bindStruct(fv.Index(j), name+"."+strconv.Itoa(j)+"."); err != nil {
					return err
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// shape evaluates a shape tag such as "3*d_model,d_model".
func (b *binder) shape(spec string) ([]int, error) {
	if spec == "" {
		return nil, nil
	}
	var out []int
	for _, dim := range strings.Split(spec, ",") {
		n := 1
		for _, factor := range strings.Split(dim, "*") {
			if v, ok := b.dims[factor]; ok {
				n *= v
			} else if v, err := strconv.Atoi(factor); err == nil {
				n *= v
			} else {
				return nil, fmt.Errorf("unknown dimension %q in shape %q", factor, spec)
			}
		}
		out = append(out, n)
	}
	return out, nil
}

func (b *binder) matrix(name string, shape []int) (matrix, error) {
	info, ok := b.f.Tensor(name)
	if !ok {
		return matrix{}, fmt.Errorf("transformer: %s: missing tensor %q", b.f.Path, name)
	}
	rows, cols := shape[0], shape[1]
	if len(info.Dims) != 2 || info.Dims[0] != uint64(cols) || info.Dims[1] != uint64(rows) {
		return matrix{}, fmt.Errorf("transformer: %s: tensor %q has dimensions %v, want [%d %d] (GGUF order: inputs, outputs)", b.f.Path, name, info.Dims, cols, rows)
	}
	var f32 []float32
	var raw []byte
	var err error
	if info.Type == gguf.TypeF32 {
		f32, err = b.f.TensorFloat32(name)
	} else {
		raw, err = b.f.TensorBytes(name)
	}
	if err != nil {
		return matrix{}, fmt.Errorf("transformer: %s: %w", b.f.Path, err)
	}
	m, err := kernels.NewMatrix(rows, cols, info.Type, f32, raw)
	if err != nil {
		return matrix{}, fmt.Errorf("transformer: %s: tensor %q: %w", b.f.Path, name, err)
	}
	return matrix{name: name, Matrix: m}, nil
}

func (b *binder) vector(name string, n int, required bool) ([]float32, error) {
	info, ok := b.f.Tensor(name)
	if !ok {
		if required {
			return nil, fmt.Errorf("transformer: %s: missing tensor %q", b.f.Path, name)
		}
		return nil, nil
	}
	if info.NumElements() != uint64(n) {
		return nil, fmt.Errorf("transformer: %s: tensor %q has dimensions %v, want [%d]", b.f.Path, name, info.Dims, n)
	}
	data, err := b.f.TensorFloat32(name)
	if err != nil {
		return nil, fmt.Errorf("transformer: %s: %w", b.f.Path, err)
	}
	return data, nil
}
