package graphs

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LinearOpts selects the fused variants of Linear.
type LinearOpts struct {
	// WeightT: w is stored [OC, C] and the op computes x @ w^T (the tied LM
	// head, which reuses wte [V, C]). Otherwise w is [C, OC] (GPT-2's Conv1D).
	WeightT bool
	// GELU applies GELU in its tanh form to x @ w + b (bias+GELU fused).
	GELU bool
	// Frozen: w and b get no gradient (an adapter trains beside them), so
	// the backward pass computes dx (and the LoRA gradients) only.
	Frozen bool
}

// LoRAGate is the run-time state of every LoRA branch of one model: the
// scale alpha/r, and Off, which drops the branches (the base model exactly)
// without rebuilding the graph. Ops read it on every run.
type LoRAGate struct {
	Scale float64
	Off   bool
}

// Linear computes, with x [N,C] and w [C,OC] (or [OC,C] with WeightT),
//
//	y = act(x @ w + b) + res
//
// where b [OC] (nil: no bias), act is GELU or the identity, and res [N,OC]
// (nil: none) is a residual added after the activation. The products go
// through sgemm with the transposes folded into the call.
func Linear(x, w, b, res *gorgonia.Node, o LinearOpts) (*gorgonia.Node, error) {
	return linear(x, w, b, res, nil, nil, nil, o)
}

// LinearLoRA is Linear with a low-rank update of w (LoRA, PEFT's layout for
// GPT-2's Conv1D): with a [r,C] and bl [OC,r],
//
//	y = act(x @ w + b + s * (x @ a^T) @ bl^T) + res,   s = gate.Scale
//
// which is Linear with w + s * a^T @ bl^T. While gate.Off the branch is
// skipped (y is Linear's, bit for bit) and a, bl get zero gradients.
func LinearLoRA(x, w, b, res, a, bl *gorgonia.Node, gate *LoRAGate, o LinearOpts) (*gorgonia.Node, error) {
	if a == nil || bl == nil || gate == nil {
		return nil, fmt.Errorf("LinearLoRA: a, b and the gate are required")
	}
	return linear(x, w, b, res, a, bl, gate, o)
}

func linear(x, w, b, res, a, bl *gorgonia.Node, gate *LoRAGate, o LinearOpts) (*gorgonia.Node, error) {
	if x.Dims() != 2 || w.Dims() != 2 {
		return nil, fmt.Errorf("Linear: want x [N,C], w 2-D, got %v %v", x.Shape(), w.Shape())
	}
	C, OC := w.Shape()[0], w.Shape()[1]
	if o.WeightT {
		C, OC = OC, C
	}
	if x.Shape()[1] != C {
		return nil, fmt.Errorf("Linear: x %v does not match w %v (WeightT %v)", x.Shape(), w.Shape(), o.WeightT)
	}
	if b != nil && (b.Dims() != 1 || b.Shape()[0] != OC) {
		return nil, fmt.Errorf("Linear: bias %v, want [%d]", b.Shape(), OC)
	}
	if res != nil && (res.Dims() != 2 || res.Shape()[0] != x.Shape()[0] || res.Shape()[1] != OC) {
		return nil, fmt.Errorf("Linear: residual %v, want [%d %d]", res.Shape(), x.Shape()[0], OC)
	}
	if res != nil && o.GELU {
		return nil, fmt.Errorf("Linear: GELU and a residual are not fused together")
	}
	op := &linearOp{opBase: newOpBase("Linear"), opts: o, hasBias: b != nil, hasRes: res != nil, gate: gate}
	inputs := gorgonia.Nodes{x, w}
	if b != nil {
		inputs = append(inputs, b)
	}
	if res != nil {
		inputs = append(inputs, res)
	}
	if gate != nil {
		if o.WeightT {
			return nil, fmt.Errorf("Linear: LoRA on a transposed weight is not supported")
		}
		if a.Dims() != 2 || bl.Dims() != 2 || a.Shape()[1] != C || bl.Shape()[0] != OC || bl.Shape()[1] != a.Shape()[0] {
			return nil, fmt.Errorf("Linear: LoRA A %v, B %v, want [r %d] and [%d r]", a.Shape(), bl.Shape(), C, OC)
		}
		inputs = append(inputs, a, bl)
	}
	return gorgonia.ApplyOp(op, inputs...)
}

