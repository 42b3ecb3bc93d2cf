package gguf

import "math"

// Value returns the value stored under key: a Go scalar of the exact
// stored type or an Array. ok is false when the key is absent.
func (f *File) Value(key string) (value any, ok bool) {
	i, ok := f.keyIndex[key]
	if !ok {
		return nil, false
	}
	return f.KV[i].Value, true
}

// String returns the string stored under key. ok is false when the key is
// absent or its value is not a string.
func (f *File) String(key string) (string, bool) {
	v, _ := f.Value(key)
	s, ok := v.(string)
	return s, ok
}

// Uint returns the integer stored under key as a uint64. It accepts every
// unsigned type and signed types holding a non-negative value. ok is false
// when the key is absent, its value is not an integer, or it is negative.
func (f *File) Uint(key string) (uint64, bool) {
	v, _ := f.Value(key)
	return toUint(v)
}

// Int returns the integer stored under key as an int64. It accepts every
// integer type. ok is false when the key is absent, its value is not an
// integer, or it is a uint64 above math.MaxInt64.
func (f *File) Int(key string) (int64, bool) {
	v, _ := f.Value(key)
	return toInt(v)
}

// Float returns the number stored under key as a float64. It accepts
// float32, float64 and every integer type (converted, so integers beyond
// 2^53 may round). ok is false when the key is absent or its value is not
// a number.
func (f *File) Float(key string) (float64, bool) {
	v, _ := f.Value(key)
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	if i, ok := toInt(v); ok {
		return float64(i), true
	}
	if u, ok := toUint(v); ok {
		return float64(u), true
	}
	return 0, false
}

// Bool returns the bool stored under key. ok is false when the key is
// absent or its value is not a bool.
func (f *File) Bool(key string) (bool, bool) {
	v, _ := f.Value(key)
	b, ok := v.(bool)
	return b, ok
}

// Array returns the array stored under key. Its Values slice is shared
// with the File and must not be modified. ok is false when the key is
// absent or its value is not an array.
func (f *File) Array(key string) (Array, bool) {
	v, _ := f.Value(key)
	a, ok := v.(Array)
	return a, ok
}

// Strings returns a copy of the string array stored under key. ok is
// false when the key is absent or its value is not an array of strings.
func (f *File) Strings(key string) ([]string, bool) {
	a, _ := f.Array(key)
	s, ok := a.Values.([]string)
	if !ok {
		return nil, false
	}
	return append(make([]string, 0, len(s)), s...), true
}

// Float32s returns a copy of the float array stored under key, converting
// float64 elements to float32. ok is false when the key is absent or its
// value is not an array of float32 or float64.
func (f *File) Float32s(key string) ([]float32, bool) {
	a, _ := f.Array(key)
	switch s := a.Values.(type) {
	case []float32:
		return append(make([]float32, 0, len(s)), s...), true
	case []float64:
		out := make([]float32, len(s))
		for i, x := range s {
			out[i] = float32(x)
		}
		return out, true
	}
	return nil, false
}

// Int32s returns a copy of the integer array stored under key as int32
// values. It accepts arrays of any integer type whose every element fits
// in an int32. ok is false when the key is absent, its value is not an
// integer array, or an element is out of range.
func (f *File) Int32s(key string) ([]int32, bool) {
	a, _ := f.Array(key)
	if s, ok := a.Values.([]int32); ok {
		return append(make([]int32, 0, len(s)), s...), true
	}
	switch s := a.Values.(type) {
	case []uint8:
		return convertInts(s)
	case []int8:
		return convertInts(s)
	case []uint16:
		return convertInts(s)
	case []int16:
		return convertInts(s)
	case []uint32:
		return convertInts(s)
	case []uint64:
		return convertInts(s)
	case []int64:
		return convertInts(s)
	}
	return nil, false
}

// convertInts converts s to int32 values, or reports false when an
// element does not fit.
func convertInts[T uint8 | int8 | uint16 | int16 | uint32 | uint64 | int64](s []T) ([]int32, bool) {
	out := make([]int32, len(s))
	for i, x := range s {
		y := int32(x)
		if T(y) != x || (y < 0) != (x < 0) {
			return nil, false
		}
		out[i] = y
	}
	return out, true
}

// toUint converts an unsigned value, or a non-negative signed one, to
// uint64.
func toUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	}
	if i, ok := toInt(v); ok && i >= 0 {
		return uint64(i), true
	}
	return 0, false
}

// toInt converts any integer value that fits to int64.
func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}
