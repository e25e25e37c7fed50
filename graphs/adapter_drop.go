package graphs

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// DropVirtual removes the P virtual rows (prompt tuning's learned inputs)
// from the front of each of B sequences, so the LM head, the loss and the
// caller see only the T real positions:
//
//	out[b*T+t] = x[b*S+P+t],   x [B*S, C], S = P+T  ->  out [B*T, C]
//
// Its backward scatters dout back and gives the virtual rows zero gradient
// (their only influence on the loss is through attention).
func DropVirtual(x *gorgonia.Node, B, P, T int) (*gorgonia.Node, error) {
	if x.Dims() != 2 || P <= 0 || x.Shape()[0] != B*(P+T) {
		return nil, fmt.Errorf("DropVirtual: x %v, want [%d, C] (B=%d, %d virtual + %d real positions)", x.Shape(), B*(P+T), B, P, T)
	}
	return gorgonia.ApplyOp(&dropVirtualOp{opBase: newOpBase("DropVirtual"), B: B, P: P, T: T}, x)
}

// dropVirtualOp is both directions: back false gathers [B*S,C] -> [B*T,C];
// back true (its diff) scatters [B*T,C] -> [B*S,C] with zero virtual rows.
type dropVirtualOp struct {
	opBase
	B, P, T int
	back    bool
	out     dense
}

func (op *dropVirtualOp) Arity() int    { return 1 }
func (op *dropVirtualOp) Type() hm.Type { return fnType(2, 2) }
func (op *dropVirtualOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	rows := op.B * op.T
	if op.back {
		rows = op.B * (op.P + op.T)
	}
	return tensor.Shape{rows, in[0].(tensor.Shape)[1]}, nil
}

func (op *dropVirtualOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	s, _ := op.InferShape(inputs[0].Shape())
	out := op.out.get(inputs[0].Dtype(), s...)
	switch out.Dtype() {
	case tensor.Float32:
		dropVirtualDo(op, floats[float32](out), floats[float32](inputs[0]), s[1])
	case tensor.Float64:
		dropVirtualDo(op, floats[float64](out), floats[float64](inputs[0]), s[1])
	default:
		return nil, fmt.Errorf("DropVirtual: unsupported dtype %v", out.Dtype())
	}
	return out, nil
}

func dropVirtualDo[F Float](op *dropVirtualOp, out, in []F, C int) {
	B, P, T := op.B, op.P, op.T
	S := P + T
	for b := 0; b < B; b++ {
		if op.back {
			clear(out[b*S*C : (b*S+P)*C])
			copy(out[(b*S+P)*C:(b+1)*S*C], in[b*T*C:(b+1)*T*C])
		} else {
			copy(out[b*T*C:(b+1)*T*C], in[(b*S+P)*C:(b+1)*S*C])
		}
	}
}

func (op *dropVirtualOp) DiffWRT(int) []bool { return []bool{true} }

func (op *dropVirtualOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	d, err := gorgonia.ApplyOp(&dropVirtualOp{opBase: newOpBase("DropVirtualDiff"), B: op.B, P: op.P, T: op.T, back: true}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{d}, nil
}

var (
	_ gorgonia.Op   = &dropVirtualOp{}
	_ gorgonia.SDOp = &dropVirtualOp{}
)