type linearOp struct {
	opBase
	opts     LinearOpts
	hasBias  bool
	hasRes   bool
	gate     *LoRAGate // nil: no LoRA branch; else inputs end with a [r,C], bl [OC,r]
	out      dense
	pre, sig scratch // GELU only: [N,OC] pre-activation and its sigmoid
	u        scratch // LoRA only: [N,r] = x @ a^T
}

func (op *linearOp) Arity() int {
	n := 2
	if op.hasBias {
		n++
	}
	if op.hasRes {
		n++
	}
	if op.gate != nil {
		n += 2
	}
	return n
}

func (op *linearOp) Type() hm.Type {
	ins := []int{2, 2}
	if op.hasBias {
		ins = append(ins, 1)
	}
	if op.hasRes {
		ins = append(ins, 2)
	}
	if op.gate != nil {
		ins = append(ins, 2, 2)
	}
	return fnType(2, ins...)
}

func (op *linearOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	x, w := in[0].(tensor.Shape), in[1].(tensor.Shape)
	if op.opts.WeightT {
		return tensor.Shape{x[0], w[0]}, nil
	}
	return tensor.Shape{x[0], w[1]}, nil
}

// dims returns N, C, OC of the op's inputs.
func (op *linearOp) dims(x, w tensor.Shape) (N, C, OC int) {
	if op.opts.WeightT {
		return x[0], w[1], w[0]
	}
	return x[0], w[0], w[1]
}

// split names the optional inputs: bias, residual and the LoRA pair (nil
// when absent).
func (op *linearOp) split(inputs []gorgonia.Value) (b, res, a, bl gorgonia.Value) {
	i := 2
	if op.hasBias {
		b = inputs[i]
		i++
	}
	if op.hasRes {
		res = inputs[i]
		i++
	}
	if op.gate != nil {
		a, bl = inputs[i], inputs[i+1]
	}
	return b, res, a, bl
}

func (op *linearOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	N, _, OC := op.dims(inputs[0].Shape(), inputs[1].Shape())
	out := op.out.get(inputs[0].Dtype(), N, OC)
	switch out.Dtype() {
	case tensor.Float32:
		linearDo[float32](op, floats[float32](out), inputs)
	case tensor.Float64:
		linearDo[float64](op, floats[float64](out), inputs)
	default:
		return nil, fmt.Errorf("Linear: unsupported dtype %v", out.Dtype())
	}
	return out, nil
}

func linearDo[F Float](op *linearOp, out []F, inputs []gorgonia.Value) {
	N, C, OC := op.dims(inputs[0].Shape(), inputs[1].Shape())
	x, w := floats[F](inputs[0]), floats[F](inputs[1])
	bv, rv, av, blv := op.split(inputs)
	var b, res []F
	if bv != nil {
		b = floats[F](bv)
	}
	if rv != nil {
		res = floats[F](rv)
	}
	if !op.opts.GELU {
		matmulForward(out, x, w, b, res, N, C, OC, op.opts.WeightT)
		loraForward(op, out, x, av, blv, N, C, OC)
		return
	}
	pre, sig := scratchOf[F](&op.pre, N*OC), scratchOf[F](&op.sig, N*OC)
	matmulForward(pre, x, w, b, nil, N, C, OC, op.opts.WeightT)
	loraForward(op, pre, x, av, blv, N, C, OC)
	geluForward(out, sig, pre)
}

// loraForward adds the LoRA branch to y [N,OC] (before any activation):
//
//	u = x @ a^T  [N,r] (kept for the backward),   y += s * u @ bl^T
//
// It does nothing without a branch or while the gate is off.
func loraForward[F Float](op *linearOp, y, x []F, av, blv gorgonia.Value, N, C, OC int) {
	if op.gate == nil || op.gate.Off {
		return
	}
	a, bl := floats[F](av), floats[F](blv)
	r := len(a) / C
	u := scratchOf[F](&op.u, N*r)
	gemm(false, true, N, r, C, 1, x, a, 0, u)                  // [N,C] @ [r,C]^T
	gemm(false, true, N, OC, r, F(op.gate.Scale), u, bl, 1, y) // [N,r] @ [OC,r]^T
}

