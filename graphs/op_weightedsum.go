package graphs

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// WeightedSum is the scalar Σ_i g_i · x_i of x [N] with constant coefficients g [N]:
//
//	s = Σ_i g_i x_i,    ds/dx_i = g_i
//
// A loss L(x) computed outside the graph is back-propagated through it by setting g = dL/dx: the
// gradient of s at every parameter is then dL/dparams (the chain rule through x). g is read on every
// run (the caller refills it in place, as ScoreHead's last); the sum is accumulated in float64.
func WeightedSum(x *gorgonia.Node, g []float64) (*gorgonia.Node, error) {
	if x.Dims() != 1 || x.Shape()[0] != len(g) {
		return nil, fmt.Errorf("WeightedSum: want x [%d], got %v", len(g), x.Shape())
	}
	return gorgonia.ApplyOp(&weightedSumOp{opBase: newOpBase("WeightedSum"), g: g}, x)
}

type weightedSumOp struct {
	opBase
	g     []float64
	sum32 gorgonia.F32
	sum64 gorgonia.F64
}

func (op *weightedSumOp) Arity() int    { return 1 }
func (op *weightedSumOp) Type() hm.Type { return fnType(0, 1) }
func (op *weightedSumOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

func (op *weightedSumOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	switch inputs[0].Dtype() {
	case tensor.Float32:
		op.sum32 = gorgonia.F32(weightedSum(floats[float32](inputs[0]), op.g))
		return &op.sum32, nil
	case tensor.Float64:
		op.sum64 = gorgonia.F64(weightedSum(floats[float64](inputs[0]), op.g))
		return &op.sum64, nil
	}
	return nil, fmt.Errorf("WeightedSum: unsupported dtype %v", inputs[0].Dtype())
}

// weightedSum is Σ_i g_i x_i in float64, in index order.
func weightedSum[F Float](x []F, g []float64) float64 {
	var s float64
	for i, v := range x {
		s += g[i] * float64(v)
	}
	return s
}

func (op *weightedSumOp) DiffWRT(int) []bool { return []bool{true} }

func (op *weightedSumOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	d, err := gorgonia.ApplyOp(&weightedSumDiffOp{opBase: newOpBase("WeightedSumDiff"), fwd: op}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}

// weightedSumDiffOp: (x [N], upstream scalar u) -> dx [N] = u · g.
type weightedSumDiffOp struct {
	opBase
	fwd *weightedSumOp
	dx  dense
}

func (op *weightedSumDiffOp) Arity() int    { return 2 }
func (op *weightedSumDiffOp) Type() hm.Type { return fnType(1, 1, 0) }
func (op *weightedSumDiffOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *weightedSumDiffOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	u, err := scalarOf(inputs[1])
	if err != nil {
		return nil, fmt.Errorf("WeightedSumDiff: %w", err)
	}
	d := op.dx.get(inputs[0].Dtype(), len(op.fwd.g))
	switch d.Dtype() {
	case tensor.Float32:
		coefficientsInto(floats[float32](d), op.fwd.g, u)
	case tensor.Float64:
		coefficientsInto(floats[float64](d), op.fwd.g, u)
	default:
		return nil, fmt.Errorf("WeightedSumDiff: unsupported dtype %v", d.Dtype())
	}
	return d, nil
}

// coefficientsInto writes dx_i = u · g_i.
func coefficientsInto[F Float](dx []F, g []float64, u float64) {
	for i, c := range g {
		dx[i] = F(u * c)
	}
}

var (
	_ gorgonia.Op   = &weightedSumOp{}
	_ gorgonia.SDOp = &weightedSumOp{}
	_ gorgonia.Op   = &weightedSumDiffOp{}
)
