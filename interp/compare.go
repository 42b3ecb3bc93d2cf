package interp

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/interp-go/interp/transformer"
)

// Comparison holds attribution scores and activation-patching values of the
// same tasks and sites, computed from shared clean and corrupted runs.
type Comparison struct {
	Attribution *AttributionResult
	Patching    *PatchResult
	// PatchedPasses counts the patched forward passes, one per site and
	// task. The shared clean and corrupted runs count in
	// Attribution.ForwardPasses only.
	PatchedPasses int
	// AttributionTime and PatchingTime are the wall-clock time of each
	// method. The shared runs count in AttributionTime.
	AttributionTime, PatchingTime time.Duration
}

// Compare runs attribution and activation patching on one task, from one
// clean and one corrupted forward pass that both methods share.
// Attribution equals Attribute(m, task, opts), and Patching equals
// ActivationPatching with opts.Hooks and the families of opts.Sites that
// patching sweeps (those in AllSites). opts.Progress counts the method's
// passes and the patched passes together. Compare returns an error
// wrapping ErrNoEffect when both prompts give the same metric.
func Compare(m *transformer.Model, task Task, opts AttributeOptions) (*Comparison, error) {
	c, err := newComparer(m, []Task{task}, opts)
	if err != nil {
		return nil, err
	}
	attr, patch, err := c.run(task)
	if err != nil {
		return nil, err
	}
	c.out.Attribution, c.out.Patching = attr, patch
	return c.out, nil
}

// CompareDataset runs Compare on every task and averages each method's
// results over the tasks: Attribution equals AttributeDataset(m, tasks,
// opts), and Patching equals PatchDataset with the options that Compare
// gives ActivationPatching.
func CompareDataset(m *transformer.Model, tasks []Task, opts AttributeOptions) (*Comparison, error) {
	if len(tasks) == 0 {
		return nil, fmt.Errorf("interp: dataset has no tasks")
	}
	if err := checkPatternLengths(tasks, opts.Sites); err != nil {
		return nil, err
	}
	c, err := newComparer(m, tasks, opts)
	if err != nil {
		return nil, err
	}
	attrs := newAttributionAverage(m, tasks, opts.Method)
	patches := newPatchAverage(m, tasks)
	for n, t := range tasks {
		attr, patch, err := c.run(t)
		if err != nil {
			return nil, taskError{n + 1, err}
		}
		if err := attrs.add(attr, len(t.Clean)); err != nil {
			return nil, taskError{n + 1, err}
		}
		patches.add(patch, len(t.Clean))
	}
	c.out.Attribution, c.out.Patching = attrs.result(), patches.result()
	return c.out, nil
}

// comparer runs Compare's two methods task by task and adds up their
// costs.
type comparer struct {
	m                     *transformer.Model
	opts                  AttributeOptions
	attrSites, patchSites []string
	done, total           int // Progress steps of all tasks
	out                   *Comparison
}

func newComparer(m *transformer.Model, tasks []Task, opts AttributeOptions) (*comparer, error) {
	attrSites, err := checkAttribution(opts)
	if err != nil {
		return nil, err
	}
	patchSites := slices.DeleteFunc(slices.Clone(attrSites), func(s string) bool { return !slices.Contains(AllSites, s) })
	if len(patchSites) == 0 {
		return nil, fmt.Errorf("interp: comparing with activation patching needs at least one of the site families it sweeps (%s)", strings.Join(AllSites, ", "))
	}
	c := &comparer{m: m, opts: opts, attrSites: attrSites, patchSites: patchSites, out: &Comparison{}}
	for _, t := range tasks {
		c.total += attributionPasses(m, attrSites, opts) + patchedPasses(m, patchSites, len(t.Clean))
	}
	return c, nil
}

// run records one task's clean and corrupted runs and runs both methods
// on them.
func (c *comparer) run(task Task) (*AttributionResult, *PatchResult, error) {
	if err := task.Validate(c.m); err != nil {
		return nil, nil, err
	}
	var patterns runPatterns
	addAttributionPatterns(&patterns, c.attrSites, c.opts.Method)
	addPatchPatterns(&patterns, c.patchSites)

	start := time.Now()
	runs, err := recordRuns(c.m, task, patterns, c.opts.Hooks, needsTape(c.opts.Method))
	if err != nil {
		return nil, nil, err
	}
	attrOpts := c.opts
	attrOpts.Progress = c.progress()
	attr, err := runs.attribute(c.m, c.attrSites, attrOpts)
	if err != nil {
		return nil, nil, err
	}
	c.done += attributionPasses(c.m, c.attrSites, c.opts)
	c.out.AttributionTime += time.Since(start)

	start = time.Now()
	patchOpts := PatchOptions{Sites: c.patchSites, Hooks: c.opts.Hooks, Progress: c.progress()}
	patch, err := runs.patch(c.m, c.patchSites, patchOpts)
	if err != nil {
		return nil, nil, err
	}
	passes := patchedPasses(c.m, c.patchSites, len(task.Clean))
	c.done += passes
	c.out.PatchedPasses += passes
	c.out.PatchingTime += time.Since(start)
	return attr, patch, nil
}

// progress returns a Progress function for the next phase that reports
// the steps of every task before it as done, or nil without opts.Progress.
func (c *comparer) progress() func(done, total int) {
	if c.opts.Progress == nil {
		return nil
	}
	base := c.done
	return func(done, _ int) { c.opts.Progress(base+done, c.total) }
}
