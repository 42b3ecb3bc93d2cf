//go:build amd64 && !purego

package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/interp-go/interp/gguf"
)

// TestQuantAsmIntegerSums checks the integer sums of the assembly kernels
// against sums over refDecode's values, for random weight bytes and
// activation quants over the whole int8 range, including -128, which the
// activation quantizers do not produce from finite inputs.
func TestQuantAsmIntegerSums(t *testing.T) {
	if !useQuantAsm {
		t.Skip("no assembly dot products on this CPU or build")
	}
	rng := rand.New(rand.NewPCG(23, 24))
	for trial := range 200 {
		for _, typ := range asmQuantTypes {
			blocks := 1 + rng.IntN(6)
			k := blocks * typ.BlockSize()
			raw := randomBlocks(rng, typ, 1, k)
			x := make([]int8, k)
			for i := range x {
				x[i] = int8(rng.Uint32())
			}
			if trial == 0 {
				for i := range x {
					x[i] = -128
				}
			}
			checkIntegerSums(t, typ, raw, x)
		}
	}
}

// checkIntegerSums compares the assembly kernel of typ on one weight row
// raw and activation quants x with sums over refDecode's values.
func checkIntegerSums(t *testing.T, typ gguf.Type, raw []byte, x []int8) {
	t.Helper()
	n := typ.BlockSize()
	blocks := len(x) / n
	var want []int64
	for b := range blocks {
		r := refDecode(typ, raw[b*typ.BlockBytes():])
		if typ == gguf.TypeQ4_0 || typ == gguf.TypeQ8_0 {
			var s int64
			for i := range n {
				s += r.q[i] * int64(x[b*n+i])
			}
			want = append(want, s)
			continue
		}
		var lanes [8]int64
		for i := range n {
			lanes[i%8] += r.scale[i] * r.q[i] * int64(x[b*n+i])
		}
		want = append(want, lanes[:]...)
	}

	got := make([]int32, len(want))
	switch typ {
	case gguf.TypeQ4_0:
		blockSumsQ4_0(&raw[0], &x[0], blocks, &got[0])
	case gguf.TypeQ8_0:
		blockSumsQ8_0(&raw[0], &x[0], blocks, &got[0])
	case gguf.TypeQ4_K:
		kernel := newRowQ4_K(len(x)).(rowQ4_K)
		kernel.prepare(raw)
		laneSumsQ4_K(&raw[0], &interleaved(x)[0], &kernel.scales[0], blocks, &got[0])
	case gguf.TypeQ5_K:
		kernel := newRowQ5_K(len(x)).(*rowKScaleMin)
		kernel.prepare(raw)
		laneSumsQ5_K(&raw[0], &interleaved(x)[0], &kernel.scales[0], blocks, &got[0])
	case gguf.TypeQ6_K:
		laneSumsQ6_K(&raw[0], &interleaved(x)[0], blocks, &got[0])
	}
	for i := range want {
		if int64(got[i]) != want[i] {
			t.Fatalf("%s with %d blocks: sum %d = %d, reference %d", typ, blocks, i, got[i], want[i])
		}
	}
}

// interleaved returns a copy of x in laneInterleave order.
func interleaved(x []int8) []int8 {
	out := append([]int8(nil), x...)
	laneInterleave(out)
	return out
}

// TestDotQ8_0ConvertsEveryF16 checks the VCVTPH2PS conversion of the
// weight block scale in dotQ8_0 against gguf.F16ToFloat32 for all 65,536
// F16 values, NaNs and subnormals included, on a one-block row whose
// integer sum is 1.
func TestDotQ8_0ConvertsEveryF16(t *testing.T) {
	if !useQuantAsm {
		t.Skip("no assembly dot products on this CPU")
	}
	raw := make([]byte, 4*q8_0Bytes)
	x := make([]int8, 4*qk8)
	xd := []float32{1, 1, 1, 1}
	for i := range 4 {
		raw[i*q8_0Bytes+2] = 1
		x[i*qk8] = 1
	}
	for bits := range 1 << 16 {
		// Four blocks with the same scale take the four-block loop, one
		// block the single-block loop.
		for i := range 4 {
			binary.LittleEndian.PutUint16(raw[i*q8_0Bytes:], uint16(bits))
		}
		d := gguf.F16ToFloat32(uint16(bits))
		for _, blocks := range []int{1, 4} {
			var want float32
			for range blocks {
				want += float32(float32(d*1) * float32(1))
			}
			got := dotQ8_0(&raw[0], &x[0], blocks, &xd[0])
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("F16 %#04x, %d blocks: got %#08x, want %#08x",
					bits, blocks, math.Float32bits(got), math.Float32bits(want))
			}
		}
	}
}

