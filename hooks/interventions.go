package hooks

import (
	"fmt"
	"slices"
)

// Axes of a hook tensor, derived from its point's layout and whether the run
// is batched (a batched tensor has one more axis in front).
type axes struct {
	position int // the sequence (query) axis
	head     int // the head axis, or -1 for per-position points
}

func axesOf(t *Tensor, p Point) (axes, error) {
	var a axes
	rank := 2
	switch p.Kind.Layout() {
	case PerPosition:
		a = axes{position: 0, head: -1}
	case PerHead:
		a = axes{position: 0, head: 1}
		rank = 3
	case PerHeadQueryKey:
		a = axes{position: 1, head: 0}
		rank = 3
	}
	switch len(t.Shape) {
	case rank:
	case rank + 1:
		a.position++
		if a.head >= 0 {
			a.head++
		}
	default:
		return a, fmt.Errorf("hooks: %s: tensor of shape %v does not have rank %d or %d", p.Name(), t.Shape, rank, rank+1)
	}
	return a, nil
}

// forEachBlock calls fn with the offset and length of every contiguous run
// of elements whose index along axis is i.
func forEachBlock(shape []int, axis, i int, fn func(offset, n int)) {
	inner := 1
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	outer := 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	stride := shape[axis] * inner
	for o := 0; o < outer; o++ {
		fn(o*stride+i*inner, inner)
	}
}

func checkSameShape(dst, src *Tensor, p Point) error {
	if !slices.Equal(dst.Shape, src.Shape) {
		return fmt.Errorf("hooks: %s: source shape %v differs from activation shape %v", p.Name(), src.Shape, dst.Shape)
	}
	return nil
}

// Replace returns a hook that overwrites the whole activation with src,
// which must have the same shape.
func Replace(src *Tensor) Func {
	return func(t *Tensor, p Point) error {
		if err := checkSameShape(t, src, p); err != nil {
			return err
		}
		copy(t.Data, src.Data)
		return nil
	}
}

// ReplacePosition returns a hook that overwrites the activation at one
// sequence position with src's values there; src must have the activation's
// shape. For attention scores and patterns the position is the query row.
func ReplacePosition(src *Tensor, pos int) Func {
	return func(t *Tensor, p Point) error {
		if err := checkSameShape(t, src, p); err != nil {
			return err
		}
		a, err := axesOf(t, p)
		if err != nil {
			return err
		}
		if pos < 0 || pos >= t.Shape[a.position] {
			return fmt.Errorf("hooks: %s: position %d out of range [0, %d)", p.Name(), pos, t.Shape[a.position])
		}
		forEachBlock(t.Shape, a.position, pos, func(off, n int) {
			copy(t.Data[off:off+n], src.Data[off:off+n])
		})
		return nil
	}
}

// ReplaceHead returns a hook that overwrites one attention head's values at
// every position with src's; src must have the activation's shape. It
// applies to per-head points (q, k, v, rot_q, rot_k, z; k and v count KV
// heads) and to attention scores and patterns.
func ReplaceHead(src *Tensor, head int) Func {
	return func(t *Tensor, p Point) error {
		if err := checkSameShape(t, src, p); err != nil {
			return err
		}
		a, err := axesOf(t, p)
		if err != nil {
			return err
		}
		if a.head < 0 {
			return fmt.Errorf("hooks: %s has no head axis", p.Name())
		}
		if head < 0 || head >= t.Shape[a.head] {
			return fmt.Errorf("hooks: %s: head %d out of range [0, %d)", p.Name(), head, t.Shape[a.head])
		}
		forEachBlock(t.Shape, a.head, head, func(off, n int) {
			copy(t.Data[off:off+n], src.Data[off:off+n])
		})
		return nil
	}
}

// AddVector returns a hook that adds v to the activation's last axis at every
// position, as a steering vector is added to the residual stream.
func AddVector(v []float32) Func {
	return func(t *Tensor, p Point) error {
		width := t.Shape[len(t.Shape)-1]
		if width != len(v) {
			return fmt.Errorf("hooks: %s: vector of length %d does not match width %d", p.Name(), len(v), width)
		}
		for off := 0; off < len(t.Data); off += width {
			row := t.Data[off : off+width]
			for i, x := range v {
				row[i] += x
			}
		}
		return nil
	}
}

// Scale returns a hook that multiplies every element of the activation by s.
func Scale(s float32) Func {
	return func(t *Tensor, p Point) error {
		for i := range t.Data {
			t.Data[i] *= s
		}
		return nil
	}
}

// Zero returns a hook that sets the whole activation to zero (zero
// ablation).
func Zero() Func {
	return func(t *Tensor, p Point) error {
		clear(t.Data)
		return nil
	}
}

// ZeroHead returns a hook that zeroes one head of a per-head point, or of
// attention scores or patterns, at every position.
func ZeroHead(head int) Func {
	return func(t *Tensor, p Point) error {
		a, err := axesOf(t, p)
		if err != nil {
			return err
		}
		if a.head < 0 {
			return fmt.Errorf("hooks: %s has no head axis", p.Name())
		}
		if head < 0 || head >= t.Shape[a.head] {
			return fmt.Errorf("hooks: %s: head %d out of range [0, %d)", p.Name(), head, t.Shape[a.head])
		}
		forEachBlock(t.Shape, a.head, head, func(off, n int) { clear(t.Data[off : off+n]) })
		return nil
	}
}

// MeanAblate returns a hook that replaces the activation's last axis at
// every position with mean (mean ablation). MeanOverPositions computes such
// a mean from cached activations.
func MeanAblate(mean []float32) Func {
	return func(t *Tensor, p Point) error {
		width := t.Shape[len(t.Shape)-1]
		if width != len(mean) {
			return fmt.Errorf("hooks: %s: mean of length %d does not match width %d", p.Name(), len(mean), width)
		}
		for off := 0; off < len(t.Data); off += width {
			copy(t.Data[off:off+width], mean)
		}
		return nil
	}
}

// MeanOverPositions returns the mean of the tensors' last-axis vectors over
// every other axis (positions, heads and batch), accumulated in float64. All
// tensors must share the width of their last axis.
func MeanOverPositions(ts ...*Tensor) ([]float32, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("hooks: mean of no tensors")
	}
	for _, t := range ts {
		if len(t.Shape) == 0 || t.Len() == 0 {
			return nil, fmt.Errorf("hooks: mean over a tensor of shape %v, which has no vectors", t.Shape)
		}
	}
	width := ts[0].Shape[len(ts[0].Shape)-1]
	sum := make([]float64, width)
	count := 0
	for _, t := range ts {
		if w := t.Shape[len(t.Shape)-1]; w != width {
			return nil, fmt.Errorf("hooks: mean over tensors of widths %d and %d", width, w)
		}
		for off := 0; off < len(t.Data); off += width {
			for i, x := range t.Data[off : off+width] {
				sum[i] += float64(x)
			}
			count++
		}
	}
	mean := make([]float32, width)
	for i, s := range sum {
		mean[i] = float32(s / float64(count))
	}
	return mean, nil
}
