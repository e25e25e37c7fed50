package optim

import "math"

// ClipGlobalNorm is torch.nn.utils.clip_grad_norm_ over the whole gradient slab: it returns the
// global L2 norm of grads before clipping,
//
//	norm = sqrt(sum_i g_i^2)
//
// and, when maxNorm/(norm + 1e-6) < 1, scales every gradient by that coefficient (rounded to
// float32), bringing the norm to just under maxNorm. The sum is accumulated in float64 in slab
// order (PyTorch sums per tensor in float32; the norms agree to float32 precision), so the result
// is the same on every machine. maxNorm <= 0 only measures, as nanoGPT's grad_clip = 0 means no
// clipping. A NaN or infinite norm is returned as is: with an infinite norm the gradients become 0
// (PyTorch does the same), with NaN they are left alone; the caller should skip such a step.
func ClipGlobalNorm(grads []float32, maxNorm float64) (norm float64) {
	var sum float64
	for _, g := range grads {
		sum += float64(g) * float64(g)
	}
	norm = math.Sqrt(sum)
	if maxNorm <= 0 {
		return norm
	}
	if coef := maxNorm / (norm + 1e-6); coef < 1 {
		c := float32(coef)
		for i := range grads {
			grads[i] *= c
		}
	}
	return norm
}
