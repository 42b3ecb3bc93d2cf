//go:build unix

package gguf

import "os"

// syncDir flushes a directory's entries to disk, so that a rename in it
// survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
