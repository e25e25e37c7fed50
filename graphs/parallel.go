package graphs

import (
	"sync"
)

// Float is the element type of every kernel: float32 in training, float64
// in the finite-difference checks.
type Float interface{ ~float32 | ~float64 }

// nChunks is the fixed number of pieces a parallel kernel splits its work
// into: one per core of the target machine. It is a constant, not
// GOMAXPROCS, so reductions that sum per-chunk partials give the same bytes
// on every machine.
const nChunks = 2

// chunk returns the half-open range [lo, hi) of piece i of n items split into
// nChunks near-equal pieces.
func chunk(n, i int) (lo, hi int) { return n * i / nChunks, n * (i + 1) / nChunks }

// parallelFor runs fn over [0, n) split into nChunks fixed pieces, the last
// on the calling goroutine. fn gets its piece index so it can write partial
// results to a slot of its own.
func parallelFor(n int, fn func(piece, lo, hi int)) {
	if n < 2*nChunks {
		fn(0, 0, n)
		for i := 1; i < nChunks; i++ {
			fn(i, n, n)
		}
		return
	}
	var wg sync.WaitGroup
	wg.Add(nChunks - 1)
	for i := 0; i < nChunks-1; i++ {
		go func(i int) {
			defer wg.Done()
			lo, hi := chunk(n, i)
			fn(i, lo, hi)
		}(i)
	}
	lo, hi := chunk(n, nChunks-1)
	fn(nChunks-1, lo, hi)
	wg.Wait()
}
