//go:build !unix

package gguf

// syncDir does nothing on systems that cannot open a directory for
// syncing, such as Windows.
func syncDir(dir string) error {
	return nil
}
