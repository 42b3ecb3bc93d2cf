package main

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/interp-go/interp/hooks"
)

// writeNPZ writes the arrays to w as a NumPy .npz archive: a zip file with
// one uncompressed "<name>.npy" member per array, so that np.load(f)[name]
// returns the array with its shape and dtype float32. names gives the order.
func writeNPZ(w io.Writer, names []string, arrays map[string]*hooks.Tensor) error {
	zw := zip.NewWriter(w)
	for _, name := range names {
		member, err := zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Store})
		if err != nil {
			return fmt.Errorf("npz member %s: %w", name, err)
		}
		if err := writeNPY(member, arrays[name]); err != nil {
			return fmt.Errorf("npz member %s: %w", name, err)
		}
	}
	return zw.Close()
}

// npyMagic starts every .npy file, followed by the format version 1.0.
const npyMagic = "\x93NUMPY\x01\x00"

// writeNPY writes t as a .npy file of little-endian float32 in C order.
//
// The layout is NumPy's "npy" format version 1.0: the magic string and
// version, a little-endian uint16 header length, then a Python dict literal
// giving dtype, order and shape. Spaces and a final newline pad the header
// so that the data starts at a multiple of 64 bytes.
func writeNPY(w io.Writer, t *hooks.Tensor) error {
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }"
	const prefix = len(npyMagic) + 2
	padded := (prefix + len(dict) + 1 + 63) / 64 * 64
	header := dict + strings.Repeat(" ", padded-prefix-len(dict)-1) + "\n"
	if len(header) > math.MaxUint16 {
		return fmt.Errorf("npy header of %d bytes does not fit format 1.0", len(header))
	}
	if t.Len() != len(t.Data) {
		return fmt.Errorf("tensor of shape %v has %d values", t.Shape, len(t.Data))
	}

	buf := make([]byte, 0, 1<<16)
	buf = append(buf, npyMagic...)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(header)))
	buf = append(buf, header...)
	for _, v := range t.Data {
		if len(buf)+4 > cap(buf) {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	_, err := w.Write(buf)
	return err
}
