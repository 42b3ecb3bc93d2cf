package interp

import (
	"reflect"
	"strings"
	"testing"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// passCounter counts forward passes with read-only hooks: every pass
// reaches ln_final.hook_scale once, and only passes that start at the
// embedding reach hook_embed.
type passCounter struct {
	all, fromEmbedding int
}

func (c *passCounter) hooks() *hooks.Hooks {
	h := &hooks.Hooks{}
	h.Add("hook_embed", func(*hooks.Tensor, hooks.Point) error {
		c.fromEmbedding++
		return nil
	})
	h.Add("ln_final.hook_scale", func(*hooks.Tensor, hooks.Point) error {
		c.all++
		return nil
	})
	return h
}

// separate runs Attribute and ActivationPatching on their own, with the
// options Compare gives them.
func separate(t *testing.T, m *transformer.Model, task Task, opts AttributeOptions) (*AttributionResult, *PatchResult) {
	t.Helper()
	attr, err := Attribute(m, task, opts)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := ActivationPatching(m, task, PatchOptions{Sites: patchingSites(opts.Sites), Hooks: opts.Hooks})
	if err != nil {
		t.Fatal(err)
	}
	return attr, patch
}

// patchingSites returns the families of sites that patching sweeps.
func patchingSites(sites []string) []string {
	var out []string
	for _, s := range sites {
		if positional(s) || s == SiteZ {
			out = append(out, s)
		}
	}
	return out
}

// layerZeroSites returns the number of patched passes at block 0, which
// start at the embedding.
func layerZeroSites(m *transformer.Model, sites []string, seq int) int {
	n := 0
	for _, s := range sites {
		n += width(m, s, seq)
	}
	return n
}

// TestCompareMatchesSeparate checks that Compare returns exactly the
// results of Attribute and ActivationPatching run on their own, and that it
// runs the clean and corrupted prompts once instead of twice.
func TestCompareMatchesSeparate(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	task := demoTask(t)
	seq := len(task.Clean)
	cases := []struct {
		name string
		opts AttributeOptions
	}{
		{"atp", AttributeOptions{Method: MethodAtP, Sites: AllSites}},
		{"relp", AttributeOptions{Method: MethodRelP, Sites: []string{SiteResidPre, SiteZ, SiteMLPPost, SitePattern}}},
		{"ig", AttributeOptions{Method: MethodIG, Sites: []string{SiteAttnOut, SiteMLPOut}, Steps: 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var alone, shared passCounter
			opts := c.opts
			opts.Hooks = alone.hooks()
			wantAttr, wantPatch := separate(t, m, task, opts)

			opts.Hooks = shared.hooks()
			got, err := Compare(m, task, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Attribution, wantAttr) {
				t.Errorf("attribution differs from Attribute's:\n got %+v\nwant %+v", got.Attribution, wantAttr)
			}
			if !reflect.DeepEqual(got.Patching, wantPatch) {
				t.Errorf("patching differs from ActivationPatching's:\n got %+v\nwant %+v", got.Patching, wantPatch)
			}

			patchSites := patchingSites(opts.Sites)
			if want := patchedPasses(m, patchSites, seq); got.PatchedPasses != want {
				t.Errorf("patched passes = %d, want %d", got.PatchedPasses, want)
			}
			if want := got.Attribution.ForwardPasses + got.PatchedPasses; shared.all != want {
				t.Errorf("Compare ran %d forward passes, want %d (the method's %d and %d patched)", shared.all, want, got.Attribution.ForwardPasses, got.PatchedPasses)
			}
			if alone.all-shared.all != 2 {
				t.Errorf("separate methods ran %d forward passes and Compare %d, want 2 fewer (the clean and corrupted runs)", alone.all, shared.all)
			}
			// Integrated gradients' runs at block 0 also start at the
			// embedding.
			want := 2 + layerZeroSites(m, patchSites, seq)
			if opts.Method == MethodIG {
				want += len(opts.Sites) * opts.Steps
			}
			if shared.fromEmbedding != want {
				t.Errorf("Compare ran %d passes from the embedding, want %d: the clean and corrupted runs once and the block-0 runs", shared.fromEmbedding, want)
			}
		})
	}
}

// TestCompareBatchedMatchesSeparate checks the comparison without extra
// hooks, where patched passes run in batches.
func TestCompareBatchedMatchesSeparate(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	task := demoTask(t)
	opts := AttributeOptions{Method: MethodRelP}
	wantAttr, wantPatch := separate(t, m, task, AttributeOptions{Method: MethodRelP, Sites: AllSites})
	got, err := Compare(m, task, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Attribution, wantAttr) {
		t.Errorf("attribution differs from Attribute's:\n got %+v\nwant %+v", got.Attribution, wantAttr)
	}
	if !reflect.DeepEqual(got.Patching, wantPatch) {
		t.Errorf("patching differs from ActivationPatching's:\n got %+v\nwant %+v", got.Patching, wantPatch)
	}
}

// TestCompareDatasetMatchesSeparate checks CompareDataset against
// AttributeDataset and PatchDataset on tasks of two lengths, and that it
// saves the second clean and corrupted run of each task.
func TestCompareDatasetMatchesSeparate(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	long := demoTask(t)
	short := Task{Clean: long.Clean[2:], Corrupt: long.Corrupt[2:], Answer: long.Answer, Wrong: long.Wrong}
	tasks := []Task{long, short}

	var alone, shared passCounter
	opts := AttributeOptions{Method: MethodAtP, Sites: []string{SiteMLPOut, SiteZ, SiteMLPPost}, Hooks: alone.hooks()}
	wantAttr, err := AttributeDataset(m, tasks, opts)
	if err != nil {
		t.Fatal(err)
	}
	wantPatch, err := PatchDataset(m, tasks, PatchOptions{Sites: []string{SiteMLPOut, SiteZ}, Hooks: opts.Hooks})
	if err != nil {
		t.Fatal(err)
	}

	opts.Hooks = shared.hooks()
	var steps []int
	total := 0
	opts.Progress = func(done, n int) {
		steps = append(steps, done)
		total = n
	}
	got, err := CompareDataset(m, tasks, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Attribution, wantAttr) {
		t.Errorf("attribution differs from AttributeDataset's:\n got %+v\nwant %+v", got.Attribution, wantAttr)
	}
	if !reflect.DeepEqual(got.Patching, wantPatch) {
		t.Errorf("patching differs from PatchDataset's:\n got %+v\nwant %+v", got.Patching, wantPatch)
	}
	if alone.all-shared.all != 2*len(tasks) {
		t.Errorf("separate methods ran %d forward passes and CompareDataset %d, want %d fewer", alone.all, shared.all, 2*len(tasks))
	}

	if want := got.Attribution.BackwardPasses + got.PatchedPasses; total != want {
		t.Errorf("progress total = %d, want %d backward and patched passes", total, want)
	}
	if len(steps) == 0 {
		t.Fatal("progress was never called")
	}
	if last := steps[len(steps)-1]; last != total {
		t.Errorf("progress ended at %d, want %d", last, total)
	}
	for i := 1; i < len(steps); i++ {
		if steps[i] < steps[i-1] {
			t.Errorf("progress went back from %d to %d", steps[i-1], steps[i])
		}
	}
}

// TestPatchDatasetRunsEachPromptOnce counts the forward passes of a
// patching sweep over two tasks: per task one clean and one corrupted run
// and one patched run per site.
func TestPatchDatasetRunsEachPromptOnce(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	long := demoTask(t)
	short := Task{Clean: long.Clean[3:], Corrupt: long.Corrupt[3:], Answer: long.Answer, Wrong: long.Wrong}
	tasks := []Task{long, short}
	var count passCounter
	if _, err := PatchDataset(m, tasks, PatchOptions{Hooks: count.hooks()}); err != nil {
		t.Fatal(err)
	}
	all, fromEmbedding := 0, 0
	for _, task := range tasks {
		all += 2 + patchedPasses(m, AllSites, len(task.Clean))
		fromEmbedding += 2 + layerZeroSites(m, AllSites, len(task.Clean))
	}
	if count.all != all {
		t.Errorf("%d forward passes, want %d", count.all, all)
	}
	if count.fromEmbedding != fromEmbedding {
		t.Errorf("%d passes from the embedding, want %d", count.fromEmbedding, fromEmbedding)
	}
}

func TestCompareRejects(t *testing.T) {
	m := loadFixture(t, "gpt2-tiny.gguf")
	task := demoTask(t)
	cases := []struct {
		name string
		task Task
		opts AttributeOptions
		want string
	}{
		{"attribution-only sites", task, AttributeOptions{Method: MethodAtP, Sites: []string{SiteMLPPost}}, "at least one of the site families"},
		{"unknown method", task, AttributeOptions{Method: "shap"}, "unknown attribution method"},
		{"same prompts", Task{Clean: task.Clean, Corrupt: task.Clean, Answer: task.Answer, Wrong: task.Wrong}, AttributeOptions{Method: MethodAtP}, "same logit difference"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compare(m, c.task, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}
