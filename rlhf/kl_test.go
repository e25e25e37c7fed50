package rlhf

import (
	"math"
	"testing"
)

// By hand: k1 is the difference; k3 at (-1, -2): r = e^-1 = 0.367879, (r - 1) - log r = -0.632121 + 1
// = 0.367879; at (-2, -1): r = e = 2.718282, 1.718282 - 1 = 0.718282.
func TestKLEstimatorsHandValues(t *testing.T) {
	for _, tc := range []struct{ logp, ref, k1, k3 float64 }{
		{-1, -2, 1, 0.367879},
		{-2, -1, -1, 0.718282},
		{-0.7, -0.7, 0, 0},
	} {
		if got := K1(tc.logp, tc.ref); got != tc.k1 {
			t.Errorf("k1(%g, %g) = %g, want %g", tc.logp, tc.ref, got, tc.k1)
		}
		if got := K3(tc.logp, tc.ref); !near(got, tc.k3, 1e-6) {
			t.Errorf("k3(%g, %g) = %.6f, want %.6f", tc.logp, tc.ref, got, tc.k3)
		}
	}
}

// Near π = π_ref, k3 = d²/2 + O(d³) with d = log π_ref - log π; at d = -1e-8 that is 5e-17, which
// (e^d - 1) - d computed naively gets wrong in the first digit.
func TestK3KeepsPrecisionNearZero(t *testing.T) {
	got := K3(-1, -1-1e-8)
	want := 5e-17 - 1e-24/6
	if math.Abs(got-want) > 1e-3*want {
		t.Errorf("k3 = %g, want %g", got, want)
	}
}

func TestKLEstimatorByName(t *testing.T) {
	for e, want := range map[KLEstimator]float64{KLK1: 1, KLK3: math.Exp(-1)} {
		f, err := e.Func()
		if err != nil {
			t.Fatal(err)
		}
		if got := f(-1, -2); !near(got, want, 1e-15) {
			t.Errorf("%s(-1, -2) = %g, want %g", e, got, want)
		}
	}
	if _, err := KLEstimator("k2").Func(); err == nil {
		t.Error("an unknown estimator must be refused")
	}
}
