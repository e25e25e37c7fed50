package stages

import (
	"pipeline/graphs"
	"pipeline/objective"
	"pipeline/train"
)

// stepper is the training half of a model: forward and backward on one batch, the loss being
// sum_t weights_t * CE_t / norm, its gradient left in Gradients (overwritten by each Step).
type stepper interface {
	Step(ids, targets []int, weights []float32, norm float32) (float32, error)
	Gradients() []float32
}

// modelStepper adapts a graphs.Model.
type modelStepper struct{ *graphs.Model }

func (m modelStepper) Gradients() []float32 { return m.Params.Grad }

// batchRows is one micro-batch as the model takes it: B rows of T inputs, targets and loss weights,
// row-major [B, T].
type batchRows struct {
	ids, targets []int
	weights      []float32
}

func newBatchRows(B, T int) batchRows {
	return batchRows{ids: make([]int, B*T), targets: make([]int, B*T), weights: make([]float32, B*T)}
}

// collate fills row r from a window of corpus tokens.
func (b batchRows) collate(obj objective.Objective, window []uint32, r, T int) {
	obj.Collate(window, b.ids[r*T:(r+1)*T], b.targets[r*T:(r+1)*T], b.weights[r*T:(r+1)*T])
}

// targetCount is the number of scored positions, sum of the weights.
func (b batchRows) targetCount() float64 {
	n := 0.0
	for _, w := range b.weights {
		n += float64(w)
	}
	return n
}

// accumulate runs forward and backward over the micro-batches of one optimiser step and sums their
// gradients into grads (a slab of its own, not the model's). Each micro-batch's loss is normalised by the step's total target count N, so
//
//	loss = sum_i sum_t w_it * CE_it / N
//
// is the mean over every target token of the step, whatever the micro-batches' sizes: micro-batches of
// 1 and 3 targets with per-token losses 4.0 and 1.0 give (4 + 3) / 4 = 1.75, not the mean of means 2.5.
func accumulate(net stepper, micro []batchRows, total float64, grads []float32) (train.Result, error) {
	if total == 0 {
		return train.Result{Skipped: true}, nil // nothing to learn from: no update, never a NaN
	}
	loss, tokens := 0.0, 0
	for _, b := range micro {
		l, err := net.Step(b.ids, b.targets, b.weights, float32(total))
		if err != nil {
			return train.Result{}, err
		}
		loss += float64(l)
		tokens += len(b.ids)
		for j, g := range net.Gradients() {
			grads[j] += g
		}
	}
	return train.Result{Loss: loss, Tokens: tokens}, nil
}

// heldOutBatches cuts the validation tokens into up to n fixed batches of consecutive, non-overlapping
// windows, the same at every validation.
func heldOutBatches(obj objective.Objective, tokens []uint32, B, T, n int) []batchRows {
	w := obj.Window(T)
	var out []batchRows
	pos := 0
	for len(out) < n && pos+B*w <= len(tokens) {
		b := newBatchRows(B, T)
		for r := 0; r < B; r++ {
			b.collate(obj, tokens[pos:pos+w], r, T)
			pos += w
		}
		out = append(out, b)
	}
	return out
}
