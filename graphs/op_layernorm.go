package graphs

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LayerNorm normalises each row of x [N, C] and applies the gain w [C] and
// bias b [C]:
//
//	y = (x - mean) * rstd * w + b,  rstd = 1/sqrt(var + eps)
//
// (biased variance, as torch.nn.functional.layer_norm). One fused op; mean
// and rstd are cached for the backward pass.
func LayerNorm(x, w, b *gorgonia.Node, eps float64) (*gorgonia.Node, error) {
	if x.Dims() != 2 || w.Dims() != 1 || b.Dims() != 1 {
		return nil, fmt.Errorf("LayerNorm: want x [N,C], w [C], b [C], got %v %v %v", x.Shape(), w.Shape(), b.Shape())
	}
	op := &layerNormOp{opBase: newOpBase("LayerNorm"), eps: eps}
	return gorgonia.ApplyOp(op, x, w, b)
}

type layerNormOp struct {
	opBase
	eps        float64
	out        dense
	mean, rstd scratch // [N] each
}

func (op *layerNormOp) Arity() int    { return 3 }
func (op *layerNormOp) Type() hm.Type { return fnType(2, 2, 1, 1) }
func (op *layerNormOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *layerNormOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	s := inputs[0].Shape()
	N, C := s[0], s[1]
	out := op.out.get(inputs[0].Dtype(), N, C)
	switch out.Dtype() {
	case tensor.Float32:
		layerNormForward(floats[float32](out), scratchOf[float32](&op.mean, N), scratchOf[float32](&op.rstd, N),
			floats[float32](inputs[0]), floats[float32](inputs[1]), floats[float32](inputs[2]), N, C, op.eps)
	case tensor.Float64:
		layerNormForward(floats[float64](out), scratchOf[float64](&op.mean, N), scratchOf[float64](&op.rstd, N),
			floats[float64](inputs[0]), floats[float64](inputs[1]), floats[float64](inputs[2]), N, C, op.eps)
	default:
		return nil, fmt.Errorf("LayerNorm: unsupported dtype %v", out.Dtype())
	}
	return out, nil
}

func (op *layerNormOp) DiffWRT(int) []bool { return []bool{true, true, true} }

// SymDiff returns dx, dw, db: one diff node computes all three; dw and db
// are read out of it by gradPart nodes.
func (op *layerNormOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	diff := &layerNormDiffOp{opBase: newOpBase("LayerNormDiff"), fwd: op}
	dx, err := gorgonia.ApplyOp(diff, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	C := inputs[1].Shape()[0]
	dw, err := newGradPart(dx, "LayerNormDiff.dw", &diff.dw, C)
	if err != nil {
		return nil, err
	}
	db, err := newGradPart(dx, "LayerNormDiff.db", &diff.db, C)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dw, db}, nil
}

// layerNormDiffOp: (x [N,C], w [C], dy [N,C]) -> dx [N,C]; also fills dw, db.
type layerNormDiffOp struct {
	opBase
	fwd        *layerNormOp
	dx, dw, db dense
	partial    scratch // [nChunks, 2, C]: per-chunk dw, db partial sums
}

func (op *layerNormDiffOp) Arity() int    { return 3 }
func (op *layerNormDiffOp) Type() hm.Type { return fnType(2, 2, 1, 2) }
func (op *layerNormDiffOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *layerNormDiffOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	s := inputs[0].Shape()
	N, C := s[0], s[1]
	dt := inputs[0].Dtype()
	dx, dw, db := op.dx.get(dt, N, C), op.dw.get(dt, C), op.db.get(dt, C)
	switch dt {
	case tensor.Float32:
		layerNormDiffDo[float32](op, dx, dw, db, inputs, N, C)
	case tensor.Float64:
		layerNormDiffDo[float64](op, dx, dw, db, inputs, N, C)
	default:
		return nil, fmt.Errorf("LayerNormDiff: unsupported dtype %v", dt)
	}
	return dx, nil
}

func layerNormDiffDo[F Float](op *layerNormDiffOp, dx, dw, db *tensor.Dense, inputs []gorgonia.Value, N, C int) {
	dxs, dws, dbs := floats[F](dx), floats[F](dw), floats[F](db)
	clear(dxs)
	clear(dws)
	clear(dbs)
	layerNormBackward(dxs, dws, dbs, scratchOf[F](&op.partial, nChunks*2*C),
		floats[F](inputs[2]), floats[F](inputs[0]), floats[F](inputs[1]),
		scratchOf[F](&op.fwd.mean, N), scratchOf[F](&op.fwd.rstd, N), N, C)
}

var (
	_ gorgonia.Op   = &layerNormOp{}
	_ gorgonia.SDOp = &layerNormOp{}
	_ gorgonia.Op   = &layerNormDiffOp{}
)

// layerNormForward: out, inp [N,C]; mean, rstd [N]; weight, bias [C].
// Row statistics are accumulated in float64. Rows run in parallel.
func layerNormForward[F Float](out, mean, rstd, inp, weight, bias []F, N, C int, eps float64) {
	parallelFor(N, func(_, lo, hi int) {
		for n := lo; n < hi; n++ {
			x := inp[n*C : (n+1)*C]
			var m float64
			for _, v := range x {
				m += float64(v)
			}
			m /= float64(C)
			var v2 float64
			for _, v := range x {
				d := float64(v) - m
				v2 += d * d
			}
			s := 1 / math.Sqrt(v2/float64(C)+eps)
			o := out[n*C : (n+1)*C]
			fm, fs := F(m), F(s)
			for i, v := range x {
				o[i] = (v-fm)*fs*weight[i] + bias[i]
			}
			mean[n], rstd[n] = fm, fs
		}
	})
}

// layerNormBackward accumulates (+=) into dinp [N,C], dweight, dbias [C]:
//
//	xhat = (x - mean) * rstd,  g = dout * w
//	dx   = rstd * (g - mean(g) - xhat * mean(g * xhat))
//	dw  += sum_n dout * xhat,  db += sum_n dout
//
// Rows are split into nChunks fixed pieces; each piece sums its dw, db into
// its own slot of partial [nChunks,2,C], added up in piece order.
func layerNormBackward[F Float](dinp, dweight, dbias, partial, dout, inp, weight, mean, rstd []F, N, C int) {
	clear(partial)
	parallelFor(N, func(piece, lo, hi int) {
		pw := partial[piece*2*C : piece*2*C+C]
		pb := partial[piece*2*C+C : (piece+1)*2*C]
		for n := lo; n < hi; n++ {
			x, dy, dx := inp[n*C:(n+1)*C], dout[n*C:(n+1)*C], dinp[n*C:(n+1)*C]
			m, s := mean[n], rstd[n]
			var gMean, gxMean float64
			for i := range x {
				xhat := (x[i] - m) * s
				g := dy[i] * weight[i]
				gMean += float64(g)
				gxMean += float64(g * xhat)
			}
			gm, gxm := F(gMean/float64(C)), F(gxMean/float64(C))
			for i := range x {
				xhat := (x[i] - m) * s
				dx[i] += s * (dy[i]*weight[i] - gm - xhat*gxm)
				pw[i] += dy[i] * xhat
				pb[i] += dy[i]
			}
		}
	})
	for p := 0; p < nChunks; p++ {
		for i := 0; i < C; i++ {
			dweight[i] += partial[p*2*C+i]
			dbias[i] += partial[p*2*C+C+i]
		}
	}
}
