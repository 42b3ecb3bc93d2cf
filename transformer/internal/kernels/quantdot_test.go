package kernels

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/interp-go/interp/gguf"
)

// quantizedTypes lists every weight type with an integer dot product.
var quantizedTypes = []gguf.Type{
	gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ8_0,
	gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K,
}

// TestQuantizeActivationsMatchGGML compares the activation quantizers with
// the blocks that ggml's quantize_row_q8_0_ref, quantize_row_q8_1_ref and
// quantize_row_q8_K_ref made of the same rows
// (testdata/q8_activations.json; testdata/README.md gives the command).
func TestQuantizeActivationsMatchGGML(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "q8_activations.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Cases []struct {
			Type   string
			X      []float64
			Blocks string
		}
	}
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	formats := map[string]gguf.Type{"Q8_0": gguf.TypeQ8_0, "Q8_1": gguf.TypeQ8_1, "Q8_K": gguf.TypeQ8_K}
	seen := map[string]int{}
	for _, c := range golden.Cases {
		format, ok := formats[c.Type]
		if !ok {
			t.Fatalf("golden case of unknown type %q", c.Type)
		}
		name := fmt.Sprintf("%s/%d", c.Type, seen[c.Type])
		seen[c.Type]++
		t.Run(name, func(t *testing.T) {
			x := make([]float32, len(c.X))
			for i, v := range c.X {
				x[i] = float32(v)
			}
			want, err := hex.DecodeString(c.Blocks)
			if err != nil {
				t.Fatal(err)
			}
			got := packQuantRow(quantizeRows(format, x, 1, len(x)))
			if len(got) != len(want) {
				t.Fatalf("%d bytes, ggml wrote %d", len(got), len(want))
			}
			size := format.BlockBytes()
			for b := 0; b < len(want)/size; b++ {
				g, w := got[b*size:(b+1)*size], want[b*size:(b+1)*size]
				if string(g) != string(w) {
					t.Errorf("block %d:\n got %x\nwant %x", b, g, w)
				}
			}
		})
	}
	if len(seen) != len(formats) {
		t.Errorf("golden covers %v, want all of Q8_0, Q8_1 and Q8_K", seen)
	}
}

// packQuantRow writes row 0 of q in ggml's block layout (block_q8_0,
// block_q8_1 or block_q8_K of ggml-common.h).
func packQuantRow(q *quantRows) []byte {
	le := binary.LittleEndian
	r := q.row(0)
	var out []byte
	for b := range r.d {
		switch q.format {
		case gguf.TypeQ8_0:
			out = le.AppendUint16(out, gguf.Float32ToF16(r.d[b]))
		case gguf.TypeQ8_1:
			out = le.AppendUint16(out, gguf.Float32ToF16(r.d[b]))
			out = le.AppendUint16(out, gguf.Float32ToF16(r.s[b]))
		case gguf.TypeQ8_K:
			out = le.AppendUint32(out, math.Float32bits(r.d[b]))
		}
		block := q.format.BlockSize()
		for _, v := range r.qs[b*block : (b+1)*block] {
			out = append(out, byte(v))
		}
		if q.format == gguf.TypeQ8_K {
			for _, s := range r.bsums[16*b : 16*b+16] {
				out = le.AppendUint16(out, uint16(s))
			}
		}
	}
	return out
}

// f16Fields lists the byte offsets of the F16 factors in each block type.
var f16Fields = map[gguf.Type][]int{
	gguf.TypeQ4_0: {0}, gguf.TypeQ4_1: {0, 2}, gguf.TypeQ5_0: {0}, gguf.TypeQ5_1: {0, 2}, gguf.TypeQ8_0: {0},
	gguf.TypeQ2_K: {80, 82}, gguf.TypeQ3_K: {108}, gguf.TypeQ4_K: {0, 2}, gguf.TypeQ5_K: {0, 2}, gguf.TypeQ6_K: {208},
}