// TestDotQ4_0RowFloatOrder checks that dotQ4_0Row rounds (sumi·d)·dx in
// that order. With integer sums near the maximum of 32·8·127, sumi·d is
// inexact in float32, so (d·dx)·sumi gives different bits for many scales.
func TestDotQ4_0RowFloatOrder(t *testing.T) {
	if !useQuantAsm {
		t.Skip("no assembly dot products on this CPU")
	}
	rng := rand.New(rand.NewPCG(25, 26))
	const blocks = 5
	raw := make([]byte, blocks*q4_0Bytes) // every value is 0−8
	x := make([]int8, blocks*qk8)
	for i := range x {
		x[i] = -127 + int8(rng.IntN(3))
	}
	xd := make([]float32, blocks)
	for trial := range 1000 {
		var want float32
		for b := range blocks {
			d := float32(1e-3 + rng.Float64())
			binary.LittleEndian.PutUint16(raw[b*q4_0Bytes:], gguf.Float32ToF16(d))
			xd[b] = float32(rng.Float64())
			var sumi int32
			for _, v := range x[b*qk8 : (b+1)*qk8] {
				sumi += -8 * int32(v)
			}
			dw := gguf.F16ToFloat32(gguf.Float32ToF16(d))
			want += float32(float32(float32(sumi)*dw) * xd[b])
		}
		got := dotQ4_0Row(&raw[0], &x[0], blocks, &xd[0])
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("trial %d: got %g, want %g", trial, got, want)
		}
	}
}

// BenchmarkRowsKernels times the multi-row kernels alone, for one
// activation row and 64 weight rows of 768 values, which stay in the L1
// and L2 caches. With -short it takes 40,000 rows, read from memory as in
// decoding, in calls of tileRows rows. It reports the fastest pass in
// nanoseconds per 256 weight values, which other processes on a busy
// machine disturb less than the mean.
func BenchmarkRowsKernels(b *testing.B) {
	if !useQuantAsm {
		b.Skip("no assembly dot products on this CPU or build")
	}
	n, k := 64, 768
	if testing.Short() {
		n = 40000
	}
	rng := rand.New(rand.NewPCG(29, 30))
	for _, typ := range []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K} {
		w, err := NewMatrix(n, k, typ, nil, randomBlocks(rng, typ, n, k))
		if err != nil {
			b.Fatal(err)
		}
		format, _ := activationFormat(typ)
		xq := quantizeRows(format, randomFloats(rng, k), 1, k)
		if format == gguf.TypeQ8_K {
			laneInterleave(xq.qs)
		}
		x := []quantRow{xq.row(0)}
		setQ6KOffsets(x, nil)
		dst := make([]float32, n)
		b.Run(typ.String(), func(b *testing.B) {
			fastest := time.Duration(math.MaxInt64)
			for b.Loop() {
				start := time.Now()
				for lo := 0; lo < n; lo += tileRows {
					hi := min(n, lo+tileRows)
					rowsKernels[typ](dst[lo:hi], &w, lo, hi, &x[0])
				}
				fastest = min(fastest, time.Since(start))
			}
			b.ReportMetric(float64(fastest.Nanoseconds())/float64(n*k/256), "min-ns/256values")
		})
	}
}

// TestRowsQ8_0WithMinInt8 checks that a product whose Q8_0 activation
// quants include -128, which dotRowsQ8_0 cannot take, still matches the
// portable path. A NaN makes q8Scale take the largest magnitude after it,
// so a larger value before it rounds to -128.
func TestRowsQ8_0WithMinInt8(t *testing.T) {
	if !useQuantAsm {
		t.Skip("no assembly dot products on this CPU or build")
	}
	const n, k = 64, 4 * qk8
	x := make([]float32, k)
	x[qk8], x[qk8+1], x[qk8+2] = -128.0/254, float32(math.NaN()), 0.5
	for i := 2 * qk8; i < k; i++ {
		x[i] = float32(i%7) - 3
	}
	xq := quantizeRows(gguf.TypeQ8_0, x, 1, k)
	if xq.qs[qk8] != -128 {
		t.Fatalf("activation quant %d = %d, want -128 for this test", qk8, xq.qs[qk8])
	}

	rng := rand.New(rand.NewPCG(31, 32))
	w, err := NewMatrix(n, k, gguf.TypeQ8_0, nil, randomBlocks(rng, gguf.TypeQ8_0, n, k))
	if err != nil {
		t.Fatal(err)
	}
	var portable []float32
	withQuantAsm(false, func() { portable = matMulResult(x, 1, &w) })
	for _, path := range quantPaths()[1:] {
		var asm []float32
		withQuantPath(path, func() { asm = matMulResult(x, 1, &w) })
		for j := range asm {
			if math.Float32bits(asm[j]) != math.Float32bits(portable[j]) {
				t.Fatalf("row %d = %g on path %s, %g portable", j, asm[j], path.name, portable[j])
			}
		}
	}
}

// TestLaneInterleaveOrder checks laneInterleave against its definition
// on random quants: each 16 quants become 0, 8, 1, 9, …, 7, 15, and a
// tail of fewer than 16 stays as it is.
func TestLaneInterleaveOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	qs := make([]int8, 16*37+5)
	for i := range qs {
		qs[i] = int8(rng.Uint32())
	}
	want := append([]int8(nil), qs...)
	for c := 0; c+16 <= len(qs); c += 16 {
		for e := range 8 {
			want[c+2*e], want[c+2*e+1] = qs[c+e], qs[c+e+8]
		}
	}
	laneInterleave(qs)
	for i := range want {
		if qs[i] != want[i] {
			t.Fatalf("quant %d = %d, want %d", i, qs[i], want[i])
		}
	}
}
