package graphs

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// What every op in this package shares. Each op instance owns its output
// buffer (allocated on the first Do, reused on every later run) and the
// caches its backward needs, so a training step allocates no tensors. An op
// therefore must be applied to exactly one node: the instance id goes into
// the hash so Gorgonia never merges two nodes of ours, and a diff op reads
// its forward op's caches, which belong to that one node.

var opSeq atomic.Int64

type opBase struct {
	name string
	id   int64
}

func newOpBase(name string) opBase { return opBase{name: name, id: opSeq.Add(1)} }

func (o *opBase) ReturnsPtr() bool      { return false }
func (o *opBase) CallsExtern() bool     { return false }
func (o *opBase) OverwritesInput() int  { return -1 }
func (o *opBase) WriteHash(h hash.Hash) { fmt.Fprintf(h, "%s#%d", o.name, o.id) }
func (o *opBase) String() string        { return o.name }
func (o *opBase) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

// matType is the Gorgonia type of a rank-n tensor of the type variable a.
// Written out explicitly: bare type variables mis-infer shapes (see notes).
func matType(a hm.TypeVariable, dims int) hm.Type {
	if dims == 0 {
		return a
	}
	return &gorgonia.TensorType{Dims: dims, Of: a}
}

// fnType builds a -> ... -> out from the ranks of the inputs and output.
func fnType(out int, ins ...int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(ins)+1)
	for _, d := range ins {
		ts = append(ts, matType(a, d))
	}
	ts = append(ts, matType(a, out))
	return hm.NewFnType(ts...)
}

// dense is an op-owned output tensor, allocated once with a fixed shape.
type dense struct{ t *tensor.Dense }

func (d *dense) get(dt tensor.Dtype, shape ...int) *tensor.Dense {
	if d.t == nil || d.t.Dtype() != dt {
		d.t = tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	}
	return d.t
}

// scratch is an op-owned slice of F kept across runs.
type scratch struct{ v any }

func scratchOf[F Float](s *scratch, n int) []F {
	if v, ok := s.v.([]F); ok && len(v) == n {
		return v
	}
	v := make([]F, n)
	s.v = v
	return v
}

// floats returns the backing slice of a tensor value.
func floats[F Float](v gorgonia.Value) []F { return v.Data().([]F) }

// scalarOf reads a scalar value (the incoming gradient of a scalar output).
func scalarOf(v gorgonia.Value) (float64, error) {
	switch x := v.Data().(type) {
	case float32:
		return float64(x), nil
	case float64:
		return x, nil
	case []float32:
		if len(x) == 1 {
			return float64(x[0]), nil
		}
	case []float64:
		if len(x) == 1 {
			return x[0], nil
		}
	}
	return 0, fmt.Errorf("expected a scalar, got %T", v.Data())
}

func checkArity(op gorgonia.Op, n int) error {
	if op.Arity() != n {
		return fmt.Errorf("%v: expected %d inputs, got %d", op, op.Arity(), n)
	}
	return nil
}

// gradPartOp exposes one extra output of a multi-output diff op (for example
// dW of a linear whose main diff node returns dx). Its input is that diff
// node, which orders it after the computation; its value is the buffer the
// diff op filled.
type gradPartOp struct {
	opBase
	buf    *dense
	shape  tensor.Shape
	inDims int
}

func newGradPart(diff *gorgonia.Node, name string, buf *dense, shape ...int) (*gorgonia.Node, error) {
	op := &gradPartOp{opBase: newOpBase(name), buf: buf, shape: tensor.Shape(shape), inDims: diff.Dims()}
	return gorgonia.ApplyOp(op, diff)
}

func (op *gradPartOp) Arity() int { return 1 }
func (op *gradPartOp) Type() hm.Type {
	return fnType(len(op.shape), op.inDims)
}
func (op *gradPartOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.shape.Clone(), nil
}
func (op *gradPartOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	return op.buf.t, nil
}

var _ gorgonia.Op = &gradPartOp{}
