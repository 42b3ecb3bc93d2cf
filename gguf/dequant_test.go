package gguf

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
)

// The expected values below are worked out by hand from the formats'
// definitions, never taken from the code under test.
//
// IEEE 754 half precision: 1 sign bit, 5 exponent bits (bias 15), 10
// fraction bits. A normal number is (-1)^s * 2^(e-15) * (1 + f/1024); a
// subnormal (e = 0) is (-1)^s * 2^-14 * f/1024 = (-1)^s * f * 2^-24.

var f16Cases = []struct {
	bits uint16
	want float32
	why  string
}{
	{0x0000, 0, "zero"},
	{0x3C00, 1, "e=15, f=0: 2^0"},
	{0xC000, -2, "s=1, e=16, f=0: -2^1"},
	{0x3800, 0.5, "e=14: 2^-1"},
	{0x3E00, 1.5, "e=15, f=512: 1 + 512/1024"},
	{0x3555, 0.333251953125, "e=13, f=341: 2^-2 * (1 + 341/1024) = 0.25 * 1.3330078125"},
	{0x7BFF, 65504, "e=30, f=1023: 2^15 * (1 + 1023/1024), the largest finite"},
	{0x0400, 6.103515625e-05, "e=1, f=0: 2^-14, the smallest normal"},
	{0x0001, 5.9604644775390625e-08, "subnormal f=1: 2^-24"},
	{0x03FF, 6.097555160522461e-05, "subnormal f=1023: 1023 * 2^-24"},
	{0x8001, -5.9604644775390625e-08, "negative subnormal: -2^-24"},
	{0x7C00, float32(math.Inf(1)), "e=31, f=0: +Inf"},
	{0xFC00, float32(math.Inf(-1)), "s=1, e=31, f=0: -Inf"},
}

func TestF16ToFloat32(t *testing.T) {
	for _, c := range f16Cases {
		if got := F16ToFloat32(c.bits); got != c.want {
			t.Errorf("F16ToFloat32(0x%04X) = %v, want %v (%s)", c.bits, got, c.want, c.why)
		}
	}
	if got := F16ToFloat32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("F16ToFloat32(0x8000) = %v, want -0", got)
	}
	if got := F16ToFloat32(0x7E00); !math.IsNaN(float64(got)) {
		t.Errorf("F16ToFloat32(0x7E00) = %v, want NaN (e=31, f≠0)", got)
	}
}

func TestDequantizeF16(t *testing.T) {
	src := make([]byte, 2*len(f16Cases))
	for i, c := range f16Cases {
		binary.LittleEndian.PutUint16(src[2*i:], c.bits)
	}
	dst := make([]float32, len(f16Cases))
	if err := Dequantize(dst, src, TypeF16); err != nil {
		t.Fatal(err)
	}
	for i, c := range f16Cases {
		if dst[i] != c.want {
			t.Errorf("value %d (0x%04X) = %v, want %v (%s)", i, c.bits, dst[i], c.want, c.why)
		}
	}
}

// bfloat16 is the upper 16 bits of a float32: 1 sign bit, 8 exponent bits
// (bias 127), 7 fraction bits.
var bf16Cases = []struct {
	bits uint16
	want float32
	why  string
}{
	{0x3F80, 1, "e=127, f=0"},
	{0xC000, -2, "s=1, e=128, f=0"},
	{0x4049, 3.140625, "e=128, f=0x49=73: 2 * (1 + 73/128)"},
	{0x3E80, 0.25, "e=125: 2^-2"},
	{0x7F7F, 3.3895313892515355e+38, "e=254, f=127: 2^127 * (1 + 127/128), the largest finite"},
	{0x0001, 9.183549615799121e-41, "float32 subnormal 0x00010000: 2^16 * 2^-149 = 2^-133"},
	{0x7F80, float32(math.Inf(1)), "e=255, f=0: +Inf"},
	{0xFF80, float32(math.Inf(-1)), "-Inf"},
}

func TestDequantizeBF16(t *testing.T) {
	src := make([]byte, 2*len(bf16Cases))
	for i, c := range bf16Cases {
		binary.LittleEndian.PutUint16(src[2*i:], c.bits)
	}
	dst := make([]float32, len(bf16Cases))
	if err := Dequantize(dst, src, TypeBF16); err != nil {
		t.Fatal(err)
	}
	for i, c := range bf16Cases {
		if dst[i] != c.want {
			t.Errorf("value %d (0x%04X) = %v, want %v (%s)", i, c.bits, dst[i], c.want, c.why)
		}
	}
}

func TestDequantizeF32(t *testing.T) {
	// 0x3F800000 is 1.0 and 0xC0490FDB is -3.14159274 (float32 of -pi),
	// stored little-endian.
	src := []byte{0x00, 0x00, 0x80, 0x3F, 0xDB, 0x0F, 0x49, 0xC0}
	dst := make([]float32, 2)
	if err := Dequantize(dst, src, TypeF32); err != nil {
		t.Fatal(err)
	}
	if dst[0] != 1 || dst[1] != float32(-math.Pi) {
		t.Errorf("got %v, want [1 %v]", dst, float32(-math.Pi))
	}
}

