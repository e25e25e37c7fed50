package losses

import (
	"math"
	"testing"
)

// near reports whether got is within tol of want, absolutely or relatively.
func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*max(1, math.Abs(want))
}

// checkClose fails the test for each element of got that is not within tol of want.
func checkClose(t *testing.T, name string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if !near(got[i], want[i], tol) {
			t.Errorf("%s[%d] = %.12g, want %.12g", name, i, got[i], want[i])
		}
	}
}

// gradCheck is the finite-difference check every loss test uses: for each element x_i it compares
// grad[i] with the central difference (J(x + h e_i) - J(x - h e_i)) / 2h, h = 1e-6, in float64:
//
//	|analytic - numeric| <= 1e-7 + 1e-6 · max(|analytic|, |numeric|)
//
// J must not read x after returning. Points are chosen away from the kinks of relu, max and clip.
func gradCheck(t *testing.T, name string, x, grad []float64, J func(x []float64) float64) {
	t.Helper()
	const h = 1e-6
	for i := range x {
		orig := x[i]
		x[i] = orig + h
		up := J(x)
		x[i] = orig - h
		down := J(x)
		x[i] = orig
		num := (up - down) / (2 * h)
		if math.Abs(grad[i]-num) > 1e-7+1e-6*max(math.Abs(grad[i]), math.Abs(num)) {
			t.Errorf("%s: d/dx[%d] analytic %.10g, finite difference %.10g", name, i, grad[i], num)
		}
	}
}
