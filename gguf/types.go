package gguf

import "strconv"

// Type is a ggml tensor type id, as stored in a GGUF tensor index entry.
// The values are those of enum ggml_type in ggml.h.
type Type uint32

// Tensor types that ggml can store. Ids 4, 5, 31–33 and 36–38 belonged to
// types that ggml has removed, so they have names but no block layout.
const (
	TypeF32     Type = 0
	TypeF16     Type = 1
	TypeQ4_0    Type = 2
	TypeQ4_1    Type = 3
	TypeQ5_0    Type = 6
	TypeQ5_1    Type = 7
	TypeQ8_0    Type = 8
	TypeQ8_1    Type = 9
	TypeQ2_K    Type = 10
	TypeQ3_K    Type = 11
	TypeQ4_K    Type = 12
	TypeQ5_K    Type = 13
	TypeQ6_K    Type = 14
	TypeQ8_K    Type = 15
	TypeIQ2_XXS Type = 16
	TypeIQ2_XS  Type = 17
	TypeIQ3_XXS Type = 18
	TypeIQ1_S   Type = 19
	TypeIQ4_NL  Type = 20
	TypeIQ3_S   Type = 21
	TypeIQ2_S   Type = 22
	TypeIQ4_XS  Type = 23
	TypeI8      Type = 24
	TypeI16     Type = 25
	TypeI32     Type = 26
	TypeI64     Type = 27
	TypeF64     Type = 28
	TypeIQ1_M   Type = 29
	TypeBF16    Type = 30
	TypeTQ1_0   Type = 34
	TypeTQ2_0   Type = 35
	TypeMXFP4   Type = 39
)

// typeTraits is the block layout of one tensor type: a block of blockSize
// elements takes blockBytes bytes. A zero blockSize marks a removed type.
type typeTraits struct {
	name       string
	blockSize  int
	blockBytes int
}

// typeTable maps each known type id to its layout. The block sizes are
// QK4_0, QK_K (256) and so on, and the byte counts are sizeof(block_*) in
// ggml-common.h.
var typeTable = map[Type]typeTraits{
	TypeF32:     {"F32", 1, 4},
	TypeF16:     {"F16", 1, 2},
	TypeQ4_0:    {"Q4_0", 32, 18},
	TypeQ4_1:    {"Q4_1", 32, 20},
	4:           {"Q4_2", 0, 0},
	5:           {"Q4_3", 0, 0},
	TypeQ5_0:    {"Q5_0", 32, 22},
	TypeQ5_1:    {"Q5_1", 32, 24},
	TypeQ8_0:    {"Q8_0", 32, 34},
	TypeQ8_1:    {"Q8_1", 32, 36},
	TypeQ2_K:    {"Q2_K", 256, 84},
	TypeQ3_K:    {"Q3_K", 256, 110},
	TypeQ4_K:    {"Q4_K", 256, 144},
	TypeQ5_K:    {"Q5_K", 256, 176},
	TypeQ6_K:    {"Q6_K", 256, 210},
	TypeQ8_K:    {"Q8_K", 256, 292},
	TypeIQ2_XXS: {"IQ2_XXS", 256, 66},
	TypeIQ2_XS:  {"IQ2_XS", 256, 74},
	TypeIQ3_XXS: {"IQ3_XXS", 256, 98},
	TypeIQ1_S:   {"IQ1_S", 256, 50},
	TypeIQ4_NL:  {"IQ4_NL", 32, 18},
	TypeIQ3_S:   {"IQ3_S", 256, 110},
	TypeIQ2_S:   {"IQ2_S", 256, 82},
	TypeIQ4_XS:  {"IQ4_XS", 256, 136},
	TypeI8:      {"I8", 1, 1},
	TypeI16:     {"I16", 1, 2},
	TypeI32:     {"I32", 1, 4},
	TypeI64:     {"I64", 1, 8},
	TypeF64:     {"F64", 1, 8},
	TypeIQ1_M:   {"IQ1_M", 256, 56},
	TypeBF16:    {"BF16", 1, 2},
	31:          {"Q4_0_4_4", 0, 0},
	32:          {"Q4_0_4_8", 0, 0},
	33:          {"Q4_0_8_8", 0, 0},
	TypeTQ1_0:   {"TQ1_0", 256, 54},
	TypeTQ2_0:   {"TQ2_0", 256, 66},
	36:          {"IQ4_NL_4_4", 0, 0},
	37:          {"IQ4_NL_4_8", 0, 0},
	38:          {"IQ4_NL_8_8", 0, 0},
	TypeMXFP4:   {"MXFP4", 32, 17},
}