// DiffWRT: every input, except w and b of a frozen linear.
func (op *linearOp) DiffWRT(n int) []bool {
	r := make([]bool, n)
	for i := range r {
		r[i] = true
	}
	if op.opts.Frozen {
		r[1] = false
		if op.hasBias {
			r[2] = false
		}
	}
	return r
}

// SymDiff returns dx, dw[, db][, dres][, da, dbl]: one diff node computes dx
// (its value) and dw, db, da, dbl (read out by gradPart nodes); dres is the
// incoming gradient itself, so the residual adds no node. A frozen linear
// returns nil for dw and db and never computes them.
func (op *linearOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	diff := &linearDiffOp{opBase: newOpBase("LinearDiff"), fwd: op}
	diffIn := gorgonia.Nodes{inputs[0], inputs[1], grad}
	if op.gate != nil {
		diffIn = append(diffIn, inputs[len(inputs)-2:]...)
	}
	dx, err := gorgonia.ApplyOp(diff, diffIn...)
	if err != nil {
		return nil, err
	}
	part := func(name string, buf *dense, shape tensor.Shape) (*gorgonia.Node, error) {
		return newGradPart(dx, name, buf, shape...)
	}
	ret := gorgonia.Nodes{dx, nil}
	if !op.opts.Frozen {
		if ret[1], err = part("LinearDiff.dw", &diff.dw, inputs[1].Shape()); err != nil {
			return nil, err
		}
	}
	if op.hasBias {
		var db *gorgonia.Node
		if !op.opts.Frozen {
			if db, err = part("LinearDiff.db", &diff.db, inputs[2].Shape()); err != nil {
				return nil, err
			}
		}
		ret = append(ret, db)
	}
	if op.hasRes {
		ret = append(ret, grad)
	}
	if op.gate != nil {
		n := len(inputs)
		da, err := part("LinearDiff.da", &diff.da, inputs[n-2].Shape())
		if err != nil {
			return nil, err
		}
		dbl, err := part("LinearDiff.dbl", &diff.dbl, inputs[n-1].Shape())
		if err != nil {
			return nil, err
		}
		ret = append(ret, da, dbl)
	}
	return ret, nil
}

// linearDiffOp: (x [N,C], w, dy [N,OC][, a [r,C], bl [OC,r]]) -> dx [N,C];
// also fills dw, db (unless frozen) and da, dbl (with LoRA).
type linearDiffOp struct {
	opBase
	fwd        *linearOp
	dx, dw, db dense
	da, dbl    dense
	dpre       scratch // GELU only: [N,OC] gradient of the pre-activation
	du         scratch // LoRA only: [N,r]
}

func (op *linearDiffOp) Arity() int {
	if op.fwd.gate != nil {
		return 5
	}
	return 3
}

func (op *linearDiffOp) Type() hm.Type {
	if op.fwd.gate != nil {
		return fnType(2, 2, 2, 2, 2, 2)
	}
	return fnType(2, 2, 2, 2)
}
func (op *linearDiffOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *linearDiffOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	xs, ws := inputs[0].Shape(), inputs[1].Shape()
	N, C, OC := op.fwd.dims(xs, ws)
	dt := inputs[0].Dtype()
	dx := op.dx.get(dt, N, C)
	var dw, db *tensor.Dense
	if !op.fwd.opts.Frozen {
		dw = op.dw.get(dt, ws...)
		if op.fwd.hasBias {
			db = op.db.get(dt, OC)
		}
	}
	switch dt {
	case tensor.Float32:
		linearDiffDo[float32](op, dx, dw, db, inputs, N, C, OC)
	case tensor.Float64:
		linearDiffDo[float64](op, dx, dw, db, inputs, N, C, OC)
	default:
		return nil, fmt.Errorf("LinearDiff: unsupported dtype %v", dt)
	}
	return dx, nil
}