// randomBlocks returns rows·cols values of type t as random bytes, with
// every F16 factor replaced by a random finite value between 1e-3 and 1e-1
// in magnitude, of either sign, so every pattern of quants and sub-block
// scales occurs.
func randomBlocks(rng *rand.Rand, t gguf.Type, rows, cols int) []byte {
	raw := make([]byte, rows*cols/t.BlockSize()*t.BlockBytes())
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	for b := 0; b < len(raw); b += t.BlockBytes() {
		for _, off := range f16Fields[t] {
			v := float32(math.Pow(10, -3+2*rng.Float64()))
			if rng.IntN(2) == 0 {
				v = -v
			}
			binary.LittleEndian.PutUint16(raw[b+off:], gguf.Float32ToF16(v))
		}
	}
	return raw
}

// refBlock is one weight block decoded value by value, written from the
// layouts in ggml-common.h independently of the unpack functions.
type refBlock struct {
	q     []int64 // integer value, as the dot product uses it
	scale []int64 // integer sub-block scale of each value (K-quants)
	min   []int64 // integer sub-block minimum of each 16-value group (Q2_K, Q4_K, Q5_K)
	d, m  float32 // F16 factors: d, and m or dmin
}

// refDecode decodes the block of type t at the start of raw.
func refDecode(t gguf.Type, raw []byte) refBlock {
	n := t.BlockSize()
	r := refBlock{q: make([]int64, n), scale: make([]int64, n), min: make([]int64, n/16)}
	le := binary.LittleEndian
	f16At := func(off int) float32 { return gguf.F16ToFloat32(le.Uint16(raw[off:])) }
	nibble := func(b byte, high bool) int64 {
		if high {
			return int64(b >> 4)
		}
		return int64(b & 0xF)
	}
	switch t {
	case gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1:
		qsAt := map[gguf.Type]int{gguf.TypeQ4_0: 2, gguf.TypeQ4_1: 4, gguf.TypeQ5_0: 6, gguf.TypeQ5_1: 8}[t]
		r.d = f16At(0)
		if t == gguf.TypeQ4_1 || t == gguf.TypeQ5_1 {
			r.m = f16At(2)
		}
		for i := range n {
			v := nibble(raw[qsAt+i%16], i >= 16)
			switch t {
			case gguf.TypeQ4_0:
				v -= 8
			case gguf.TypeQ5_0:
				v = v | int64(le.Uint32(raw[2:])>>i&1)<<4 - 16
			case gguf.TypeQ5_1:
				v |= int64(le.Uint32(raw[4:])>>i&1) << 4
			}
			r.q[i] = v
		}
	case gguf.TypeQ8_0:
		r.d = f16At(0)
		for i := range n {
			r.q[i] = int64(int8(raw[2+i]))
		}
	case gguf.TypeQ2_K, gguf.TypeQ3_K:
		// Value i lies in half i/128; bit pair p = (i%128)/32 of byte i%32
		// of that half's 32 bytes of qs.
		qsAt := map[gguf.Type]int{gguf.TypeQ2_K: 16, gguf.TypeQ3_K: 32}[t]
		for i := range n {
			half, p, l := i/128, (i%128)/32, i%32
			r.q[i] = int64(raw[qsAt+32*half+l] >> (2 * p) & 3)
		}
		if t == gguf.TypeQ2_K {
			r.d, r.m = f16At(80), f16At(82)
			for i := range n {
				r.scale[i] = int64(raw[i/16] & 0xF)
			}
			for j := range n / 16 {
				r.min[j] = int64(raw[j] >> 4)
			}
			break
		}
		r.d = f16At(108)
		scales := q3KScalesRef(raw[96:108])
		for i := range n {
			half, p, l := i/128, (i%128)/32, i%32
			if raw[l]>>(4*half+p)&1 == 0 {
				r.q[i] -= 4
			}
			r.scale[i] = scales[i/16] - 32
		}
	case gguf.TypeQ4_K, gguf.TypeQ5_K:
		r.d, r.m = f16At(0), f16At(2)
		scales, mins := kScalesRef(raw[4:16])
		qsAt := map[gguf.Type]int{gguf.TypeQ4_K: 16, gguf.TypeQ5_K: 48}[t]
		for i := range n {
			g, l, high := i/64, i%32, i%64 >= 32
			r.q[i] = nibble(raw[qsAt+32*g+l], high)
			if t == gguf.TypeQ5_K {
				r.q[i] += 16 * int64(raw[16+l]>>(i/32)&1)
			}
			r.scale[i] = scales[i/32]
		}
		for j := range n / 16 {
			r.min[j] = mins[j/2]
		}
	case gguf.TypeQ6_K:
		r.d = f16At(208)
		for i := range n {
			half, p, l := i/128, (i%128)/32, i%32
			low := nibble(raw[64*half+l+32*(p%2)], p >= 2)
			high := int64(raw[128+32*half+l] >> (2 * p) & 3)
			r.q[i] = low | high<<4 - 32
			r.scale[i] = int64(int8(raw[192+i/16]))
		}
	}
	return r
}

