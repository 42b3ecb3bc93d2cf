package transformer_test

import (
	"fmt"
	"log"
	"math"

	"github.com/interp-go/interp/hooks"
	"github.com/interp-go/interp/transformer"
)

// Example registers a hook that reads attention patterns, caches the clean
// run's residual stream entering block 1, and patches it into a corrupted
// run, which then gives the clean run's logits.
func Example() {
	m, err := transformer.Load("../testdata/gpt2-tiny.gguf")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	clean, _ := m.Tokenizer.Encode("When Mary and John went to the store, John gave a drink to", false)
	corrupt, _ := m.Tokenizer.Encode("When Mary and John went to the store, Mary gave a drink to", false)

	// A hook reads (or edits in place) the activation at matching points.
	h := &hooks.Hooks{}
	h.Add("blocks.*.attn.hook_pattern", func(t *hooks.Tensor, p hooks.Point) error {
		fmt.Println(p.Name(), t.Shape)
		return nil
	})
	// A cache records only the points its patterns select.
	cache := hooks.NewCache("blocks.1.hook_resid_pre")
	cache.Attach(h)
	cleanOut, err := m.Run(clean, &transformer.Options{Hooks: h})
	if err != nil {
		log.Fatal(err)
	}

	// Patch the clean residual stream into the corrupted run.
	resid, _ := cache.Get("blocks.1.hook_resid_pre")
	patch := &hooks.Hooks{}
	patch.Add("blocks.1.hook_resid_pre", hooks.Replace(resid))
	patched, err := m.Run(corrupt, &transformer.Options{Hooks: patch})
	if err != nil {
		log.Fatal(err)
	}
	worst := 0.0
	for i, v := range patched.Logits.Data {
		worst = math.Max(worst, math.Abs(float64(v-cleanOut.Logits.Data[i])))
	}
	fmt.Println("cached", resid.Shape)
	fmt.Println("patched run gives the clean logits:", worst < 1e-5)
	// Output:
	// blocks.0.attn.hook_pattern [4 14 14]
	// blocks.1.attn.hook_pattern [4 14 14]
	// cached [14 64]
	// patched run gives the clean logits: true
}
