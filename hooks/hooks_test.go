package hooks

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParsePointRoundTrip(t *testing.T) {
	for k := Kind(0); k < NumKinds; k++ {
		p := Point{Layer: 3, Kind: k}
		if k.ModelLevel() {
			p.Layer = -1
		}
		got, err := ParsePoint(p.Name())
		if err != nil {
			t.Fatalf("ParsePoint(%q): %v", p.Name(), err)
		}
		if got != p {
			t.Errorf("ParsePoint(%q) = %+v, want %+v", p.Name(), got, p)
		}
	}
}

func TestParsePointRejects(t *testing.T) {
	for _, name := range []string{
		"", "hook_resid_pre", "blocks.x.hook_resid_pre", "blocks.-1.hook_resid_pre",
		"blocks.01.hook_resid_pre", "blocks.0.hook_embed", "blocks.0.attn.hook_result", "blocks.0",
	} {
		if _, err := ParsePoint(name); err == nil {
			t.Errorf("ParsePoint(%q) succeeded, want an error", name)
		}
	}
}

func TestNames(t *testing.T) {
	cases := map[Point]string{
		{Layer: -1, Kind: Embed}:             "hook_embed",
		{Layer: 0, Kind: ResidPre}:           "blocks.0.hook_resid_pre",
		{Layer: 11, Kind: Z}:                 "blocks.11.attn.hook_z",
		{Layer: 2, Kind: Ln2Normalized}:      "blocks.2.ln2.hook_normalized",
		{Layer: -1, Kind: LnFinalNormalized}: "ln_final.hook_normalized",
		{Layer: 1, Kind: MLPPreLinear}:       "blocks.1.mlp.hook_pre_linear",
	}
	for p, want := range cases {
		if got := p.Name(); got != want {
			t.Errorf("%+v.Name() = %q, want %q", p, got, want)
		}
	}
}

var testPoints = []Point{{-1, Embed}, {0, ResidPre}, {0, Z}, {1, ResidPre}, {1, Z}, {-1, LnFinalScale}}

func testNames() []string {
	names := make([]string, len(testPoints))
	for i, p := range testPoints {
		names[i] = p.Name()
	}
	return names
}

func TestResolveGlob(t *testing.T) {
	var h Hooks
	calls := 0
	h.Add("blocks.*.hook_resid_pre", func(*Tensor, Point) error { calls++; return nil })
	h.Add("blocks.1.attn.hook_z", func(*Tensor, Point) error { return nil })
	per, err := h.Resolve(testPoints, testNames())
	if err != nil {
		t.Fatal(err)
	}
	got := []int{}
	for i := range per {
		got = append(got, len(per[i]))
	}
	if want := []int{0, 1, 0, 1, 1, 0}; !slices.Equal(got, want) {
		t.Errorf("hooks per point = %v, want %v", got, want)
	}
}

func TestResolveUnknownName(t *testing.T) {
	var h Hooks
	h.Add("blocks.0.hook_resid_prre", func(*Tensor, Point) error { return nil })
	_, err := h.Resolve(testPoints, testNames())
	if !errors.Is(err, ErrUnknownPoint) {
		t.Fatalf("err = %v, want ErrUnknownPoint", err)
	}
	if !strings.Contains(err.Error(), "blocks.0.hook_resid_pre") {
		t.Errorf("error %q does not suggest the closest name", err)
	}
}

func TestResolveWithoutHooks(t *testing.T) {
	var h *Hooks
	per, err := h.Resolve(testPoints, testNames())
	if err != nil || per != nil {
		t.Errorf("nil hooks resolve to %v, %v; want nil, nil", per, err)
	}
}

func TestClosestOrder(t *testing.T) {
	got := Closest("blocks.1.hook_resid_pre", testNames(), 2)
	if want := []string{"blocks.1.hook_resid_pre", "blocks.0.hook_resid_pre"}; !slices.Equal(got, want) {
		t.Errorf("Closest = %v, want %v", got, want)
	}
}

// seqTensor returns a tensor of the given shape whose i-th element in
// row-major order is base+i.
func seqTensor(shape []int, base float32) *Tensor {
	t := NewTensor(shape...)
	for i := range t.Data {
		t.Data[i] = base + float32(i)
	}
	return t
}

func TestReplacePosition(t *testing.T) {
	dst := seqTensor([]int{3, 2}, 0)
	src := seqTensor([]int{3, 2}, 100)
	if err := ReplacePosition(src, 1)(dst, Point{0, ResidPre}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 1, 102, 103, 4, 5}; !slices.Equal(dst.Data, want) {
		t.Errorf("data = %v, want %v", dst.Data, want)
	}
}

