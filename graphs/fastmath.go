package graphs

import "math"

// Fast float32 e^x for the softmax (attention, cross-entropy) and GELU
// kernels. Table-driven, after Tang (1989): with k the nearest integer to
// x*64/ln2, k = 64m + j (0 <= j < 64),
//
//	x = k*ln2/64 + r,  |r| <= ln2/128
//	e^x = 2^m * 2^(j/64) * e^r,  e^r ~ 1 + c1*r + r^2/2
//
// 2^(j/64) comes from a 64-entry table (float32, correctly rounded); e^r
// from a degree-2 minimax polynomial (c1 = 1.0000037, relative error below
// 6.7e-9 on |r| <= ln2/128); 2^m is added into the exponent bits. ln2/64 is
// split into a high part with 11 significant bits (k*hi is exact for
// |k| <= 8192) and a low part, so r is off by at most ~4e-9 (as is e^x,
// relatively). What dominates is the rounding of the table entry and of
// the final add: measured relative error 1.2e-7 (about 1 ulp) against
// math.Exp in float64 over [-87, 88.72] (TestExp32Accuracy asserts
// < 1.5e-7). The kernel it replaced (Cephes' expf, degree-7 polynomial,
// 8e-8) took ~1.5x as long per value (BenchmarkExp), partly its clamps
// through the builtin min/max.
//
// Edges: x < expLo (-87.33, where e^x reaches float32's smallest normal)
// gives exactly 0, x > expHi (the float32 below ln(MaxFloat32)) +Inf, NaN
// NaN. The softmax callers pass x - max <= 0, so only the first edge occurs
// there; GELU passes -2u, which overflows to +Inf for x < -10, and
// 1/(1+Inf) = 0 is the right sigmoid.
const (
	expLo = -87.33
	expHi = 88.72283
)

// exp2Tab[j] = 2^(j/64) rounded to float32 (written out so every machine
// has the same bits).
var exp2Tab = [64]float32{
	1, 1.0108893, 1.0218972, 1.0330249, 1.0442737, 1.0556452, 1.0671405, 1.0787607,
	1.0905077, 1.1023825, 1.1143868, 1.1265216, 1.1387886, 1.1511892, 1.1637249, 1.176397,
	1.1892071, 1.2021568, 1.2152474, 1.2284806, 1.2418578, 1.2553807, 1.269051, 1.28287,
	1.2968396, 1.3109612, 1.3252367, 1.3396676, 1.3542556, 1.3690025, 1.38391, 1.3989797,
	1.4142135, 1.4296134, 1.4451808, 1.4609178, 1.4768262, 1.4929078, 1.5091645, 1.5255982,
	1.5422108, 1.5590044, 1.5759809, 1.5931422, 1.6104903, 1.6280274, 1.6457555, 1.6636766,
	1.6817929, 1.7001064, 1.7186193, 1.7373339, 1.7562522, 1.7753764, 1.7947091, 1.8142521,
	1.8340081, 1.8539791, 1.8741677, 1.894576, 1.9152066, 1.9360617, 1.9571441, 1.978456,
}

// expSum32 writes dst[i] = e^(src[i]-shift) and returns their sum, added in
// order in float64. dst may be src. len(dst) must be at least len(src).
func expSum32(dst, src []float32, shift float32) float64 {
	dst = dst[:len(src)] // one bounds check here, none in the loop
	var sum float64
	for i, v := range src {
		x := v - shift
		var e float32
		if x >= expLo && x <= expHi { // false for NaN
			e = expIn(x)
		} else {
			e = expEdge(x)
		}
		dst[i] = e
		sum += float64(e)
	}
	return sum
}

// expIn is e^x for x in [expLo, expHi] (other x give garbage); small
// enough to inline into the loops that call it.
func expIn(x float32) float32 {
	const (
		inv64 = 92.33248261689366   // 64/ln2
		ln2hi = 0.01082611083984375 // ln2/64, 11 significant bits
		ln2lo = 4.3138566e-06       // ln2/64 - ln2hi
		round = 12582912            // 1.5*2^23: x+round-round rounds x to an integer
		c1    = 1.0000036954879761  // minimax for r + r^2/2 + ... with c2 = 1/2
	)
	kf := x*inv64 + round
	k := math.Float32bits(kf) // bits of round+k = 0x4B400000 + k
	kf -= round
	r := x - kf*ln2hi
	r -= kf * ln2lo
	t := exp2Tab[k&63] // j = k mod 64, as 0x4B400000 mod 64 = 0
	y := t*(r*(c1+r*0.5)) + t
	// m = floor(k/64) goes into the exponent: mod 2^32, m<<23 equals
	// (0x4B400000+k)>>6<<23, as 0x4B400000>>6<<23 = 0x12D<<39 = 0.
	return math.Float32frombits(math.Float32bits(y) + k>>6<<23)
}

// expEdge is e^x outside [expLo, expHi]: 0 below, +Inf above, NaN for NaN.
func expEdge(x float32) float32 {
	switch {
	case x < expLo:
		return 0
	case x > expHi:
		return float32(math.Inf(1))
	}
	return x
}

// expSum writes dst[i] = e^(src[i]-shift) and returns their sum in float64:
// expSum32 in float32, math.Exp in float64 (the finite-difference checks).
func expSum[F Float](dst, src []F, shift F) float64 {
	switch d := any(dst).(type) {
	case []float32:
		return expSum32(d, any(src).([]float32), float32(shift))
	case []float64:
		s, sh := any(src).([]float64), float64(shift)
		d = d[:len(s)]
		var sum float64
		for i, v := range s {
			e := math.Exp(v - sh)
			d[i] = e
			sum += e
		}
		return sum
	}
	panic("unreachable")
}

// maxOf is the largest element of a non-empty s, the shift of a softmax.
// A plain comparison, cheaper than the builtin max's NaN and signed-zero
// handling: a NaN element is skipped here but still makes the row's
// exponentials, hence its sum, NaN.
func maxOf[F Float](s []F) F {
	m := s[0]
	for _, v := range s[1:] {
		if v > m {
			m = v
		}
	}
	return m
}
