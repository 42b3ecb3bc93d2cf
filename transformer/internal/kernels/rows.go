package kernels

// DotRows sets dst[s] to the dot product of x with the row of w that
// starts at w[s·ld], for s < len(dst). Attention takes a query's scores
// against the keys of a KV cache this way, ld being the floats from one
// cached position to the next. With the assembly kernels, four rows share
// each pass over x. Each row's result is the same whether it is taken in a
// group of four or alone.
func DotRows(dst, x, w []float32, ld int) {
	n, k := len(dst), len(x)
	if n == 0 {
		return
	}
	if ld < 0 {
		panic("kernels: DotRows with a negative row stride")
	}
	if k == 0 {
		clear(dst)
		return
	}
	_ = w[(n-1)*ld+k-1]
	if dotRowsAsm(dst, x, w, ld) {
		return
	}
	for s := range dst {
		dst[s] = Dot(x, w[s*ld:][:k])
	}
}

// AxpyRows adds p[s] times the row of w that starts at w[s·ld] to y, for
// every s < len(p): attention's weighted sum of the values of a KV cache.
// With the assembly kernels, four rows share each pass over y, and y comes
// out bit for bit as from calling Axpy for each row in turn. Unlike a loop
// that skips the zero weights of masked keys, AxpyRows multiplies every
// row, so a row with an infinity or NaN makes y NaN even where its weight
// is 0.
func AxpyRows(y, p, w []float32, ld int) {
	n, k := len(p), len(y)
	if n == 0 || k == 0 {
		return
	}
	if ld < 0 {
		panic("kernels: AxpyRows with a negative row stride")
	}
	_ = w[(n-1)*ld+k-1]
	if axpyRowsAsm(y, p, w, ld) {
		return
	}
	for s, a := range p {
		Axpy(a, w[s*ld:][:k], y)
	}
}