// q8Block builds a Q8_0 block: the F16 scale bits, then 32 int8 quants.
func q8Block(scale uint16, q [32]int8) []byte {
	b := binary.LittleEndian.AppendUint16(nil, scale)
	for _, x := range q {
		b = append(b, byte(x))
	}
	return b
}

func TestDequantizeQ8_0(t *testing.T) {
	// Block 0: scale 0x3800 = 0.5, so value j = 0.5 * q[j].
	var q0 [32]int8
	copy(q0[:], []int8{-128, -1, 0, 1, 127, 3})
	// Block 1: scale 0xC000 = -2, so value j = -2 * q[j].
	var q1 [32]int8
	copy(q1[:], []int8{5, -7})
	// Block 2: scale 0x0001 = 2^-24 (subnormal), q = 64 = 2^6 gives 2^-18.
	var q2 [32]int8
	q2[31] = 64
	src := append(append(q8Block(0x3800, q0), q8Block(0xC000, q1)...), q8Block(0x0001, q2)...)

	want := make([]float32, 96)
	copy(want[0:], []float32{-64, -0.5, 0, 0.5, 63.5, 1.5})
	copy(want[32:], []float32{-10, 14})
	want[95] = 3.814697265625e-06 // 2^-18

	dst := make([]float32, 96)
	if err := Dequantize(dst, src, TypeQ8_0); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if dst[i] != want[i] {
			t.Errorf("value %d = %v, want %v", i, dst[i], want[i])
		}
	}
}

func TestDequantizeErrors(t *testing.T) {
	cases := []struct {
		name    string
		n       int
		src     int
		typ     Type
		wantIs  error
		wantMsg string
	}{
		{"IQ type", 256, 136, TypeIQ4_XS, ErrUnsupportedType, "gguf: unsupported tensor type IQ4_XS (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)"},
		{"Q8_K", 256, 292, TypeQ8_K, ErrUnsupportedType, "unsupported tensor type Q8_K"},
		{"partial K-quant block", 255, 144, TypeQ4_K, nil, "255 values are not a whole number of Q4_K blocks of 256"},
		{"short Q4_0 source", 64, 35, TypeQ4_0, nil, "64 Q4_0 values take 36 bytes, got 35"},
		{"unknown", 1, 1, Type(77), ErrUnknownType, "unknown tensor type Type(77)"},
		{"removed", 32, 18, Type(31), ErrUnknownType, "unknown tensor type Q4_0_4_4"},
		{"partial block", 31, 34, TypeQ8_0, nil, "31 values are not a whole number of Q8_0 blocks of 32"},
		{"short source", 32, 33, TypeQ8_0, nil, "32 Q8_0 values take 34 bytes, got 33"},
		{"long source", 2, 9, TypeF32, nil, "2 F32 values take 8 bytes, got 9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Dequantize(make([]float32, c.n), make([]byte, c.src), c.typ)
			if err == nil {
				t.Fatal("no error")
			}
			if c.wantIs != nil && !errors.Is(err, c.wantIs) {
				t.Errorf("error %q does not wrap %v", err, c.wantIs)
			}
			if !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("error %q does not contain %q", err, c.wantMsg)
			}
		})
	}
}

func TestFloat32ToF16(t *testing.T) {
	cases := []struct {
		in   float32
		want uint16
		why  string
	}{
		{1, 0x3C00, "exact"},
		{-2, 0xC000, "exact"},
		{65504, 0x7BFF, "largest finite"},
		{65520, 0x7C00, "halfway between 65504 and 2^16 rounds to even, which overflows to +Inf"},
		{1 + 1.0/2048, 0x3C00, "halfway between 1 (f=0) and 1+2^-10 (f=1) rounds to even f=0"},
		{1 + 3.0/2048, 0x3C02, "halfway between f=1 and f=2 rounds to even f=2"},
		{1 + 1.0/1024 + 1.0/4096, 0x3C01, "below halfway rounds down to f=1"},
		{5.9604644775390625e-08, 0x0001, "2^-24, the smallest subnormal"},
		{2.9802322387695312e-08, 0x0000, "2^-25, halfway between 0 and 2^-24, rounds to even 0"},
		{float32(math.Inf(-1)), 0xFC00, "-Inf"},
	}
	for _, c := range cases {
		if got := Float32ToF16(c.in); got != c.want {
			t.Errorf("Float32ToF16(%v) = 0x%04X, want 0x%04X (%s)", c.in, got, c.want, c.why)
		}
	}
}

func TestFloat32ToBF16(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
		why  string
	}{
		{0x3F800000, 0x3F80, "1.0, exact"},
		{0x3F808000, 0x3F80, "halfway, kept part even: round down"},
		{0x3F818000, 0x3F82, "halfway, kept part odd: round up to even"},
		{0x3F80FFFF, 0x3F81, "above halfway: round up"},
		{0x3F807FFF, 0x3F80, "below halfway: round down"},
		{0x7F7FFFFF, 0x7F80, "largest float32 rounds up to +Inf"},
		{0x7F800001, 0x7FC0, "signalling NaN becomes quiet NaN (bit 6 of the upper half set)"},
		{0xFFC00000, 0xFFC0, "quiet NaN keeps its sign"},
		{0x00010000, 0x0001, "float32 subnormal 2^-133 is kept, not flushed"},
	}
	for _, c := range cases {
		if got := Float32ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("Float32ToBF16(0x%08X) = 0x%04X, want 0x%04X (%s)", c.in, got, c.want, c.why)
		}
	}
}

