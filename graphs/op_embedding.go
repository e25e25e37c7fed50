package graphs

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Embedding looks up token and position embeddings for B sequences of T
// tokens:
//
//	out[b*T+t] = wte[ids[b*T+t]] + wpe[t]
//
// wte [V,C], wpe [maxT,C] -> out [B*T, C]. ids is read on every run (the
// caller refills it in place) and must hold B*T ids in [0, V); checking them
// is the caller's job (Model does it before each run).
func Embedding(wte, wpe *gorgonia.Node, ids []int, B, T int) (*gorgonia.Node, error) {
	if wte.Dims() != 2 || wpe.Dims() != 2 || wte.Shape()[1] != wpe.Shape()[1] {
		return nil, fmt.Errorf("Embedding: want wte [V,C], wpe [T,C], got %v %v", wte.Shape(), wpe.Shape())
	}
	if len(ids) != B*T || T > wpe.Shape()[0] {
		return nil, fmt.Errorf("Embedding: %d ids for B=%d T=%d with %d positions", len(ids), B, T, wpe.Shape()[0])
	}
	op := &embeddingOp{opBase: newOpBase("Embedding"), ids: ids, B: B, T: T}
	return gorgonia.ApplyOp(op, wte, wpe)
}

type embeddingOp struct {
	opBase
	ids  []int
	B, T int
	out  dense
}

func (op *embeddingOp) Arity() int    { return 2 }
func (op *embeddingOp) Type() hm.Type { return fnType(2, 2, 2) }
func (op *embeddingOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.B * op.T, in[0].(tensor.Shape)[1]}, nil
}

func (op *embeddingOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	C := inputs[0].Shape()[1]
	out := op.out.get(inputs[0].Dtype(), op.B*op.T, C)
	switch out.Dtype() {
	case tensor.Float32:
		embeddingForward(floats[float32](out), op.ids, floats[float32](inputs[0]), floats[float32](inputs[1]), op.B, op.T, C)
	case tensor.Float64:
		embeddingForward(floats[float64](out), op.ids, floats[float64](inputs[0]), floats[float64](inputs[1]), op.B, op.T, C)
	default:
		return nil, fmt.Errorf("Embedding: unsupported dtype %v", out.Dtype())
	}
	return out, nil
}

func (op *embeddingOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff returns dwte (the diff node's value) and dwpe (a gradPart).
func (op *embeddingOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	diff := &embeddingDiffOp{opBase: newOpBase("EmbeddingDiff"), fwd: op}
	dwte, err := gorgonia.ApplyOp(diff, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	dwpe, err := newGradPart(dwte, "EmbeddingDiff.dwpe", &diff.dwpe, inputs[1].Shape()...)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dwte, dwpe}, nil
}

// embeddingDiffOp: (wte, wpe, dout [B*T,C]) -> dwte [V,C]; also fills dwpe.
// wte and wpe are inputs only for their shapes and dtype.
type embeddingDiffOp struct {
	opBase
	fwd        *embeddingOp
	dwte, dwpe dense
}

func (op *embeddingDiffOp) Arity() int    { return 3 }
func (op *embeddingDiffOp) Type() hm.Type { return fnType(2, 2, 2, 2) }
func (op *embeddingDiffOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *embeddingDiffOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	dt := inputs[0].Dtype()
	dwte, dwpe := op.dwte.get(dt, inputs[0].Shape()...), op.dwpe.get(dt, inputs[1].Shape()...)
	C := inputs[0].Shape()[1]
	switch dt {
	case tensor.Float32:
		a, b := floats[float32](dwte), floats[float32](dwpe)
		clear(a)
		clear(b)
		embeddingBackward(a, b, floats[float32](inputs[2]), op.fwd.ids, op.fwd.B, op.fwd.T, C)
	case tensor.Float64:
		a, b := floats[float64](dwte), floats[float64](dwpe)
		clear(a)
		clear(b)
		embeddingBackward(a, b, floats[float64](inputs[2]), op.fwd.ids, op.fwd.B, op.fwd.T, C)
	default:
		return nil, fmt.Errorf("EmbeddingDiff: unsupported dtype %v", dt)
	}
	return dwte, nil
}

var (
	_ gorgonia.Op   = &embeddingOp{}
	_ gorgonia.SDOp = &embeddingOp{}
	_ gorgonia.Op   = &embeddingDiffOp{}
)

// embeddingForward: out [B*T,C] = wte[ids] + wpe[t]; ids [B*T].
func embeddingForward[F Float](out []F, ids []int, wte, wpe []F, B, T, C int) {
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			o := out[(b*T+t)*C : (b*T+t+1)*C]
			we := wte[ids[b*T+t]*C : (ids[b*T+t]+1)*C]
			pe := wpe[t*C : (t+1)*C]
			for i := range o {
				o[i] = we[i] + pe[i]
			}
		}
	}
}

// embeddingBackward accumulates (+=) dwte[ids[n]] += dout[n] and
// dwpe[t] += dout[b*T+t], serially in row order (a token may repeat).
func embeddingBackward[F Float](dwte, dwpe, dout []F, ids []int, B, T, C int) {
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			d := dout[(b*T+t)*C : (b*T+t+1)*C]
			we := dwte[ids[b*T+t]*C : (ids[b*T+t]+1)*C]
			pe := dwpe[t*C : (t+1)*C]
			for i, v := range d {
				we[i] += v
				pe[i] += v
			}
		}
	}
}