// String returns ggml's name of the type, such as "F32" or "Q4_K", or
// "Type(N)" for an id that ggml never defined.
func (t Type) String() string {
	if tr, ok := typeTable[t]; ok {
		return tr.name
	}
	return "Type(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// BlockSize returns the number of elements in one block of the type: 1 for
// F32, F16 and BF16, 32 for Q8_0 and Q4_0, 256 for the K-quants. It returns
// 0 for an unknown or removed type.
func (t Type) BlockSize() int {
	return typeTable[t].blockSize
}

// BlockBytes returns the number of bytes that one block of the type takes
// in a file: 4 for F32, 34 for Q8_0, 144 for Q4_K. It returns 0 for an
// unknown or removed type.
func (t Type) BlockBytes() int {
	return typeTable[t].blockBytes
}

// Valid reports whether t is a tensor type with a block layout in current
// ggml, so that files may contain tensors of it.
func (t Type) Valid() bool {
	return t.BlockSize() > 0
}

// ValueType is the type id of a GGUF metadata value.
type ValueType uint32

// Metadata value types, as numbered by the GGUF format.
const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12
)

var valueTypeNames = [...]string{
	ValueUint8:   "uint8",
	ValueInt8:    "int8",
	ValueUint16:  "uint16",
	ValueInt16:   "int16",
	ValueUint32:  "uint32",
	ValueInt32:   "int32",
	ValueFloat32: "float32",
	ValueBool:    "bool",
	ValueString:  "string",
	ValueArray:   "array",
	ValueUint64:  "uint64",
	ValueInt64:   "int64",
	ValueFloat64: "float64",
}

// String returns the lower-case name of the value type, such as "uint32",
// or "ValueType(N)" for an unknown id.
func (v ValueType) String() string {
	if int(v) < len(valueTypeNames) {
		return valueTypeNames[v]
	}
	return "ValueType(" + strconv.FormatUint(uint64(v), 10) + ")"
}

// Valid reports whether v is one of the thirteen GGUF value types.
func (v ValueType) Valid() bool {
	return int(v) < len(valueTypeNames)
}

// size returns the encoded size of one value of a fixed-size type, or 0
// for string and array.
func (v ValueType) size() int {
	switch v {
	case ValueUint8, ValueInt8, ValueBool:
		return 1
	case ValueUint16, ValueInt16:
		return 2
	case ValueUint32, ValueInt32, ValueFloat32:
		return 4
	case ValueUint64, ValueInt64, ValueFloat64:
		return 8
	}
	return 0
}

// Array is a metadata array. Values is a slice of the Go type that matches
// Elem: []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32,
// []bool, []string, []uint64, []int64, []float64, or []Array when Elem is
// ValueArray, where each inner Array has its own element type.
type Array struct {
	Elem   ValueType
	Values any
}

// Len returns the number of elements in the array, or 0 when Values is not
// one of the slice types listed on [Array].
func (a Array) Len() int {
	switch v := a.Values.(type) {
	case []uint8:
		return len(v)
	case []int8:
		return len(v)
	case []uint16:
		return len(v)
	case []int16:
		return len(v)
	case []uint32:
		return len(v)
	case []int32:
		return len(v)
	case []float32:
		return len(v)
	case []bool:
		return len(v)
	case []string:
		return len(v)
	case []uint64:
		return len(v)
	case []int64:
		return len(v)
	case []float64:
		return len(v)
	case []Array:
		return len(v)
	}
	return 0
}

// KV is one metadata entry. Value is a Go scalar of the exact stored type
// (uint8, int8, uint16, int16, uint32, int32, float32, bool, string,
// uint64, int64, float64) or an [Array].
type KV struct {
	Key   string
	Value any
}

// TensorInfo is one entry of a file's tensor index. Dims lists the
// dimensions as stored, ne0 (the contiguous, fastest-varying dimension)
// first, so a row-major matrix of shape [rows, cols] has Dims {cols, rows}.
// Offset is relative to the start of the data section.
type TensorInfo struct {
	Name   string
	Type   Type
	Dims   []uint64
	Offset uint64
}

// NumElements returns the product of the dimensions. For a TensorInfo read
// by [Open] the product is known to fit in an int64.
func (t *TensorInfo) NumElements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// NumBytes returns the size of the tensor's data: the number of blocks
// times the type's block size in bytes. It returns 0 for an unknown type.
func (t *TensorInfo) NumBytes() uint64 {
	bs := t.Type.BlockSize()
	if bs == 0 {
		return 0
	}
	return t.NumElements() / uint64(bs) * uint64(t.Type.BlockBytes())
}