func TestQuantizeQ8_0(t *testing.T) {
	// Block 0: amax = 127, so d = 127/127 = 1 (F16 0x3C00), id = 1, and
	// q = round(x) with halves away from zero.
	var x0 [32]float32
	copy(x0[:], []float32{127, -127, 2.5, -2.5, 0.5, -0.5, 1.49, -0.2, 126.6})
	var q0 [32]int8
	copy(q0[:], []int8{127, -127, 3, -3, 1, -1, 1, 0, 127})

	// Block 1: all zeros, so d = 0 (0x0000), id = 0, q = 0.
	var x1 [32]float32

	// Block 2: amax = 16, d = 16/127 = 0.12598425..., stored as F16
	// e=12, f=round(0.0078740*1024)=8: 0x3000|8 = 0x3008. id = 1/d in
	// float32 = 7.9375 (127/16 is exact in binary). q = round(x * 7.9375):
	// 16 -> 127, 1 -> 7.9375 -> 8, -2 -> -15.875 -> -16, 3 -> 23.8125 -> 24,
	// 0.063 -> 0.5000625 -> 1, 0.0629 -> 0.4992... -> 0.
	var x2 [32]float32
	copy(x2[:], []float32{16, 1, -2, 3, 0.063, 0.0629})
	var q2 [32]int8
	copy(q2[:], []int8{127, 8, -16, 24, 1, 0})

	src := append(append(x0[:], x1[:]...), x2[:]...)
	want := append(append(q8Block(0x3C00, q0), q8Block(0x0000, [32]int8{})...), q8Block(0x3008, q2)...)

	dst := make([]byte, 3*34)
	if err := Quantize(dst, src, TypeQ8_0); err != nil {
		t.Fatal(err)
	}
	for b := range 3 {
		got, exp := dst[b*34:(b+1)*34], want[b*34:(b+1)*34]
		if got[0] != exp[0] || got[1] != exp[1] {
			t.Errorf("block %d scale = 0x%02X%02X, want 0x%02X%02X", b, got[1], got[0], exp[1], exp[0])
		}
		for j := 2; j < 34; j++ {
			if got[j] != exp[j] {
				t.Errorf("block %d quant %d = %d, want %d (input %v)", b, j-2, int8(got[j]), int8(exp[j]), src[b*32+j-2])
			}
		}
	}
}

func TestQuantizeF16AndBF16(t *testing.T) {
	src := []float32{1, -2, 1 + 3.0/2048}
	f16 := make([]byte, 6)
	if err := Quantize(f16, src, TypeF16); err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x00, 0x3C, 0x00, 0xC0, 0x02, 0x3C}; string(f16) != string(want) {
		t.Errorf("F16 bytes = % X, want % X", f16, want)
	}
	bf16 := make([]byte, 6)
	if err := Quantize(bf16, src, TypeBF16); err != nil {
		t.Fatal(err)
	}
	// 1 + 3/2048 is 0x3F803000: below bfloat16's halfway point 0x8000.
	if want := []byte{0x80, 0x3F, 0x00, 0xC0, 0x80, 0x3F}; string(bf16) != string(want) {
		t.Errorf("BF16 bytes = % X, want % X", bf16, want)
	}
}

func TestQuantizeErrors(t *testing.T) {
	err := Quantize(make([]byte, 144), make([]float32, 256), TypeQ4_K)
	if !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("Quantize Q4_K: error %v, want ErrUnsupportedType", err)
	}
	err = Quantize(make([]byte, 33), make([]float32, 32), TypeQ8_0)
	if err == nil || !strings.Contains(err.Error(), "32 Q8_0 values take 34 bytes, got 33") {
		t.Errorf("Quantize with a short destination: error %v", err)
	}
}

func TestQ8_0RoundTripError(t *testing.T) {
	// Each value comes back within half a quantization step d/2, plus the
	// error of storing d as F16 (relative 2^-11) times |q| <= 127.
	src := make([]float32, 4*32)
	for i := range src {
		src[i] = float32(math.Sin(float64(i)*0.37)) * float32(1+i%7)
	}
	raw := make([]byte, 4*34)
	if err := Quantize(raw, src, TypeQ8_0); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(src))
	if err := Dequantize(got, raw, TypeQ8_0); err != nil {
		t.Fatal(err)
	}
	for b := range 4 {
		var amax float64
		for _, v := range src[b*32 : (b+1)*32] {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		d := amax / 127
		bound := d/2 + d*127/2048
		for j := b * 32; j < (b+1)*32; j++ {
			if e := math.Abs(float64(got[j] - src[j])); e > bound {
				t.Errorf("value %d: |%v - %v| = %v exceeds %v", j, got[j], src[j], e, bound)
			}
		}
	}
}
