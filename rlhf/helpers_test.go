package rlhf

import (
	"math"
	"testing"
)

// near reports whether got is within tol of want, absolutely or relatively.
func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*max(1, math.Abs(want))
}

// checkClose fails the test for each element of got that is not within tol of want.
func checkClose[F float32 | float64](t *testing.T, name string, got []F, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if !near(float64(got[i]), want[i], tol) {
			t.Errorf("%s[%d] = %.12g, want %.12g", name, i, got[i], want[i])
		}
	}
}