func linearDiffDo[F Float](op *linearDiffOp, dx, dw, db *tensor.Dense, inputs []gorgonia.Value, N, C, OC int) {
	x, w, dy := floats[F](inputs[0]), floats[F](inputs[1]), floats[F](inputs[2])
	if op.fwd.opts.GELU {
		dpre := scratchOf[F](&op.dpre, N*OC)
		geluBackward(dpre, scratchOf[F](&op.fwd.pre, N*OC), scratchOf[F](&op.fwd.sig, N*OC), dy)
		dy = dpre
	}
	var dws, dbs []F
	if dw != nil {
		dws = floats[F](dw)
	}
	if db != nil {
		dbs = floats[F](db)
	}
	dxs := floats[F](dx)
	matmulBackward(dxs, dws, dbs, dy, x, w, N, C, OC, op.fwd.opts.WeightT)
	if op.fwd.gate != nil {
		loraBackward(op, dxs, dy, x, inputs[3], inputs[4], N, C, OC)
	}
}

// loraBackward writes da, dbl and accumulates the branch into dx, from dy
// [N,OC] (the pre-activation's gradient) and u from the forward:
//
//	dbl = s * dy^T @ u,   du = s * dy @ bl,   da = du^T @ x,   dx += du @ a
//
// While the gate is off the branch did not run: da = dbl = 0.
func loraBackward[F Float](op *linearDiffOp, dx, dy, x []F, av, blv gorgonia.Value, N, C, OC int) {
	dt := av.Dtype()
	da, dbl := floats[F](op.da.get(dt, av.Shape()...)), floats[F](op.dbl.get(dt, blv.Shape()...))
	g := op.fwd.gate
	if g.Off {
		clear(da)
		clear(dbl)
		return
	}
	a, bl := floats[F](av), floats[F](blv)
	r, s := len(a)/C, F(g.Scale)
	u, du := scratchOf[F](&op.fwd.u, N*r), scratchOf[F](&op.du, N*r)
	gemm(true, false, OC, r, N, s, dy, u, 0, dbl)  // [N,OC]^T @ [N,r]
	gemm(false, false, N, r, OC, s, dy, bl, 0, du) // [N,OC] @ [OC,r]
	gemm(true, false, r, C, N, 1, du, x, 0, da)    // [N,r]^T @ [N,C]
	gemm(false, false, N, C, r, 1, du, a, 1, dx)   // [N,r] @ [r,C]
}

var (
	_ gorgonia.Op   = &linearOp{}
	_ gorgonia.SDOp = &linearOp{}
	_ gorgonia.Op   = &linearDiffOp{}
)

// matmulForward: out [N,OC] = inp [N,C] @ weight + bias [OC] + res [N,OC],
// weight [C,OC], or [OC,C] used transposed when wT. bias, res may be nil.
func matmulForward[F Float](out, inp, weight, bias, res []F, N, C, OC int, wT bool) {
	beta := F(0)
	if bias != nil || res != nil {
		beta = 1
		parallelFor(N, func(_, lo, hi int) {
			for n := lo; n < hi; n++ {
				o := out[n*OC : (n+1)*OC]
				switch {
				case res != nil && bias != nil:
					r := res[n*OC : (n+1)*OC]
					for i := range o {
						o[i] = r[i] + bias[i]
					}
				case res != nil:
					copy(o, res[n*OC:(n+1)*OC])
				default:
					copy(o, bias)
				}
			}
		})
	}
	gemm(false, wT, N, OC, C, 1, inp, weight, beta, out)
}

