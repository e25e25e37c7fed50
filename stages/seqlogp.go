package stages

import (
	"math"

	"pipeline/graphs"
	"pipeline/textdata"
)

// Completion log-probabilities through the cross-entropy graph, without an op of their own.
//
// The log-probability of a row's completion is S_r = sum_t m_t log p(y_t | x_<=t), over the positions
// t whose weight m_t in the batch is 1 (the completion's targets). Its forward pass reads the logits
// z_t of an ordinary forward run: log p(y_t) = z_t[y_t] - logsumexp(z_t), in float64.
//
// Its backward pass uses the model's weighted cross-entropy. Model.Step with weights w and norm 1
// back-propagates the loss sum_t w_t CE_t, whose gradient at the logits is
//
//	d/dz_t sum_t w_t CE_t = w_t (softmax(z_t) - onehot(y_t)) = -w_t d log p(y_t)/dz_t,
//
// since CE_t = -log p(y_t). For a loss L(S_1, ..., S_R) the wanted gradient at the logits is
// dL/dz_t = dL/dS_r * m_t * d log p(y_t)/dz_t, so the weights w_t = -dL/dS_r * m_t on row r make Step
// back-propagate exactly dL/dz, and from there dL/dparams. Step runs its own forward pass, so this costs
// one extra forward pass per batch over a dedicated op; a graph op for sequence log-probabilities would
// replace the two functions below and nothing else.

// completionLogps runs net forward on b and returns, per row r, S_r, and whether greedy decoding
// reproduces the row's completion: the target is the logits' first argmax at every scored position.
func completionLogps(net *graphs.Model, b textdata.Batch) (sums []float64, greedy []bool, err error) {
	logits, err := net.Forward(b.IDs)
	if err != nil {
		return nil, nil, err
	}
	V := net.Cfg.VocabSize
	sums, greedy = make([]float64, b.B), make([]bool, b.B)
	for r := range b.B {
		greedy[r] = true
		for t := r * b.T; t < (r+1)*b.T; t++ {
			if b.Weights[t] == 0 {
				continue
			}
			lp, top := logSoftmaxAt(logits[t*V:(t+1)*V], b.Targets[t])
			sums[r] += lp
			greedy[r] = greedy[r] && top
		}
	}
	return sums, greedy, nil
}

// logSoftmaxAt returns log softmax(z)[y] = z[y] - max - log sum_i exp(z_i - max), in float64, and
// whether y is the first argmax of z.
func logSoftmaxAt(z []float32, y int) (float64, bool) {
	best := 0
	for i, v := range z {
		if v > z[best] {
			best = i
		}
	}
	m := float64(z[best])
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	return float64(z[y]) - m - math.Log(s), best == y
}

// backwardCompletionLogps writes d L / d params into net.Params.Grad (overwriting it) given dSums[r] =
// dL/dS_r for every row of b, by the weighted cross-entropy above.
func backwardCompletionLogps(net *graphs.Model, b textdata.Batch, dSums []float64) error {
	w := make([]float32, len(b.Weights))
	for r := range b.B {
		for t := r * b.T; t < (r+1)*b.T; t++ {
			w[t] = float32(-dSums[r]) * b.Weights[t]
		}
	}
	_, err := net.Step(b.IDs, b.Targets, w, 1)
	return err
}
