package graphs

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ScoreHead is the scalar head of a sequence classifier with one label (Hugging Face's
// GPT2ForSequenceClassification: score = Linear(C, 1, bias=False), weight [1, C]) read at one
// position per row: hidden [R*T, C], w [1, C] -> scores [R],
//
//	r_b = sum_c hidden[b*T + last[b], c] * w[0, c]
//
// last [R] holds each row's last real token, found from the attention mask (textdata.Batch.Last),
// never from the first pad id: the pad may be <|endoftext|>, which also ends the response and may
// occur inside the prompt. It is read on every run (the caller refills it in place, each entry in
// [0, T)).
func ScoreHead(hidden, w *gorgonia.Node, last []int, T int) (*gorgonia.Node, error) {
	if hidden.Dims() != 2 || w.Dims() != 2 || w.Shape()[0] != 1 || w.Shape()[1] != hidden.Shape()[1] {
		return nil, fmt.Errorf("ScoreHead: want hidden [N,C], w [1,C], got %v %v", hidden.Shape(), w.Shape())
	}
	if T <= 0 || hidden.Shape()[0] != len(last)*T {
		return nil, fmt.Errorf("ScoreHead: hidden %v is not %d rows of T=%d positions", hidden.Shape(), len(last), T)
	}
	op := &scoreHeadOp{opBase: newOpBase("ScoreHead"), last: last, T: T}
	return gorgonia.ApplyOp(op, hidden, w)
}

type scoreHeadOp struct {
	opBase
	last []int
	T    int
	out  dense
}

func (op *scoreHeadOp) Arity() int    { return 2 }
func (op *scoreHeadOp) Type() hm.Type { return fnType(1, 2, 2) }
func (op *scoreHeadOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{len(op.last)}, nil
}

func (op *scoreHeadOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	if err := op.checkLast(); err != nil {
		return nil, err
	}
	C := inputs[0].Shape()[1]
	out := op.out.get(inputs[0].Dtype(), len(op.last))
	switch out.Dtype() {
	case tensor.Float32:
		scoreForward(floats[float32](out), floats[float32](inputs[0]), floats[float32](inputs[1]), op.last, op.T, C)
	case tensor.Float64:
		scoreForward(floats[float64](out), floats[float64](inputs[0]), floats[float64](inputs[1]), op.last, op.T, C)
	default:
		return nil, fmt.Errorf("ScoreHead: unsupported dtype %v", out.Dtype())
	}
	return out, nil
}

// checkLast refuses a position outside the row, which would read another row's hidden state.
func (op *scoreHeadOp) checkLast() error {
	for b, t := range op.last {
		if t < 0 || t >= op.T {
			return fmt.Errorf("ScoreHead: row %d reads position %d, outside [0, %d)", b, t, op.T)
		}
	}
	return nil
}

func (op *scoreHeadOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff returns dhidden (the diff node's value) and dw (a gradPart).
func (op *scoreHeadOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	diff := &scoreHeadDiffOp{opBase: newOpBase("ScoreHeadDiff"), fwd: op}
	dh, err := gorgonia.ApplyOp(diff, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	dw, err := newGradPart(dh, "ScoreHeadDiff.dw", &diff.dw, inputs[1].Shape()...)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dh, dw}, nil
}

// scoreHeadDiffOp: (hidden [N,C], w [1,C], dscores [R]) -> dhidden [N,C]; also fills dw [1,C].
type scoreHeadDiffOp struct {
	opBase
	fwd    *scoreHeadOp
	dh, dw dense
}

func (op *scoreHeadDiffOp) Arity() int    { return 3 }
func (op *scoreHeadDiffOp) Type() hm.Type { return fnType(2, 2, 2, 1) }
func (op *scoreHeadDiffOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *scoreHeadDiffOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	dt := inputs[0].Dtype()
	dh, dw := op.dh.get(dt, inputs[0].Shape()...), op.dw.get(dt, inputs[1].Shape()...)
	C := inputs[0].Shape()[1]
	switch dt {
	case tensor.Float32:
		scoreBackward(floats[float32](dh), floats[float32](dw), floats[float32](inputs[2]), floats[float32](inputs[0]),
			floats[float32](inputs[1]), op.fwd.last, op.fwd.T, C)
	case tensor.Float64:
		scoreBackward(floats[float64](dh), floats[float64](dw), floats[float64](inputs[2]), floats[float64](inputs[0]),
			floats[float64](inputs[1]), op.fwd.last, op.fwd.T, C)
	default:
		return nil, fmt.Errorf("ScoreHeadDiff: unsupported dtype %v", dt)
	}
	return dh, nil
}

var (
	_ gorgonia.Op   = &scoreHeadOp{}
	_ gorgonia.SDOp = &scoreHeadOp{}
	_ gorgonia.Op   = &scoreHeadDiffOp{}
)

// scoreForward: out [R] = hidden[b*T+last[b]] · w; hidden [R*T,C], w [C]. Each dot product is
// accumulated in float64.
func scoreForward[F Float](out, hidden, w []F, last []int, T, C int) {
	for b, t := range last {
		h := hidden[(b*T+t)*C : (b*T+t+1)*C]
		var s float64
		for i, v := range h {
			s += float64(v) * float64(w[i])
		}
		out[b] = F(s)
	}
}

// scoreBackward writes dhidden [R*T,C] (zero except the rows read: dout[b] * w) and
// dw [C] = sum_b dout[b] * hidden[b*T+last[b]], summed in row order.
func scoreBackward[F Float](dhidden, dw, dout, hidden, w []F, last []int, T, C int) {
	clear(dhidden)
	clear(dw)
	for b, t := range last {
		g := dout[b]
		h, dh := hidden[(b*T+t)*C:(b*T+t+1)*C], dhidden[(b*T+t)*C:(b*T+t+1)*C]
		for i := range dh {
			dh[i] = g * w[i]
			dw[i] += g * h[i]
		}
	}
}