// matmulBackward writes (=, not +=) dinp [N,C], dweight (weight's layout;
// nil: frozen, not computed) and dbias [OC] (nil: none) from dout [N,OC]:
//
//	dinp = dout @ weight^T,  dweight = inp^T @ dout,  dbias = sum_n dout
//
// dbias sums each column over rows in a fixed order (four rows at a time);
// columns run in parallel.
func matmulBackward[F Float](dinp, dweight, dbias, dout, inp, weight []F, N, C, OC int, wT bool) {
	switch {
	case wT:
		gemm(false, false, N, C, OC, 1, dout, weight, 0, dinp) // [N,OC] @ [OC,C]
	default:
		gemm(false, true, N, C, OC, 1, dout, weight, 0, dinp) // [N,OC] @ [C,OC]^T
	}
	switch {
	case dweight == nil:
	case wT:
		gemm(true, false, OC, C, N, 1, dout, inp, 0, dweight) // [OC,N] @ [N,C]
	default:
		gemm(true, false, C, OC, N, 1, inp, dout, 0, dweight) // [C,N] @ [N,OC]
	}
	if dbias == nil {
		return
	}
	parallelFor(OC, func(_, lo, hi int) {
		db := dbias[lo:hi]
		clear(db)
		n := 0
		for ; n+4 <= N; n += 4 { // four rows per pass: a quarter of the stores
			r0, r1 := dout[n*OC+lo:n*OC+hi], dout[(n+1)*OC+lo:(n+1)*OC+hi]
			r2, r3 := dout[(n+2)*OC+lo:(n+2)*OC+hi], dout[(n+3)*OC+lo:(n+3)*OC+hi]
			for i := range db {
				db[i] += (r0[i] + r1[i]) + (r2[i] + r3[i])
			}
		}
		for ; n < N; n++ {
			for i, v := range dout[n*OC+lo : n*OC+hi] {
				db[i] += v
			}
		}
	})
}

// GELU, tanh form ("gelu_new"), with u = sqrt(2/pi) * (x + 0.044715 x^3):
//
//	gelu(x) = 0.5 x (1 + tanh u) = x * sigmoid(2u)
//
// computed as x*s with s = 1/(1 + e^(-2u)), one exponential and no
// cancellation near 0. With tanh u = 2s - 1 and 1 - tanh^2 u = 4 s (1-s):
//
//	gelu'(x) = s + 2 x s (1-s) u'(x),  u'(x) = sqrt(2/pi) (1 + 3*0.044715 x^2)
const (
	geluK = 0.7978845608028654 // sqrt(2/pi)
	geluA = 0.044715
)

// geluForward: out, sig, inp [n]; sig caches s for the backward pass.
func geluForward[F Float](out, sig, inp []F) {
	parallelFor(len(inp), func(_, lo, hi int) {
		switch o := any(out[lo:hi]).(type) {
		case []float32:
			geluForward32(o, any(sig[lo:hi]).([]float32), any(inp[lo:hi]).([]float32))
		case []float64:
			s, x := any(sig[lo:hi]).([]float64), any(inp[lo:hi]).([]float64)
			for i, v := range x {
				u := geluK * (v + geluA*v*v*v)
				si := 1 / (1 + math.Exp(-2*u))
				s[i] = si
				o[i] = v * si
			}
		}
	})
}

// geluForward32 is geluForward's float32 loop, outside the generic
// function so that fastmath.go's exponential inlines into it (the inliner
// leaves it a call from the generic closure, which spills every register).
func geluForward32(out, sig, inp []float32) {
	out, sig = out[:len(inp)], sig[:len(inp)] // no bounds checks in the loop
	for i, v := range inp {
		a := -2 * geluK * (v + geluA*v*v*v)
		var e float32
		if a >= expLo && a <= expHi {
			e = expIn(a)
		} else {
			e = expEdge(a) // x < -10: +Inf, s = 0
		}
		s := 1 / (1 + e)
		sig[i] = s
		out[i] = v * s
	}
}

// geluBackward writes dinp = dout * gelu'(inp) given sig from the forward.
func geluBackward[F Float](dinp, inp, sig, dout []F) {
	parallelFor(len(inp), func(_, lo, hi int) {
		x := inp[lo:hi]
		d, s, g := dinp[lo:hi], sig[lo:hi], dout[lo:hi]
		d, s, g = d[:len(x)], s[:len(x)], g[:len(x)] // no bounds checks in the loop
		for i, xi := range x {
			si := s[i]
			du := geluK * (1 + 3*geluA*xi*xi)
			d[i] = g[i] * (si + 2*xi*si*(1-si)*du)
		}
	})
}
