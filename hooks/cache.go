package hooks

import "slices"

// Cache records the activations of the hook points that match its patterns.
// Memory stays proportional to what the patterns select: nothing else is
// copied. A point reached again, as in step-by-step decoding, keeps only its
// latest value, which covers that step's tokens.
type Cache struct {
	patterns []string
	acts     map[string]*Tensor
	order    []string
}

// NewCache returns a cache for the points matching any of patterns (exact
// names or path.Match globs such as "blocks.*.hook_resid_pre").
func NewCache(patterns ...string) *Cache {
	return &Cache{patterns: slices.Clone(patterns), acts: map[string]*Tensor{}}
}

// Attach registers the cache's recording hooks on h. Hooks registered on h
// before Attach run first, so the cache sees their edits.
func (c *Cache) Attach(h *Hooks) {
	for _, p := range c.patterns {
		h.Add(p, c.store)
	}
}

func (c *Cache) store(t *Tensor, p Point) error {
	name := p.Name()
	if _, seen := c.acts[name]; !seen {
		c.order = append(c.order, name)
	}
	c.acts[name] = t.Clone()
	return nil
}

// Get returns the recorded activation of the named point.
func (c *Cache) Get(name string) (*Tensor, bool) {
	t, ok := c.acts[name]
	return t, ok
}

// Names returns the names of the recorded points in the order the forward
// pass reached them.
func (c *Cache) Names() []string { return slices.Clone(c.order) }

// Len returns the number of recorded points.
func (c *Cache) Len() int { return len(c.order) }