// q3KScalesRef unpacks the sixteen 6-bit Q3_K scales the way ggml's
// ggml_vec_dot_q3_K_q8_K does, on the 12 bytes as three little-endian
// uint32 words.
func q3KScalesRef(s []byte) [16]int64 {
	le := binary.LittleEndian
	a0, a1, tmp := le.Uint32(s), le.Uint32(s[4:]), le.Uint32(s[8:])
	words := [4]uint32{
		a0&0x0f0f0f0f | (tmp>>0&0x03030303)<<4,
		a1&0x0f0f0f0f | (tmp>>2&0x03030303)<<4,
		a0>>4&0x0f0f0f0f | (tmp>>4&0x03030303)<<4,
		a1>>4&0x0f0f0f0f | (tmp>>6&0x03030303)<<4,
	}
	var out [16]int64
	for i := range out {
		out[i] = int64(words[i/4] >> (8 * (i % 4)) & 0xFF)
	}
	return out
}

// kScalesRef unpacks the eight 6-bit scales and minimums of a Q4_K or Q5_K
// super-block the way ggml's ggml_vec_dot_q4_K_q8_K does, on three
// little-endian uint32 words.
func kScalesRef(s []byte) (scales, mins [8]int64) {
	le := binary.LittleEndian
	u := [4]uint32{le.Uint32(s), le.Uint32(s[4:]), le.Uint32(s[8:])}
	u[3] = u[2]>>4&0x0f0f0f0f | (u[1]>>6&0x03030303)<<4
	lowMins := u[1] & 0x3f3f3f3f
	u[1] = u[2]&0x0f0f0f0f | (u[0]>>6&0x03030303)<<4
	u[2] = lowMins
	u[0] &= 0x3f3f3f3f
	for i := range 8 {
		scales[i] = int64(u[i/4] >> (8 * (i % 4)) & 0xFF)
		mins[i] = int64(u[2+i/4] >> (8 * (i % 4)) & 0xFF)
	}
	return scales, mins
}

// refValue returns value i of the block as ggml's dequantize_row_* computes
// it in float32, from the reference decoding.
func refValue(t gguf.Type, r refBlock, i int) float32 {
	q := float32(r.q[i])
	switch t {
	case gguf.TypeQ4_1, gguf.TypeQ5_1:
		return float32(q*r.d) + r.m
	case gguf.TypeQ2_K, gguf.TypeQ4_K, gguf.TypeQ5_K:
		dl := float32(r.d * float32(r.scale[i]))
		ml := float32(r.m * float32(r.min[i/16]))
		return float32(dl*q) - ml
	case gguf.TypeQ3_K, gguf.TypeQ6_K:
		return float32(r.d*float32(r.scale[i])) * q
	}
	return q * r.d
}

// refDot returns the dot product of one weight row of type t with one
// activation row, from the reference decoding: exact integer sums per
// block, lane and sub-block, then the float32 operations of ggml's
// ggml_vec_dot_*_generic in their order. The activation block sums are
// recomputed here from the quants.
func refDot(t gguf.Type, raw []byte, x quantRow) float32 {
	n, size := t.BlockSize(), t.BlockBytes()
	var sum float32
	var lanes [8]float32
	for b := 0; b < len(raw)/size; b++ {
		r := refDecode(t, raw[b*size:(b+1)*size])
		xq := x.qs[b*n : (b+1)*n]
		dx := x.d[b]
		if n == qk8 {
			var sumi int64
			for i := range n {
				sumi += r.q[i] * int64(xq[i])
			}
			switch t {
			case gguf.TypeQ4_0:
				sum += float32(float32(float32(sumi)*r.d) * dx)
			case gguf.TypeQ4_1, gguf.TypeQ5_1:
				sum += float32(float32(r.d*dx)*float32(sumi)) + float32(r.m*x.s[b])
			default:
				sum += float32(float32(r.d*dx) * float32(sumi))
			}
			continue
		}

		var lane [8]int64
		var isum, summs int64
		for i := range n {
			p := r.scale[i] * r.q[i] * int64(xq[i])
			lane[i%8] += p
			isum += p
		}
		for j := range n / 16 {
			var bsum int64
			for _, v := range xq[16*j : 16*j+16] {
				bsum += int64(v)
			}
			summs += bsum * r.min[j]
		}
		switch t {
		case gguf.TypeQ2_K:
			dall, dmin := float32(dx*r.d), float32(dx*r.m)
			sum += float32(dall*float32(isum)) - float32(dmin*float32(summs))
		default:
			d := float32(r.d * dx)
			for l := range lanes {
				lanes[l] += float32(d * float32(lane[l]))
			}
			if t == gguf.TypeQ4_K || t == gguf.TypeQ5_K {
				sum -= float32(float32(r.m*dx) * float32(summs))
			}
		}
	}
	if n == qkK && t != gguf.TypeQ2_K {
		for _, v := range lanes {
			sum += v
		}
	}
	return sum
}

