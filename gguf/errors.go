package gguf

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package wrap one of them, so
// callers can test the cause with errors.Is, while the message names the
// file, the field and the value.
var (
	// ErrNotGGUF means the file does not start with the magic "GGUF".
	ErrNotGGUF = errors.New("gguf: not a GGUF file")
	// ErrUnsupportedVersion means the file's GGUF version is not 2 or 3.
	ErrUnsupportedVersion = errors.New("gguf: unsupported GGUF version")
	// ErrTruncated means the file ends before a field, string, array or
	// tensor that it describes, because it was cut short or because a
	// count, length or offset in it is corrupt.
	ErrTruncated = errors.New("gguf: unexpected end of file")
	// ErrInvalid means a count, length, offset, dimension or value in the
	// file is out of range or inconsistent.
	ErrInvalid = errors.New("gguf: invalid file")
	// ErrUnknownType means a tensor type or metadata value type id is not
	// one that ggml defines, or belongs to a type that ggml has removed.
	ErrUnknownType = errors.New("gguf: unknown type")
	// ErrDuplicate means a metadata key or tensor name occurs twice.
	ErrDuplicate = errors.New("gguf: duplicate name")
	// ErrUnsupportedType means the tensor type is valid but this package
	// cannot convert it to or from float32.
	ErrUnsupportedType = errors.New("gguf: unsupported tensor type")
	// ErrTensorNotFound means the file has no tensor of the requested name.
	ErrTensorNotFound = errors.New("gguf: tensor not found")
	// ErrClosed means the File was used after Close.
	ErrClosed = errors.New("gguf: file already closed")
)

// detailError carries a complete message and wraps a sentinel without
// repeating the sentinel's text, so messages read "offset 64 + size 4096
// exceeds file size 100" rather than ending in "invalid file".
type detailError struct {
	msg  string
	kind error
}

func (e *detailError) Error() string { return e.msg }
func (e *detailError) Unwrap() error { return e.kind }

// errorf formats a message that wraps the sentinel kind.
func errorf(kind error, format string, args ...any) error {
	return &detailError{msg: fmt.Sprintf(format, args...), kind: kind}
}
