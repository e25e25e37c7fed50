package evaluate

import (
	"math"
	"testing"
)

// TestWilsonByHand: for 8/10, z²/n = 0.3841459, the centre is (0.8 + 0.1920729)/1.3841459 = 0.7167398 and
// the half-width 1.9599640/1.3841459 · sqrt(0.016 + 0.0096036) = 0.2265775, so [0.490162, 0.943318]. The
// Wald interval would be [0.552, 1.048].
func TestWilsonByHand(t *testing.T) {
	for _, c := range []struct {
		k, n            int
		mean, low, high float64
	}{
		{8, 10, 0.8, 0.490162, 0.943318},
		{0, 10, 0, 0, 0.277533},  // p = 0: High = (z²/n)/(1 + z²/n) = 0.384146/1.384146
		{10, 10, 1, 0.722467, 1}, // the mirror image
		{1, 2, 0.5, 0.094531, 0.905469},
	} {
		p, err := NewProportion(c.k, c.n)
		if err != nil {
			t.Fatal(err)
		}
		if p.Mean != c.mean || math.Abs(p.Low-c.low) > 1e-6 || math.Abs(p.High-c.high) > 1e-6 {
			t.Errorf("%d/%d: %.6f [%.6f, %.6f], want %.6f [%.6f, %.6f]", c.k, c.n, p.Mean, p.Low, p.High, c.mean, c.low, c.high)
		}
	}
	for _, kn := range [][2]int{{0, 0}, {3, 2}, {-1, 4}} {
		if _, err := NewProportion(kn[0], kn[1]); err == nil {
			t.Errorf("%d/%d accepted", kn[0], kn[1])
		}
	}
}
