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

// VirtualEmbedding embeds B sequences of T tokens that follow P > 0
// virtual positions (prefix and prompt tuning), with wte and wpe frozen (no
// gradient). Token t of a sequence sits at position P+t, as Hugging Face
// numbers the tokens after a past of P positions. With prompt [P, C] (prompt
// tuning) the virtual positions are rows of the output, S = P+T per sequence:
//
//	out[b*S+s] = prompt[s] + wpe[s] (s < P),  wte[ids[b*T+s-P]] + wpe[s] (s >= P)   [B*S, C]
//
// With prompt nil (prefix tuning: the virtual positions are only keys and
// values, see PrefixAttention) out[b*T+t] = wte[ids[b*T+t]] + wpe[P+t], [B*T, C].
// The prompt's gradient is dprompt[s] = sum_b dout[b*S+s].
func VirtualEmbedding(wte, wpe, prompt *gorgonia.Node, P int, ids []int, B, T int) (*gorgonia.Node, error) {
	if wte.Dims() != 2 || wpe.Dims() != 2 || wte.Shape()[1] != wpe.Shape()[1] {
		return nil, fmt.Errorf("VirtualEmbedding: want wte [V,C], wpe [T,C], got %v %v", wte.Shape(), wpe.Shape())
	}
	if P <= 0 || len(ids) != B*T || P+T > wpe.Shape()[0] {
		return nil, fmt.Errorf("VirtualEmbedding: %d ids for B=%d T=%d after %d virtual positions, with %d positions",
			len(ids), B, T, P, wpe.Shape()[0])
	}
	op := &embeddingOp{opBase: newOpBase("VirtualEmbedding"), ids: ids, B: B, T: T, P: P, prompt: prompt != nil}
	if prompt == nil {
		return gorgonia.ApplyOp(op, wte, wpe)
	}
	if prompt.Dims() != 2 || prompt.Shape()[0] != P || prompt.Shape()[1] != wte.Shape()[1] {
		return nil, fmt.Errorf("VirtualEmbedding: prompt %v, want [%d %d]", prompt.Shape(), P, wte.Shape()[1])
	}
	return gorgonia.ApplyOp(op, wte, wpe, prompt)
}

type embeddingOp struct {
	opBase
	ids    []int
	B, T   int
	P      int  // virtual positions before each sequence (0: none; then wte, wpe train)
	prompt bool // the virtual positions are rows, embedded by the third input
	out    dense
}

// rows is the number of output rows: B*(P+T) with a prompt, else B*T.
func (op *embeddingOp) rows() int {
	if op.prompt {
		return op.B * (op.P + op.T)
	}
	return op.B * op.T
}

func (op *embeddingOp) Arity() int {
	if op.prompt {
		return 3
	}
	return 2
}

func (op *embeddingOp) Type() hm.Type {
	if op.prompt {
		return fnType(2, 2, 2, 2)
	}
	return fnType(2, 2, 2)
}

func (op *embeddingOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{op.rows(), in[0].(tensor.Shape)[1]}, nil
}

func (op *embeddingOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	C := inputs[0].Shape()[1]
	out := op.out.get(inputs[0].Dtype(), op.rows(), C)
	switch out.Dtype() {
	case tensor.Float32:
		embeddingDo(op, floats[float32](out), inputs, C)
	case tensor.Float64:
		embeddingDo(op, floats[float64](out), inputs, C)
	default:
		return nil, fmt.Errorf("Embedding: unsupported dtype %v", out.Dtype())
	}
	return out, nil
}

func embeddingDo[F Float](op *embeddingOp, out []F, inputs []gorgonia.Value, C int) {
	wte, wpe := floats[F](inputs[0]), floats[F](inputs[1])
	if !op.prompt {
		embeddingForward(out, op.ids, wte, wpe[op.P*C:], op.B, op.T, C) // positions from P
		return
	}
	promptEmbeddingForward(out, op.ids, wte, wpe, floats[F](inputs[2]), op.B, op.T, op.P, C)
}

// DiffWRT: wte and wpe unless there are virtual positions (frozen tables);
// the prompt always.
func (op *embeddingOp) DiffWRT(n int) []bool {
	if op.P == 0 {
		return []bool{true, true}
	}
	return []bool{false, false, true}[:n]
}

// SymDiff returns dwte (the diff node's value) and dwpe (a gradPart); with
// virtual positions nil, nil and the prompt's gradient (the diff's value).
func (op *embeddingOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	diff := &embeddingDiffOp{opBase: newOpBase("EmbeddingDiff"), fwd: op}
	if op.P > 0 {
		if !op.prompt {
			return gorgonia.Nodes{nil, nil}, nil
		}
		dprompt, err := gorgonia.ApplyOp(diff, inputs[2], grad)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{nil, nil, dprompt}, nil
	}
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
// wte and wpe are inputs only for their shapes and dtype. For a prompt:
// (prompt [P,C], dout [B*S,C]) -> dprompt [P,C].
type embeddingDiffOp struct {
	opBase
	fwd        *embeddingOp
	dwte, dwpe dense
}

func (op *embeddingDiffOp) Arity() int {
	if op.fwd.prompt {
		return 2
	}
	return 3
}

func (op *embeddingDiffOp) Type() hm.Type {
	if op.fwd.prompt {
		return fnType(2, 2, 2)
	}
	return fnType(2, 2, 2, 2)
}

func (op *embeddingDiffOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *embeddingDiffOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	dt := inputs[0].Dtype()
	if op.fwd.prompt { // dwte's buffer holds dprompt
		d := op.dwte.get(dt, inputs[0].Shape()...)
		switch dt {
		case tensor.Float32:
			promptEmbeddingBackward(floats[float32](d), floats[float32](inputs[1]), op.fwd.B, op.fwd.T, op.fwd.P, inputs[0].Shape()[1])
		case tensor.Float64:
			promptEmbeddingBackward(floats[float64](d), floats[float64](inputs[1]), op.fwd.B, op.fwd.T, op.fwd.P, inputs[0].Shape()[1])
		default:
			return nil, fmt.Errorf("EmbeddingDiff: unsupported dtype %v", dt)
		}
		return d, nil
	}
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

// promptEmbeddingForward: out [B*S,C], S = P+T, rows b*S+s: prompt[s] +
// wpe[s] for s < P, then wte[ids[b*T+t]] + wpe[P+t].
func promptEmbeddingForward[F Float](out []F, ids []int, wte, wpe, prompt []F, B, T, P, C int) {
	S := P + T
	for b := 0; b < B; b++ {
		for s := 0; s < P; s++ {
			o, pr, pe := out[(b*S+s)*C:(b*S+s+1)*C], prompt[s*C:(s+1)*C], wpe[s*C:(s+1)*C]
			for i := range o {
				o[i] = pr[i] + pe[i]
			}
		}
		embeddingForward(out[(b*S+P)*C:(b+1)*S*C], ids[b*T:(b+1)*T], wte, wpe[P*C:], 1, T, C)
	}
}

// promptEmbeddingBackward writes (=) dprompt [P,C] = sum_b dout[b*S+s],
// batches in order.
func promptEmbeddingBackward[F Float](dprompt, dout []F, B, T, P, C int) {
	S := P + T
	clear(dprompt)
	for b := 0; b < B; b++ {
		for i, v := range dout[b*S*C : (b*S+P)*C] {
			dprompt[i] += v
		}
	}
}
