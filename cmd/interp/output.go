package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
)

// writeJSON writes v to w as one line of JSON. It writes nothing when v
// holds a NaN or an infinity, which JSON cannot encode.
func writeJSON(w io.Writer, v any) error {
	err := json.NewEncoder(w).Encode(v)
	var unsupported *json.UnsupportedValueError
	if errors.As(err, &unsupported) {
		return fmt.Errorf("the result contains %s, which JSON cannot encode, because the run computed values that are not finite; run without --json to see where", unsupported.Str)
	}
	if err != nil {
		return fmt.Errorf("encoding JSON output: %w", err)
	}
	return nil
}

// writeFileAtomic writes a file through write and moves it into place only
// when write succeeds, so path never holds a partial file. The temporary
// file sits in the folder of the file it replaces, so the final rename does
// not cross file systems. A symbolic link at path is followed, so the link
// stays and its target gets the new content. A path that exists but is not
// a regular file, such as /dev/stdout or a named pipe, cannot be replaced
// by a rename and is written directly.
func writeFileAtomic(path string, write func(w io.Writer) error) (err error) {
	target := path
	mode := os.FileMode(0o644)
	if info, statErr := os.Stat(path); statErr == nil {
		if !info.Mode().IsRegular() {
			return writeFileDirect(path, write)
		}
		if target, err = filepath.EvalSymlinks(path); err != nil {
			return fmt.Errorf("creating %s: %w", path, err)
		}
		mode = info.Mode().Perm()
	}

	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()

	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// CreateTemp makes the file readable by its owner only. A new output
	// file gets the usual rw-r--r--, and a replaced one keeps its mode.
	if err := os.Chmod(tmp, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writeFileDirect writes to an existing file that is not a regular file,
// such as a terminal, /dev/stdout or a named pipe, without truncating it.
func writeFileDirect(path string, write func(w io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// checkOutputPaths checks, before any long work, that each non-empty path
// of the named flags can take a file: its folder exists and the path is not
// a folder. Output is still written atomically at the end; this only stops
// a typo from throwing a finished sweep away.
func checkOutputPaths(paths map[string]string) error {
	for flag, path := range paths {
		if path == "" {
			continue
		}
		if info, err := os.Stat(path); err == nil && info.IsDir() {
			return fmt.Errorf("--%s %s is a folder; give a file name", flag, path)
		}
		dir := filepath.Dir(path)
		info, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("--%s %s: folder %s not found; create it or choose another path", flag, path, dir)
		}
		if !info.IsDir() {
			return fmt.Errorf("--%s %s: %s is not a folder", flag, path, dir)
		}
	}
	return nil
}

// checkOutputExtension rejects a non-empty output path whose extension,
// compared without case, is not one of exts. format describes what the
// command writes there, for the message.
func checkOutputExtension(flag, path, format string, exts ...string) error {
	if path == "" || slices.ContainsFunc(exts, func(e string) bool { return strings.EqualFold(filepath.Ext(path), e) }) {
		return nil
	}
	names := strings.Join(exts, ", ")
	if n := len(exts); n > 1 {
		names = strings.Join(exts[:n-1], ", ") + " or " + exts[n-1]
	}
	return fmt.Errorf("invalid --%s %s: %s; give a name ending in %s", flag, path, format, names)
}

// jsonError rewrites a JSON decoding error for users: a value of the
// wrong type names the field and the expected type instead of the Go
// struct that was being filled.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return fmt.Errorf("field %q is a JSON %s, but it must be %s", typeErr.Field, typeErr.Value, jsonKind(typeErr.Type.Kind()))
	}
	return err
}

// jsonKind describes the JSON value a Go kind is read from.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Bool:
		return "true or false"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return "a value of another type"
	}
	return "a number"
}

// plural returns n with noun, adding an s unless n is 1: "1 token",
// "3 tokens".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
