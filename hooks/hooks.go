package hooks

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
)

// Tensor is a dense float32 array in row-major order. During a run, a hook's
// tensor is a view of the runtime's own buffer: writing to Data changes the
// rest of the forward pass.
type Tensor struct {
	Shape []int
	Data  []float32
}

// NewTensor returns a zeroed tensor of the given shape.
func NewTensor(shape ...int) *Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Tensor{Shape: slices.Clone(shape), Data: make([]float32, n)}
}

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data)}
}

// Len returns the number of elements that Shape describes.
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Func is a forward hook. It receives the activation at point p and may
// read it or change it in place. An error stops the run and is returned by
// the model with the point's name.
type Func func(t *Tensor, p Point) error

type entry struct {
	pattern string
	fn      Func
}

// Hooks is a set of forward hooks, each registered on a hook point name or a
// glob pattern (as path.Match, so "blocks.*.hook_resid_pre" matches every
// block's residual stream input). The zero value is an empty set ready to
// use. Hooks run in registration order.
type Hooks struct {
	forward []entry
}

// ErrUnknownPoint is wrapped by the error a model returns when a hook
// pattern matches none of its hook points.
var ErrUnknownPoint = errors.New("unknown hook point")

// Add registers fn as a forward hook on every point matching pattern. The
// pattern is checked against the model's points when a run starts.
func (h *Hooks) Add(pattern string, fn Func) {
	h.forward = append(h.forward, entry{pattern, fn})
}

// Len returns the number of registered hooks.
func (h *Hooks) Len() int {
	if h == nil {
		return 0
	}
	return len(h.forward)
}

// Resolve returns the hooks for each of the given points, in the order of
// points, where names[i] is the name of points[i]. It returns an error
// wrapping ErrUnknownPoint, with the closest valid names, for a pattern that
// matches none of them or is malformed.
func (h *Hooks) Resolve(points []Point, names []string) ([][]Func, error) {
	if h.Len() == 0 {
		return nil, nil
	}
	out := make([][]Func, len(points))
	for _, e := range h.forward {
		matched := false
		for i, name := range names {
			ok, err := path.Match(e.pattern, name)
			if err != nil {
				return nil, fmt.Errorf("hooks: pattern %q: %w", e.pattern, err)
			}
			if ok {
				out[i] = append(out[i], e.fn)
				matched = true
			}
		}
		if !matched {
			return nil, UnknownNameError(e.pattern, names)
		}
	}
	return out, nil
}

// UnknownNameError returns an error for a hook name or pattern that matches
// none of valid, listing the closest valid names.
func UnknownNameError(name string, valid []string) error {
	closest := Closest(name, valid, 5)
	return fmt.Errorf("hooks: %w %q; closest valid names: %s", ErrUnknownPoint, name, strings.Join(closest, ", "))
}

// Closest returns up to n names from valid ordered by edit distance to name,
// the nearest first.
func Closest(name string, valid []string, n int) []string {
	type scored struct {
		name string
		dist int
	}
	all := make([]scored, len(valid))
	for i, v := range valid {
		all[i] = scored{v, editDistance(name, v)}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].dist < all[j].dist })
	out := make([]string, 0, n)
	for i := 0; i < len(all) && i < n; i++ {
		out = append(out, all[i].name)
	}
	return out
}

// editDistance returns the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Clone returns a copy of h, or an empty set for nil, to which more hooks
// can be added without changing h.
func (h *Hooks) Clone() *Hooks {
	if h == nil {
		return &Hooks{}
	}
	return &Hooks{forward: slices.Clone(h.forward)}
}
