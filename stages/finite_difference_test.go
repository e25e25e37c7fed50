package stages

import (
	"math"
	"testing"
)

// checkLargestGradient compares the largest gradient (in magnitude) of the tensor at
// data[offset:offset+size] with the central difference (L(x+eps) - L(x-eps)) / 2eps of loss, eps = 3e-3,
// and reports it under label when they differ by more than 1% or the difference is 0.
// TestDPOGradientMatchesFiniteDifference says why this step and this tolerance.
func checkLargestGradient(t *testing.T, label string, data, grads []float32, offset, size int, loss func() float64) {
	t.Helper()
	const eps = 3e-3
	k := offset
	for i := offset; i < offset+size; i++ {
		if math.Abs(float64(grads[i])) > math.Abs(float64(grads[k])) {
			k = i
		}
	}
	orig := data[k]
	data[k] = orig + eps
	up := loss()
	data[k] = orig - eps
	down := loss()
	data[k] = orig
	fd := (up - down) / (2 * eps)
	t.Logf("%s[%d]: gradient %.6g, finite difference %.6g", label, k-offset, grads[k], fd)
	if math.Abs(float64(grads[k])-fd) > 0.01*math.Abs(fd) || fd == 0 {
		t.Errorf("%s[%d]: gradient %.6g, finite difference %.6g", label, k-offset, grads[k], fd)
	}
}