func TestReplacePositionBatched(t *testing.T) {
	dst := seqTensor([]int{2, 2, 1}, 0)
	src := seqTensor([]int{2, 2, 1}, 100)
	if err := ReplacePosition(src, 0)(dst, Point{0, ResidPre}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{100, 1, 102, 3}; !slices.Equal(dst.Data, want) {
		t.Errorf("data = %v, want %v", dst.Data, want)
	}
}

func TestReplaceHead(t *testing.T) {
	// [seq 2, heads 2, d_head 2]
	dst := seqTensor([]int{2, 2, 2}, 0)
	src := seqTensor([]int{2, 2, 2}, 100)
	if err := ReplaceHead(src, 1)(dst, Point{0, Z}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 1, 102, 103, 4, 5, 106, 107}; !slices.Equal(dst.Data, want) {
		t.Errorf("data = %v, want %v", dst.Data, want)
	}
}

func TestReplaceHeadPattern(t *testing.T) {
	// [heads 2, seq 2, keys 2]: head 0 is the first four elements.
	dst := seqTensor([]int{2, 2, 2}, 0)
	src := seqTensor([]int{2, 2, 2}, 100)
	if err := ReplaceHead(src, 0)(dst, Point{0, Pattern}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{100, 101, 102, 103, 4, 5, 6, 7}; !slices.Equal(dst.Data, want) {
		t.Errorf("data = %v, want %v", dst.Data, want)
	}
}

func TestInterventionErrors(t *testing.T) {
	resid := seqTensor([]int{3, 2}, 0)
	cases := []struct {
		name string
		fn   Func
		p    Point
		want string
	}{
		{"shape mismatch", Replace(NewTensor(2, 2)), Point{0, ResidPre}, "differs"},
		{"position out of range", ReplacePosition(resid.Clone(), 3), Point{0, ResidPre}, "position 3 out of range"},
		{"no head axis", ReplaceHead(resid.Clone(), 0), Point{0, ResidPre}, "no head axis"},
		{"vector width", AddVector([]float32{1}), Point{0, ResidPre}, "does not match width 2"},
		{"mean width", MeanAblate([]float32{1, 2, 3}), Point{0, ResidPre}, "does not match width 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.fn(resid.Clone(), c.p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestAddScaleZeroMean(t *testing.T) {
	p := Point{0, ResidPost}
	x := seqTensor([]int{2, 2}, 0) // 0 1 / 2 3
	if err := AddVector([]float32{10, 20})(x, p); err != nil {
		t.Fatal(err)
	}
	if want := []float32{10, 21, 12, 23}; !slices.Equal(x.Data, want) {
		t.Errorf("after AddVector: %v, want %v", x.Data, want)
	}
	Scale(0.5)(x, p)
	if want := []float32{5, 10.5, 6, 11.5}; !slices.Equal(x.Data, want) {
		t.Errorf("after Scale: %v, want %v", x.Data, want)
	}
	mean, err := MeanOverPositions(seqTensor([]int{2, 2}, 0), seqTensor([]int{1, 2}, 4))
	if err != nil {
		t.Fatal(err)
	}
	// rows (0,1), (2,3), (4,5): mean (2, 3)
	if want := []float32{2, 3}; !slices.Equal(mean, want) {
		t.Errorf("MeanOverPositions = %v, want %v", mean, want)
	}
	MeanAblate(mean)(x, p)
	if want := []float32{2, 3, 2, 3}; !slices.Equal(x.Data, want) {
		t.Errorf("after MeanAblate: %v, want %v", x.Data, want)
	}
	Zero()(x, p)
	if want := []float32{0, 0, 0, 0}; !slices.Equal(x.Data, want) {
		t.Errorf("after Zero: %v, want %v", x.Data, want)
	}
}

func TestZeroHead(t *testing.T) {
	x := seqTensor([]int{1, 2, 2}, 1) // [seq 1, heads 2, d_head 2]
	if err := ZeroHead(0)(x, Point{0, Z}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 0, 3, 4}; !slices.Equal(x.Data, want) {
		t.Errorf("data = %v, want %v", x.Data, want)
	}
}

func TestCacheRecordsCopies(t *testing.T) {
	var h Hooks
	c := NewCache("blocks.*.hook_resid_pre")
	c.Attach(&h)
	per, err := h.Resolve(testPoints, testNames())
	if err != nil {
		t.Fatal(err)
	}
	x := seqTensor([]int{1, 2}, 0)
	for _, fn := range per[1] {
		fn(x, testPoints[1])
	}
	x.Data[0] = 99
	got, ok := c.Get("blocks.0.hook_resid_pre")
	if !ok {
		t.Fatal("cache has no blocks.0.hook_resid_pre")
	}
	if got.Data[0] != 0 {
		t.Errorf("cached value changed with the activation: %v", got.Data)
	}
	if names := c.Names(); !slices.Equal(names, []string{"blocks.0.hook_resid_pre"}) {
		t.Errorf("Names = %v", names)
	}
}

func TestMeanOverPositionsRejectsEmpty(t *testing.T) {
	for _, x := range []*Tensor{{}, NewTensor(0, 4)} {
		if _, err := MeanOverPositions(x); err == nil {
			t.Errorf("shape %v: no error", x.Shape)
		}
	}
}
