package stages

import (
	"math"
	"testing"

	"pipeline/graphs"
)

// fakeStepper gives every target token of a micro-batch the same cross-entropy, and a gradient of 1 per
// unit of loss in its single parameter.
type fakeStepper struct {
	ce   []float64 // per micro-batch, in order of calls
	call int
	grad []float32
}

func (f *fakeStepper) Step(ids, targets []int, weights []float32, norm float32) (float32, error) {
	sum := 0.0
	for _, w := range weights {
		sum += float64(w) * f.ce[f.call]
	}
	f.call++
	f.grad[0] = float32(sum / float64(norm))
	return float32(sum / float64(norm)), nil
}
func (f *fakeStepper) Gradients() []float32 { return f.grad }

func rowsWithTargets(n, T int) batchRows {
	b := newBatchRows(1, T)
	for t := 0; t < n; t++ {
		b.weights[t] = 1
	}
	return b
}

// Micro-batches of 1 and 3 target tokens with per-token losses 4.0 and 1.0: the step's loss is the mean
// over its 4 target tokens, (4 + 3) / 4 = 1.75, not the mean of the micro-batch means (4 + 1) / 2 = 2.5.
func TestAccumulationNormalisesByAllTargetTokens(t *testing.T) {
	micro := []batchRows{rowsWithTargets(1, 4), rowsWithTargets(3, 4)}
	total := micro[0].targetCount() + micro[1].targetCount()
	f := &fakeStepper{ce: []float64{4.0, 1.0}, grad: make([]float32, 1)}
	grads := make([]float32, 1)
	res, err := accumulate(f, micro, total, grads)
	if err != nil {
		t.Fatal(err)
	}
	if res.Loss != 1.75 || grads[0] != 1.75 {
		t.Fatalf("loss %v, accumulated gradient %v; want 1.75 and 1.75", res.Loss, grads[0])
	}
}

func TestBatchWithoutTargetsIsSkipped(t *testing.T) {
	f := &fakeStepper{ce: []float64{1}, grad: make([]float32, 1)}
	res, err := accumulate(f, []batchRows{rowsWithTargets(0, 4)}, 0, make([]float32, 1))
	if err != nil || !res.Skipped || math.IsNaN(res.Loss) || f.call != 0 {
		t.Fatalf("result %+v, err %v, model called %d times", res, err, f.call)
	}
}

// With the real model: two micro-batches of one row each give the loss and gradients of one batch of both
// rows, when each is normalised by the step's total target count.
func TestAccumulationEqualsTheWholeBatch(t *testing.T) {
	cfg := graphs.NewConfig(32, 8, 16, 2, 2)
	params := graphs.NewParams(cfg)
	params.Init(3, 0.02)
	const T = 8
	rows := []batchRows{newBatchRows(1, T), newBatchRows(1, T)}
	whole := newBatchRows(2, T)
	for r := range rows {
		for t := 0; t < T; t++ {
			id, tg := (r*7+t*3)%32, (r*5+t*11+1)%32
			w := float32(1)
			if r == 1 && t >= 5 { // the second row has 5 targets, the first 8
				w = 0
			}
			rows[r].ids[t], rows[r].targets[t], rows[r].weights[t] = id, tg, w
			whole.ids[r*T+t], whole.targets[r*T+t], whole.weights[r*T+t] = id, tg, w
		}
	}
	one, err := graphs.NewModel(cfg, params, 1, T, true)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	two, err := graphs.NewModel(cfg, params, 2, T, true)
	if err != nil {
		t.Fatal(err)
	}
	defer two.Close()
	acc := make([]float32, len(params.Grad))
	res, err := accumulate(modelStepper{one}, rows, 13, acc)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := two.Step(whole.ids, whole.targets, whole.weights, 13)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.Loss-float64(loss)) > 1e-6 {
		t.Fatalf("accumulated loss %v, whole batch %v", res.Loss, loss)
	}
	worst := 0.0
	for i, g := range params.Grad {
		worst = math.Max(worst, math.Abs(float64(g-acc[i])))
	}
	if worst > 1e-6 {
		t.Fatalf("gradients differ by up to %g", worst)
	}
}
