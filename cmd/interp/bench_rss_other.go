//go:build !unix

package main

import (
	"fmt"
	"runtime"
)

// maxRSS reports that peak resident memory is unknown here.
//
// TODO: read PeakWorkingSetSize through GetProcessMemoryInfo on Windows;
// until then bench reports 0 there.
func maxRSS() (uint64, error) {
	return 0, fmt.Errorf("peak resident memory is not implemented on %s", runtime.GOOS)
}
