//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package gguf

import (
	"fmt"
	"os"
)

// mapFile reads the regular file at path into memory, on systems where
// this package does not use mmap. The memory is writable, unlike a
// mapping, but callers must treat it as read-only all the same.
func mapFile(path string) (data []byte, release func() error, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file (mode %v)", path, st.Mode())
	}
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}
