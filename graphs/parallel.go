package graphs

import (
	"math"
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

// exp32x4 is e^x in float32 for four independent inputs at once (Cephes'
// expf: x = k*ln2 + r with k the nearest integer to x/ln2, a degree-6
// polynomial for e^r on |r| <= ln2/2, then scaling by 2^k through the
// exponent bits). The four chains interleave, hiding their latency; callers
// with one value pass zeros for the rest, so every element is computed the
// same way. Relative error is within 2.5 ulp (TestExp32). Inputs are clamped
// to [-87.33654, 88]: below, the result is ~1e-38 instead of 0 (harmless in
// a softmax or a sigmoid); above, e^88. k is rounded by adding and
// subtracting 1.5*2^23, which leaves the nearest integer in a float32.
func exp32x4(x0, x1, x2, x3 float32) (float32, float32, float32, float32) {
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
		round = 12582912 // 1.5 * 2^23
		lo    = -87.33654
		hi    = 88
	)
	x0, x1, x2, x3 = max(min(x0, hi), lo), max(min(x1, hi), lo), max(min(x2, hi), lo), max(min(x3, hi), lo)
	k0, k1, k2, k3 := x0*log2e+round-round, x1*log2e+round-round, x2*log2e+round-round, x3*log2e+round-round
	r0, r1, r2, r3 := x0-k0*c1, x1-k1*c1, x2-k2*c1, x3-k3*c1
	r0, r1, r2, r3 = r0-k0*c2, r1-k1*c2, r2-k2*c2, r3-k3*c2
	p0, p1, p2, p3 := 1.9875691500e-4*r0+1.3981999507e-3, 1.9875691500e-4*r1+1.3981999507e-3, 1.9875691500e-4*r2+1.3981999507e-3, 1.9875691500e-4*r3+1.3981999507e-3
	p0, p1, p2, p3 = p0*r0+8.3334519073e-3, p1*r1+8.3334519073e-3, p2*r2+8.3334519073e-3, p3*r3+8.3334519073e-3
	p0, p1, p2, p3 = p0*r0+4.1665795894e-2, p1*r1+4.1665795894e-2, p2*r2+4.1665795894e-2, p3*r3+4.1665795894e-2
	p0, p1, p2, p3 = p0*r0+1.6666665459e-1, p1*r1+1.6666665459e-1, p2*r2+1.6666665459e-1, p3*r3+1.6666665459e-1
	p0, p1, p2, p3 = p0*r0+5.0000001201e-1, p1*r1+5.0000001201e-1, p2*r2+5.0000001201e-1, p3*r3+5.0000001201e-1
	y0, y1, y2, y3 := p0*(r0*r0)+r0+1, p1*(r1*r1)+r1+1, p2*(r2*r2)+r2+1, p3*(r3*r3)+r3+1
	return y0 * math.Float32frombits(uint32(int32(k0)+127)<<23), y1 * math.Float32frombits(uint32(int32(k1)+127)<<23),
		y2 * math.Float32frombits(uint32(int32(k2)+127)<<23), y3 * math.Float32frombits(uint32(int32(k3)+127)<<23)
}

// expShift writes dst[i] = e^(src[i]-shift) and returns their sum (in
// float64). One type switch per call, so the inner loops are specialised.
func expShift[F Float](dst, src []F, shift F) float64 {
	var sum float64
	switch d := any(dst).(type) {
	case []float32:
		s, sh := any(src).([]float32), float32(shift)
		n := len(s) &^ 3
		for i := 0; i < n; i += 4 {
			e0, e1, e2, e3 := exp32x4(s[i]-sh, s[i+1]-sh, s[i+2]-sh, s[i+3]-sh)
			d[i], d[i+1], d[i+2], d[i+3] = e0, e1, e2, e3
			sum += float64(e0) + float64(e1) + float64(e2) + float64(e3)
		}
		for i := n; i < len(s); i++ { // the same arithmetic as the body, so every position rounds alike
			e, _, _, _ := exp32x4(s[i]-sh, 0, 0, 0)
			d[i] = e
			sum += float64(e)
		}
	case []float64:
		s, sh := any(src).([]float64), float64(shift)
		for i, v := range s {
			e := math.Exp(v - sh)
			d[i] = e
			sum += e
		}
	}
	return sum
}
