package gguf_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/interp-go/interp/gguf"
)

// writeExampleModel writes a small model file, so that the example has a
// file to open.
func writeExampleModel(path string) error {
	w := gguf.NewWriter()
	if err := w.Add("general.architecture", "llama"); err != nil {
		return err
	}
	if err := w.Add("llama.block_count", uint32(1)); err != nil {
		return err
	}
	if err := w.Add("tokenizer.ggml.tokens", []string{"<unk>", "<s>", "</s>"}); err != nil {
		return err
	}
	// A [2, 4] matrix (2 rows of 4) has GGUF dimensions {4, 2}: ne0 first.
	values := []float32{0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5}
	if err := w.AddFloat32("token_embd.weight", gguf.TypeF16, []uint64{4, 2}, values); err != nil {
		return err
	}
	return w.WriteFile(path)
}

func ExampleOpen() {
	dir, err := os.MkdirTemp("", "gguf-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.gguf")
	if err := writeExampleModel(path); err != nil {
		log.Fatal(err)
	}

	f, err := gguf.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	arch, _ := f.String("general.architecture")
	blocks, _ := f.Uint(arch + ".block_count")
	tokens, _ := f.Strings("tokenizer.ggml.tokens")
	fmt.Printf("architecture %s, %d block, %d tokens\n", arch, blocks, len(tokens))

	info, _ := f.Tensor("token_embd.weight")
	fmt.Printf("%s: %s, dims %v, %d bytes\n", info.Name, info.Type, info.Dims, info.NumBytes())

	values, err := f.TensorFloat32("token_embd.weight")
	if err != nil {
		log.Fatal(err)
	}
	cols := int(info.Dims[0])
	for row := range int(info.Dims[1]) {
		fmt.Println(values[row*cols : (row+1)*cols])
	}
	// Output:
	// architecture llama, 1 block, 3 tokens
	// token_embd.weight: F16, dims [4 2], 16 bytes
	// [0 0.5 1 1.5]
	// [2 2.5 3 3.5]
}
