package graphs

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Targets is what SoftmaxCrossEntropy reads on every run; the caller refills
// it in place between runs.
type Targets struct {
	// IDs [N]: the target token of each row; rows with weight 0 are skipped
	// and their id is never read.
	IDs []int
	// Weights [N]: the weight of each row's loss (0 for padding and prompt
	// tokens).
	Weights []float32
	// Norm divides the weighted sum. With Norm = sum(Weights) the loss is the
	// weighted mean; with gradient accumulation over micro-batches, pass the
	// total weight of all of them.
	Norm float64
}

// SoftmaxCrossEntropy is the fused log-softmax + negative log-likelihood of
// logits [N,V] against tg, a scalar:
//
//	loss = sum_n w_n * (logsumexp(logits_n) - logits_n[y_n]) / norm
//
// Its gradient is dlogits_n = g * w_n / norm * (softmax(logits_n) - onehot(y_n)).
// Each row's softmax subtracts that row's maximum; the probabilities are
// cached for the backward pass.
func SoftmaxCrossEntropy(logits *gorgonia.Node, tg *Targets) (*gorgonia.Node, error) {
	s := logits.Shape()
	if logits.Dims() != 2 || len(tg.IDs) != s[0] || len(tg.Weights) != s[0] {
		return nil, fmt.Errorf("SoftmaxCrossEntropy: logits %v with %d targets and %d weights", s, len(tg.IDs), len(tg.Weights))
	}
	op := &crossEntropyOp{opBase: newOpBase("SoftmaxCrossEntropy"), tg: tg}
	return gorgonia.ApplyOp(op, logits)
}

type crossEntropyOp struct {
	opBase
	tg      *Targets
	loss32  gorgonia.F32
	loss64  gorgonia.F64
	probs   scratch // [N,V]
	partial [nChunks]float64
}

func (op *crossEntropyOp) Arity() int    { return 1 }
func (op *crossEntropyOp) Type() hm.Type { return fnType(0, 2) }
func (op *crossEntropyOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

func (op *crossEntropyOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	s := inputs[0].Shape()
	N, V := s[0], s[1]
	switch inputs[0].Dtype() {
	case tensor.Float32:
		l := crossEntropyForward(scratchOf[float32](&op.probs, N*V), op.partial[:], floats[float32](inputs[0]), op.tg, N, V)
		op.loss32 = gorgonia.F32(l)
		return &op.loss32, nil
	case tensor.Float64:
		op.loss64 = gorgonia.F64(crossEntropyForward(scratchOf[float64](&op.probs, N*V), op.partial[:], floats[float64](inputs[0]), op.tg, N, V))
		return &op.loss64, nil
	}
	return nil, fmt.Errorf("SoftmaxCrossEntropy: unsupported dtype %v", inputs[0].Dtype())
}

func (op *crossEntropyOp) DiffWRT(int) []bool { return []bool{true} }

func (op *crossEntropyOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	diff := &crossEntropyDiffOp{opBase: newOpBase("SoftmaxCrossEntropyDiff"), fwd: op}
	d, err := gorgonia.ApplyOp(diff, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}

// crossEntropyDiffOp: (logits [N,V], g scalar) -> dlogits [N,V].
type crossEntropyDiffOp struct {
	opBase
	fwd     *crossEntropyOp
	dlogits dense
}

func (op *crossEntropyDiffOp) Arity() int    { return 2 }
func (op *crossEntropyDiffOp) Type() hm.Type { return fnType(2, 2, 0) }
func (op *crossEntropyDiffOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *crossEntropyDiffOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	g, err := scalarOf(inputs[1])
	if err != nil {
		return nil, fmt.Errorf("SoftmaxCrossEntropyDiff: %w", err)
	}
	s := inputs[0].Shape()
	N, V := s[0], s[1]
	d := op.dlogits.get(inputs[0].Dtype(), N, V)
	switch d.Dtype() {
	case tensor.Float32:
		crossEntropyBackward(floats[float32](d), scratchOf[float32](&op.fwd.probs, N*V), op.fwd.tg, g, N, V)
	case tensor.Float64:
		crossEntropyBackward(floats[float64](d), scratchOf[float64](&op.fwd.probs, N*V), op.fwd.tg, g, N, V)
	default:
		return nil, fmt.Errorf("SoftmaxCrossEntropyDiff: unsupported dtype %v", d.Dtype())
	}
	return d, nil
}

var (
	_ gorgonia.Op   = &crossEntropyOp{}
	_ gorgonia.SDOp = &crossEntropyOp{}
	_ gorgonia.Op   = &crossEntropyDiffOp{}
)

// crossEntropyForward: probs, logits [N,V]; returns the loss. Rows with
// weight 0 are skipped (their probs are left as they were). Each piece of
// rows sums its losses in float64 into partial[piece]; pieces are added in
// order.
func crossEntropyForward[F Float](probs []F, partial []float64, logits []F, tg *Targets, N, V int) float64 {
	parallelFor(N, func(piece, lo, hi int) {
		var sum float64
		for n := lo; n < hi; n++ {
			w := tg.Weights[n]
			if w == 0 {
				continue
			}
			x, p := logits[n*V:(n+1)*V], probs[n*V:(n+1)*V]
			maxv := maxOf(x)
			z := expSum(p, x, maxv)
			inv := F(1 / z)
			for i := range p {
				p[i] *= inv
			}
			lse := float64(maxv) + math.Log(z)
			sum += float64(w) * (lse - float64(x[tg.IDs[n]]))
		}
		partial[piece] = sum
	})
	var loss float64
	for _, s := range partial {
		loss += s
	}
	return loss / tg.Norm
}

// crossEntropyBackward writes dlogits [N,V] = g*w_n/norm * (probs - onehot).
func crossEntropyBackward[F Float](dlogits, probs []F, tg *Targets, g float64, N, V int) {
	parallelFor(N, func(_, lo, hi int) {
		for n := lo; n < hi; n++ {
			d := dlogits[n*V : (n+1)*V]
			w := tg.Weights[n]
			if w == 0 {
				clear(d)
				continue
			}
			c := F(g * float64(w) / tg.Norm)
			p := probs[n*V : (n+1)*V]
			for i, v := range p {
				d[i] = c * v
			}
			d[tg.IDs[n]] -= c
		}
	})
}
