//go:build unix

package main

import (
	"fmt"
	"runtime"
	"syscall"
)

// maxRSS returns the process's maximum resident set size from getrusage.
func maxRSS() (uint64, error) {
	// ru_maxrss is in bytes on Apple systems and in KiB on Linux and the
	// BSDs, as their getrusage manual pages state.
	var unit uint64
	switch runtime.GOOS {
	case "darwin", "ios":
		unit = 1
	case "linux", "android", "freebsd", "netbsd", "openbsd", "dragonfly":
		unit = 1024
	default:
		return 0, fmt.Errorf("the unit of getrusage's maximum resident set size on %s is unknown", runtime.GOOS)
	}

	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	if ru.Maxrss <= 0 {
		return 0, fmt.Errorf("getrusage reports no maximum resident set size on %s", runtime.GOOS)
	}
	return uint64(ru.Maxrss) * unit, nil
}
