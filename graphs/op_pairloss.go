package graphs

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"pipeline/losses"
)

// PairLoss is the Bradley-Terry reward-model loss of rewards [2n], laid out as textdata.PairBatch lays
// out its rows (r_w,i at i, r_l,i at n+i), with reward centering of coefficient center (0 turns it
// off), a scalar:
//
//	J = -1/n Σ_i log σ(r_w,i - r_l,i) + center · 1/n Σ_i (r_w,i + r_l,i)²
//
// (losses.BradleyTerry, which computes it). The forward pass stores dJ/dr; the backward pass returns
// g · dJ/dr for the incoming gradient g. Metrics returns the numbers of the last forward pass.
func PairLoss(rewards *gorgonia.Node, center float64) (*PairLossNode, error) {
	if rewards.Dims() != 1 || rewards.Shape()[0] < 2 || rewards.Shape()[0]%2 != 0 {
		return nil, fmt.Errorf("PairLoss: want rewards [2n], got %v", rewards.Shape())
	}
	if !(center >= 0) {
		return nil, fmt.Errorf("PairLoss: centering coefficient %g < 0", center)
	}
	op := &pairLossOp{opBase: newOpBase("PairLoss"), center: center}
	n, err := gorgonia.ApplyOp(op, rewards)
	if err != nil {
		return nil, err
	}
	return &PairLossNode{Node: n, op: op}, nil
}

// PairLossNode is the loss node with access to the metrics of its last run.
type PairLossNode struct {
	*gorgonia.Node
	op *pairLossOp
}

// Metrics returns the loss, accuracy (r_w > r_l), mean margin and reward statistics of the last run.
func (n *PairLossNode) Metrics() losses.BTMetrics { return n.op.metrics }

type pairLossOp struct {
	opBase
	center  float64
	loss32  gorgonia.F32
	loss64  gorgonia.F64
	grad    scratch // [2n]: dJ/dr of the last forward pass
	metrics losses.BTMetrics
}

func (op *pairLossOp) Arity() int    { return 1 }
func (op *pairLossOp) Type() hm.Type { return fnType(0, 1) }
func (op *pairLossOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

func (op *pairLossOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	var err error
	switch inputs[0].Dtype() {
	case tensor.Float32:
		op.metrics, err = pairLossForward(&op.grad, floats[float32](inputs[0]), op.center)
		op.loss32 = gorgonia.F32(op.metrics.Loss)
		return &op.loss32, err
	case tensor.Float64:
		op.metrics, err = pairLossForward(&op.grad, floats[float64](inputs[0]), op.center)
		op.loss64 = gorgonia.F64(op.metrics.Loss)
		return &op.loss64, err
	}
	return nil, fmt.Errorf("PairLoss: unsupported dtype %v", inputs[0].Dtype())
}

// pairLossForward splits r [2n] into chosen and rejected halves and stores dJ/dr in grad.
func pairLossForward[F Float](grad *scratch, r []F, center float64) (losses.BTMetrics, error) {
	n := len(r) / 2
	d := scratchOf[F](grad, 2*n)
	return losses.BradleyTerry(r[:n], r[n:], center, d[:n], d[n:])
}

func (op *pairLossOp) DiffWRT(int) []bool { return []bool{true} }

func (op *pairLossOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	diff := &pairLossDiffOp{opBase: newOpBase("PairLossDiff"), fwd: op}
	d, err := gorgonia.ApplyOp(diff, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}

// pairLossDiffOp: (rewards [2n], g scalar) -> drewards [2n] = g · dJ/dr.
type pairLossDiffOp struct {
	opBase
	fwd *pairLossOp
	dr  dense
}

func (op *pairLossDiffOp) Arity() int    { return 2 }
func (op *pairLossDiffOp) Type() hm.Type { return fnType(1, 1, 0) }
func (op *pairLossDiffOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *pairLossDiffOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	g, err := scalarOf(inputs[1])
	if err != nil {
		return nil, fmt.Errorf("PairLossDiff: %w", err)
	}
	n := inputs[0].Shape()[0]
	d := op.dr.get(inputs[0].Dtype(), n)
	switch d.Dtype() {
	case tensor.Float32:
		scaleInto(floats[float32](d), scratchOf[float32](&op.fwd.grad, n), g)
	case tensor.Float64:
		scaleInto(floats[float64](d), scratchOf[float64](&op.fwd.grad, n), g)
	default:
		return nil, fmt.Errorf("PairLossDiff: unsupported dtype %v", d.Dtype())
	}
	return d, nil
}

// scaleInto writes dst = g * src.
func scaleInto[F Float](dst, src []F, g float64) {
	for i, v := range src {
		dst[i] = F(g * float64(v))
	}
}

var (
	_ gorgonia.Op   = &pairLossOp{}
	_ gorgonia.SDOp = &pairLossOp{}
	_ gorgonia.Op   = &pairLossDiffOp{}
)