// TestRefDecodeMatchesDequantize checks the test's reference decoding
// against gguf.Dequantize, which matches ggml's dequantization bit for bit,
// so that refDot starts from ggml's values.
func TestRefDecodeMatchesDequantize(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, typ := range quantizedTypes {
		raw := randomBlocks(rng, typ, 1, 4*typ.BlockSize())
		want := make([]float32, 4*typ.BlockSize())
		if err := gguf.Dequantize(want, raw, typ); err != nil {
			t.Fatal(err)
		}
		for b := range 4 {
			r := refDecode(typ, raw[b*typ.BlockBytes():(b+1)*typ.BlockBytes()])
			for i := range typ.BlockSize() {
				got := refValue(typ, r, i)
				if w := want[b*typ.BlockSize()+i]; math.Float32bits(got) != math.Float32bits(w) {
					t.Fatalf("%s block %d value %d: reference decodes %g, Dequantize %g", typ, b, i, got, w)
				}
			}
		}
	}
}

// TestMatMulQuantizedMatchesReference checks every element of MatMul on
// quantized weights, bit for bit, against refDot on the same quantized
// activations. The shapes give one and several blocks per row, a partial
// tile of weight rows, and one or several activation rows. An all-zero
// activation block (scale 0) is included. It checks the assembly dot
// products (where the CPU has them) and the portable ones.
func TestMatMulQuantizedMatchesReference(t *testing.T) {
	for _, path := range quantPaths() {
		t.Run(path.name, func(t *testing.T) {
			withQuantPath(path, func() { checkMatMulQuantizedMatchesReference(t) })
		})
	}
}

func checkMatMulQuantizedMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, typ := range quantizedTypes {
		for _, shape := range []struct{ m, n, blocks int }{{1, 3, 1}, {3, 70, 2}, {5, 130, 4}} {
			k := shape.blocks * typ.BlockSize()
			raw := randomBlocks(rng, typ, shape.n, k)
			w, err := NewMatrix(shape.n, k, typ, nil, raw)
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, shape.m*k)
			for i := range shape.m {
				scale := math.Pow(10, -2+3*rng.Float64())
				for c := range k {
					x[i*k+c] = float32(scale * rng.NormFloat64())
				}
			}
			if shape.m > 1 {
				clear(x[k : k+typ.BlockSize()])
			}

			got := make([]float32, shape.m*shape.n)
			MatMul(got, x, shape.m, &w)

			format, _ := activationFormat(typ)
			xq := quantizeRows(format, x, shape.m, k)
			for i := range shape.m {
				for j := range shape.n {
					want := refDot(typ, raw[j*w.RowBytes:(j+1)*w.RowBytes], xq.row(i))
					if g := got[i*shape.n+j]; math.Float32bits(g) != math.Float32bits(want) {
						t.Fatalf("%s m=%d n=%d k=%d: element [%d,%d] = %g, reference %g",
							typ, shape.m, shape.n, k, i, j, g, want)
					}
				}
			}
		}
	}
}

