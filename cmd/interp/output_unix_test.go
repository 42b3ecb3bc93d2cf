//go:build unix

package main

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The test uses a named pipe in place of /dev/stdout, which a rename would replace
// when the command runs as root.
func TestWriteFileAtomicWritesPipeDirectly(t *testing.T) {
	pipe := filepath.Join(t.TempDir(), "out.csv")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Skipf("named pipes unavailable: %v", err)
	}
	read := make(chan string, 1)
	go func() {
		f, err := os.Open(pipe)
		if err != nil {
			read <- "open: " + err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		read <- string(b)
	}()

	err := writeFileAtomic(pipe, func(w io.Writer) error {
		_, err := io.WriteString(w, "rows")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// Check the file type first: a replaced pipe never gets a writer, so
	// its reader would block.
	info, err := os.Lstat(pipe)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("%s is now %v, want the named pipe kept", pipe, info.Mode())
	}
	select {
	case got := <-read:
		if got != "rows" {
			t.Errorf("reader of the pipe got %q, want %q", got, "rows")
		}
	case <-time.After(10 * time.Second):
		t.Error("reader of the pipe got nothing within 10 s")
	}
}
