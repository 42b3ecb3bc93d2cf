// Package gguf reads and writes GGUF files, the model format of llama.cpp
// and ollama.
//
// A GGUF file starts with the magic "GGUF", a version (2 and 3 are read, 3
// is written), a tensor count and a metadata count. Typed key-value
// metadata follows, then one index entry per tensor (name, dimensions with
// ne0 first, tensor type, offset), then padding up to general.alignment
// (32 bytes unless the file sets it), then the data section. Every tensor's
// offset is relative to the start of the data section and is a multiple of
// the alignment. All numbers are little-endian.
//
// [Open] checks every count, length, offset and shape against the file's
// size before it allocates anything, because a GGUF file is untrusted
// input. Tensor data stays in a read-only memory mapping, and
// [File.TensorBytes] returns slices of that mapping without copying.
// [Dequantize] and [Quantize] convert between float32 and the tensor types
// F32, F16, BF16 and Q8_0. [Writer] builds a GGUF v3 file and writes it
// atomically.
package gguf