// TestMatMulQuantizedNearFloat checks that the integer product stays close
// to the float64 product of the decoded weights and the decoded activation
// quants, which catches a scale applied to the wrong block that refDot
// might share. It checks both paths, as TestMatMulQuantizedMatchesReference
// does.
func TestMatMulQuantizedNearFloat(t *testing.T) {
	for _, path := range quantPaths() {
		t.Run(path.name, func(t *testing.T) {
			withQuantPath(path, func() { checkMatMulQuantizedNearFloat(t) })
		})
	}
}

func checkMatMulQuantizedNearFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, typ := range quantizedTypes {
		const m, n = 2, 9
		k := 2 * qkK
		w, err := NewMatrix(n, k, typ, nil, randomBlocks(rng, typ, n, k))
		if err != nil {
			t.Fatal(err)
		}
		x := randomFloats(rng, m*k)
		got := make([]float32, m*n)
		MatMul(got, x, m, &w)

		format, _ := activationFormat(typ)
		xq := quantizeRows(format, x, m, k)
		row := make([]float32, k)
		for j := range n {
			w.Row(row, j)
			for i := range m {
				r := xq.row(i)
				var want, scale float64
				for c := range k {
					xc := float64(r.d[c/format.BlockSize()]) * float64(r.qs[c])
					want += float64(row[c]) * xc
					scale += math.Abs(float64(row[c]) * xc)
				}
				if d := math.Abs(float64(got[i*n+j]) - want); d > 1e-5*scale {
					t.Errorf("%s: element [%d,%d] = %g, float64 product of the decoded values %g (Σ|w·x| = %g)",
						typ, i, j, got[i*n+j], want, scale)
				}
			}
		}
	}
}

// TestMatMulHalfRoundsActivations checks that F16 and BF16 products round
// the activations to the weight type before multiplying, and that
// FloatActivations turns that off.
func TestMatMulHalfRoundsActivations(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, typ := range []gguf.Type{gguf.TypeF16, gguf.TypeBF16} {
		const m, n, k = 3, 70, 96
		raw := make([]byte, n*k*2)
		if err := gguf.Quantize(raw, randomFloats(rng, n*k), typ); err != nil {
			t.Fatal(err)
		}
		w, err := NewMatrix(n, k, typ, nil, raw)
		if err != nil {
			t.Fatal(err)
		}
		decoded := make([]float32, n*k)
		for j := range n {
			w.Row(decoded[j*k:(j+1)*k], j)
		}
		x := randomFloats(rng, m*k)
		rounded := make([]float32, len(x))
		for i, v := range x {
			if typ == gguf.TypeF16 {
				rounded[i] = gguf.F16ToFloat32(gguf.Float32ToF16(v))
			} else {
				rounded[i] = gguf.BF16ToFloat32(gguf.Float32ToBF16(v))
			}
		}

		for _, c := range []struct {
			float bool
			x     []float32
		}{{false, rounded}, {true, x}} {
			w.FloatActivations = c.float
			want := naiveMatMul(c.x, decoded, m, k, n)
			got := make([]float32, m*n)
			MatMul(got, x, m, &w)
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*math.Sqrt(k) {
					t.Fatalf("%s FloatActivations=%v: element %d = %g, want %g", typ, c.float, i, got[i], want[i])
				}
			}
		}
	}
}

// benchQ4_K returns a rows×cols Q4_K matrix of random blocks.
func benchQ4_K(rows, cols int) Matrix {
	rng := rand.New(rand.NewPCG(3, 4))
	w, err := NewMatrix(rows, cols, gguf.TypeQ4_K, nil, randomBlocks(rng, gguf.TypeQ4_K, rows, cols))
	if err != nil {
		panic(err)
	}
	return w
}

// BenchmarkMatMulQ4_K times a 256×1024 Q4_K product with one activation row
// (decoding) and 64 (prefill), with llama.cpp's integer numerics and with
// float activations.
func BenchmarkMatMulQ4_K(b *testing.B) {
	w := benchQ4_K(256, 1024)
	for _, float := range []bool{false, true} {
		for _, m := range []int{1, 64} {
			b.Run(fmt.Sprintf("float=%v/m=%d", float, m), func(b *testing.B) {
				w.FloatActivations = float
				x := randomFloats(rand.New(rand.NewPCG(5, 6)), m*w.Cols)
				dst := make([]float32, m*w.Rows)
				for b.Loop() {
					MatMul(dst, x, m, &w)
				}
			})
		}
	}
}
