package graphs

import (
	"math"
	"math/rand/v2"
	"testing"
)

// exp32One is expSum32 on one value.
func exp32One(x float32) float32 {
	v := []float32{x}
	expSum32(v, v, 0)
	return v[0]
}

// TestExp32Accuracy: expSum32 against math.Exp in float64 over a dense sweep
// of [-87, 88.72] (every 1e-4, 1.76M points; the softmax arguments are
// <= 0, GELU's -2u covers the rest) and over 2^20 random float32 bit
// patterns in that range. Measured worst: 1.2e-7 (~1 ulp).
func TestExp32Accuracy(t *testing.T) {
	const bound = 1.5e-7
	xs := make([]float32, 0, 1<<21)
	for x := -87.0; x <= 88.72; x += 1e-4 {
		xs = append(xs, float32(x))
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for len(xs) < cap(xs) {
		x := math.Float32frombits(rng.Uint32())
		if x >= -87 && x <= 88.72 {
			xs = append(xs, x)
		}
	}
	got := make([]float32, len(xs))
	sum := expSum32(got, xs, 0)
	worst, at, want := 0.0, float32(0), 0.0
	for i, x := range xs {
		w := math.Exp(float64(x))
		if e := math.Abs(float64(got[i])-w) / w; e > worst {
			worst, at = e, x
		}
		want += float64(got[i])
	}
	t.Logf("expSum32: worst relative error %.3g at x = %v over %d points", worst, at, len(xs))
	if worst > bound {
		t.Errorf("worst relative error %.3g at x = %v > %g", worst, at, bound)
	}
	if sum != want {
		t.Errorf("sum %v, want the in-order float64 sum %v", sum, want)
	}
	// The shift is subtracted in float32 before the exponential.
	shifted := make([]float32, 3)
	expSum32(shifted, []float32{1.5, 2.5, -3}, 2.5)
	for i, x := range []float32{1.5 - 2.5, 0, -3 - 2.5} {
		if shifted[i] != exp32One(x) {
			t.Errorf("shifted[%d] = %v, want %v", i, shifted[i], exp32One(x))
		}
	}
}

// TestExp32Edges: exact points, the clamps and the special values.
func TestExp32Edges(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, c := range []struct{ x, want float32 }{
		{0, 1}, {-0.0, 1}, {1e-30, 1}, {-1e-30, 1},
		{-87.34, 0}, {-100, 0}, {-1e30, 0}, {-inf, 0},
		{88.73, inf}, {100, inf}, {1e30, inf}, {inf, inf},
	} {
		if got := exp32One(c.x); got != c.want {
			t.Errorf("exp(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if got := exp32One(nan); got == got {
		t.Errorf("exp(NaN) = %v", got)
	}
	// The ends of the range: normal results, within the bound.
	for _, x := range []float32{expLo, expHi, -87, 88, 88.7} {
		got, w := exp32One(x), math.Exp(float64(x))
		if math.IsInf(float64(got), 0) || got < 0x1p-126 || math.Abs(float64(got)-w) > 1.5e-7*w {
			t.Errorf("exp(%v) = %v, want %v", x, got, w)
		}
	}
	// Powers of two: k*ln2 lands on table entry 0 and r ~ 0.
	for k := -125; k <= 127; k++ {
		got, w := exp32One(float32(float64(k)*math.Ln2)), math.Exp(float64(float32(float64(k)*math.Ln2)))
		if math.Abs(float64(got)-w) > 1.5e-7*w {
			t.Errorf("exp(%d ln2) = %v, want %v", k, got, w)
		}
	}
}

// TestMaxOf: the softmax shift.
func TestMaxOf(t *testing.T) {
	if m := maxOf([]float32{-3, 2, 7, -1e30, 7, 0}); m != 7 {
		t.Errorf("maxOf = %v", m)
	}
	if m := maxOf([]float64{float64(math.Inf(-1)), -2}); m != -2 {
		t.Errorf("maxOf = %v", m)
	}
	if m := maxOf([]float32{5}); m != 5 {
		t.Errorf("maxOf = %v", m)
	}
}

// TestGELUFloat32: the float32 GELU against the float64 one on a
// length that is not a multiple of 4 or of the pieces, over [-12, 12] (past -10 the
// exponential overflows to +Inf and s must be exactly 0).
func TestGELUFloat32(t *testing.T) {
	n := 805
	x64, o64, s64 := make([]float64, n), make([]float64, n), make([]float64, n)
	x32, o32, s32 := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x32 {
		x32[i] = float32(-12 + 24*float64(i)/float64(n-1))
		x64[i] = float64(x32[i])
	}
	geluForward(o64, s64, x64)
	geluForward(o32, s32, x32)
	for i := range x32 {
		if math.Abs(float64(s32[i])-s64[i]) > 3e-7 || math.Abs(float64(o32[i])-o64[i]) > 3e-7*math.Max(1, math.Abs(x64[i])) {
			t.Fatalf("gelu(%v): s %v out %v, want %v %v", x32[i], s32[i], o32[i], s64[i], o64[i])
		}
	}
	if s32[0] != 0 || o32[0] != 0 || s32[n-1] != 1 || o32[n-1] != 12 {
		t.Errorf("ends: s %v %v, out %v %v", s32[0], s32[n-1], o32[0], o32[n-1])
	}
	// dinp = dout * gelu'(x): compare with the float64 backward.
	d32, g32, d64, g64 := make([]float32, n), make([]float32, n), make([]float64, n), make([]float64, n)
	for i := range g32 {
		g32[i], g64[i] = 1, 1
	}
	geluBackward(d32, x32, s32, g32)
	geluBackward(d64, x64, s64, g64)
	for i := range d32 {
		if math.Abs(float64(d32[i])-d64[i]) > 1e-6*math.Max(1, math.Abs(x64[i])) {
			t.Fatalf("gelu'(%v) = %v, want %v", x32[i], d32[i], d64[i])
		}
	}
}

// The kernels these replaced (Cephes' expf, four lanes per call, and the
// GELU that called it), kept here only for BenchmarkExp's comparison.
func oldExp32x4(x0, x1, x2, x3 float32) (float32, float32, float32, float32) {
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

func oldExpShift32(d, s []float32, sh float32) float64 {
	var sum float64
	n := len(s) &^ 3
	for i := 0; i < n; i += 4 {
		e0, e1, e2, e3 := oldExp32x4(s[i]-sh, s[i+1]-sh, s[i+2]-sh, s[i+3]-sh)
		d[i], d[i+1], d[i+2], d[i+3] = e0, e1, e2, e3
		sum += float64(e0) + float64(e1) + float64(e2) + float64(e3)
	}
	for i := n; i < len(s); i++ {
		e, _, _, _ := oldExp32x4(s[i]-sh, 0, 0, 0)
		d[i] = e
		sum += float64(e)
	}
	return sum
}

func oldGELU32(out, sig, inp []float32) {
	parallelFor(len(inp), func(_, lo, hi int) {
		o, s, x := out[lo:hi], sig[lo:hi], inp[lo:hi]
		n := len(x) &^ 3
		for i := 0; i < n; i += 4 {
			v0, v1, v2, v3 := x[i], x[i+1], x[i+2], x[i+3]
			e0, e1, e2, e3 := oldExp32x4(-2*geluK*(v0+geluA*v0*v0*v0), -2*geluK*(v1+geluA*v1*v1*v1),
				-2*geluK*(v2+geluA*v2*v2*v2), -2*geluK*(v3+geluA*v3*v3*v3))
			s0, s1, s2, s3 := 1/(1+e0), 1/(1+e1), 1/(1+e2), 1/(1+e3)
			s[i], s[i+1], s[i+2], s[i+3] = s0, s1, s2, s3
			o[i], o[i+1], o[i+2], o[i+3] = v0*s0, v1*s1, v2*s2, v3*s3
		}
		for i := n; i < len(x); i++ {
			v := x[i]
			e, _, _, _ := oldExp32x4(-2*geluK*(v+geluA*v*v*v), 0, 0, 0)
			si := 1 / (1 + e)
			s[i] = si
			o[i] = v * si
		}
	})
}

// TestOldExpAgrees: the comparison kernel is the one it stands for (so the
// benchmark compares like with like): within 3e-7 of the new one.
func TestOldExpAgrees(t *testing.T) {
	for x := float32(-87); x <= 88; x += 0.37 {
		o, _, _, _ := oldExp32x4(x, 0, 0, 0)
		if n := exp32One(x); math.Abs(float64(o-n)) > 3e-7*float64(n) {
			t.Fatalf("exp(%v): old %v new %v", x, o, n)
		}
	}
}

// BenchmarkExp: the softmax exponentials (4096 values in [-20, 0], as
// x - max) and GELU (65536 activations in [-4, 4], both halves in
// parallel), old kernels against new. Compare interleaved runs:
// go test ./graphs -run XXX -bench Exp -count 10.
func BenchmarkExp(b *testing.B) {
	src, dst := make([]float32, 4096), make([]float32, 4096)
	for i := range src {
		src[i] = -20 * float32(i%997) / 997
	}
	act, out, sig := make([]float32, 1<<16), make([]float32, 1<<16), make([]float32, 1<<16)
	for i := range act {
		act[i] = -4 + 8*float32(i%613)/613
	}
	var sink float64
	b.Run("softmax/old", func(b *testing.B) {
		for b.Loop() {
			sink += oldExpShift32(dst, src, 0)
		}
	})
	b.Run("softmax/new", func(b *testing.B) {
		for b.Loop() {
			sink += expSum32(dst, src, 0)
		}
	})
	b.Run("gelu/old", func(b *testing.B) {
		for b.Loop() {
			oldGELU32(out, sig, act)
		}
	})
	b.Run("gelu/new", func(b *testing.B) {
		for b.Loop() {
			geluForward(out, sig, act)
		}
	})
	_ = sink
}
