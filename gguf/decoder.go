package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// maxArrayDepth bounds the nesting of metadata arrays. The bound is
// arbitrary, and it keeps recursion on hostile input shallow.
const maxArrayDepth = 8

// decoder reads little-endian GGUF fields from an in-memory file. Every
// read checks the bytes left before it slices, so a hostile length can
// cause an error but never a panic or an allocation larger than the file.
type decoder struct {
	buf []byte
	pos int
}

func (d *decoder) left() int { return len(d.buf) - d.pos }

// take returns the next n bytes, or an ErrTruncated error naming the field.
func (d *decoder) take(n int, field string) ([]byte, error) {
	if n > d.left() {
		return nil, errorf(ErrTruncated, "%s: unexpected end of file at offset %d: need %d bytes, %d left",
			field, d.pos, n, d.left())
	}
	b := d.buf[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *decoder) u32(field string) (uint32, error) {
	b, err := d.take(4, field)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64(field string) (uint64, error) {
	b, err := d.take(8, field)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads a 64-bit element count and checks that count items of at
// least minSize bytes each fit in the bytes left, so that the caller may
// allocate a slice of count elements.
func (d *decoder) count(field string, minSize int) (int, error) {
	at := d.pos
	n, err := d.u64(field)
	if err != nil {
		return 0, err
	}
	if n > uint64(d.left()/minSize) {
		return 0, errorf(ErrTruncated, "%s %d at offset %d needs at least %d bytes per item, but only %d bytes are left",
			field, n, at, minSize, d.left())
	}
	return int(n), nil
}

// str reads a GGUF string: a uint64 byte length, then the bytes. The
// bytes are not checked for valid UTF-8, as in ggml.
func (d *decoder) str(field string) (string, error) {
	at := d.pos
	n, err := d.u64(field + " length")
	if err != nil {
		return "", err
	}
	if n > uint64(d.left()) {
		return "", errorf(ErrTruncated, "%s length %d at offset %d exceeds the %d bytes left in the file",
			field, n, at, d.left())
	}
	b := d.buf[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return string(b), nil
}

// value reads one metadata value of type vt. depth counts the arrays that
// enclose it.
func (d *decoder) value(vt ValueType, depth int) (any, error) {
	if vt == ValueArray {
		return d.array(depth + 1)
	}
	if vt == ValueString {
		return d.str("string")
	}
	size := vt.size()
	if size == 0 {
		return nil, errorf(ErrUnknownType, "unknown value type id %d at offset %d", uint32(vt), d.pos-4)
	}
	b, err := d.take(size, vt.String()+" value")
	if err != nil {
		return nil, err
	}
	return scalar(vt, b), nil
}

// scalar decodes one fixed-size value from b, which holds exactly
// vt.size() bytes.
func scalar(vt ValueType, b []byte) any {
	le := binary.LittleEndian
	switch vt {
	case ValueUint8:
		return b[0]
	case ValueInt8:
		return int8(b[0])
	case ValueUint16:
		return le.Uint16(b)
	case ValueInt16:
		return int16(le.Uint16(b))
	case ValueUint32:
		return le.Uint32(b)
	case ValueInt32:
		return int32(le.Uint32(b))
	case ValueFloat32:
		return math.Float32frombits(le.Uint32(b))
	case ValueBool:
		return b[0] != 0
	case ValueUint64:
		return le.Uint64(b)
	case ValueInt64:
		return int64(le.Uint64(b))
	case ValueFloat64:
		return math.Float64frombits(le.Uint64(b))
	}
	panic("gguf: scalar called with non-scalar type " + vt.String())
}

// array reads an array header (element type, count) and its elements.
// depth is the nesting level of this array, 1 for a top-level array.
func (d *decoder) array(depth int) (Array, error) {
	if depth > maxArrayDepth {
		return Array{}, errorf(ErrInvalid, "arrays nested more than %d levels deep at offset %d", maxArrayDepth, d.pos)
	}
	at := d.pos
	et32, err := d.u32("array element type")
	if err != nil {
		return Array{}, err
	}
	et := ValueType(et32)
	if !et.Valid() {
		return Array{}, errorf(ErrUnknownType, "unknown array element type id %d at offset %d", et32, at)
	}

	// The smallest encoding of one element: its fixed size, a string's
	// 8-byte length, or a nested array's 4-byte type and 8-byte count.
	minSize := et.size()
	switch et {
	case ValueString:
		minSize = 8
	case ValueArray:
		minSize = 12
	}
	n, err := d.count("array count", minSize)
	if err != nil {
		return Array{}, err
	}

	switch et {
	case ValueString:
		values := make([]string, n)
		for i := range values {
			if values[i], err = d.str("string"); err != nil {
				return Array{}, fmt.Errorf("array element %d: %w", i, err)
			}
		}
		return Array{Elem: et, Values: values}, nil
	case ValueArray:
		values := make([]Array, n)
		for i := range values {
			if values[i], err = d.array(depth + 1); err != nil {
				return Array{}, fmt.Errorf("array element %d: %w", i, err)
			}
		}
		return Array{Elem: et, Values: values}, nil
	}
	raw, err := d.take(n*minSize, "array data")
	if err != nil {
		return Array{}, err
	}
	return Array{Elem: et, Values: decodeScalars(et, raw, n)}, nil
}

// decodeScalars decodes n fixed-size values of type et from raw into a
// typed slice.
func decodeScalars(et ValueType, raw []byte, n int) any {
	le := binary.LittleEndian
	switch et {
	case ValueUint8:
		return append(make([]uint8, 0, n), raw...)
	case ValueInt8:
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(raw[i])
		}
		return v
	case ValueUint16:
		v := make([]uint16, n)
		for i := range v {
			v[i] = le.Uint16(raw[2*i:])
		}
		return v
	case ValueInt16:
		v := make([]int16, n)
		for i := range v {
			v[i] = int16(le.Uint16(raw[2*i:]))
		}
		return v
	case ValueUint32:
		v := make([]uint32, n)
		for i := range v {
			v[i] = le.Uint32(raw[4*i:])
		}
		return v
	case ValueInt32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(le.Uint32(raw[4*i:]))
		}
		return v
	case ValueFloat32:
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return v
	case ValueBool:
		v := make([]bool, n)
		for i := range v {
			v[i] = raw[i] != 0
		}
		return v
	case ValueUint64:
		v := make([]uint64, n)
		for i := range v {
			v[i] = le.Uint64(raw[8*i:])
		}
		return v
	case ValueInt64:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(le.Uint64(raw[8*i:]))
		}
		return v
	case ValueFloat64:
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return v
	}
	panic("gguf: decodeScalars called with non-scalar type " + et.String())
}
