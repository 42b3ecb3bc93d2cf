//go:build !race

package kernels

// raceEnabled reports a build with the race detector, whose
// instrumentation allocates on its own.
const raceEnabled = false
