package sample

import (
	"math"
	"slices"
)

// candidates applies Hugging Face's warpers to one row (already checked by Greedy, whose argmax
// is best) and returns the ids that may be drawn, filling s.w for every id:
//
//	temperature  w_i = exp((l_i - l_best)/T), proportional to softmax(l/T)_i
//	top-k        keep the K ids of largest logit; ties are broken by the lower id, so exactly
//	             min(K, n) survive (Hugging Face keeps every id tied with the K-th)
//	top-p        over the survivors, most likely first, keep ids while the sum of the weights
//	             before the id is < TopP * their total: the smallest head whose probability,
//	             renormalised after top-k, reaches TopP; always at least one id
//
// With top-k or top-p on, the result is ordered most likely first, ties by lower id; otherwise it
// is every id in id order.
func (s *Sampler) candidates(logits []float32, best int) []int {
	n := len(logits)
	if cap(s.w) < n {
		s.w, s.order = make([]float64, n), make([]int, n)
	}
	s.w, s.order = s.w[:n], s.order[:n]
	top := float64(logits[best])
	for i, l := range logits {
		s.w[i] = math.Exp((float64(l) - top) / s.opts.Temperature)
		s.order[i] = i
	}
	cands := s.order
	if s.opts.TopK == 0 && !s.opts.topP() {
		return cands
	}
	slices.SortFunc(cands, func(a, b int) int { // logit descending, then id ascending
		switch {
		case logits[a] > logits[b]:
			return -1
		case logits[a] < logits[b]:
			return 1
		}
		return a - b
	})
	if s.opts.TopK > 0 && s.opts.TopK < n {
		cands = cands[:s.opts.TopK]
	}
	if s.opts.topP() {
		var total float64
		for _, id := range cands {
			total += s.w[id]
		}
		var cum float64
		for j, id := range cands {
			if cum >= s.opts.TopP*total {
				return cands[:j]
			}
			cum += s.w[id]
		}
	}
	return cands
}
