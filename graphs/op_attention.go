package graphs

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// CausalAttention is multi-head causal self-attention over the fused
// projections qkv [B*T, 3C] (q, k, v side by side, each C = NH*hs wide, as
// GPT-2's c_attn writes them). It returns the heads' outputs side by side,
// [B*T, C], ready for c_proj:
//
//	att[b,h,t,:] = softmax_{t2 <= t}(q_t . k_t2 / sqrt(hs)),  y_t = sum_t2 att * v_t2
//
// The softmax subtracts each row's own maximum. The probabilities are cached
// for the backward pass. Rows are batch-major (row b*T+t), so right-padded
// sequences need nothing special: a real token never attends a later pad.
func CausalAttention(qkv *gorgonia.Node, B, T, NH int) (*gorgonia.Node, error) {
	s := qkv.Shape()
	if qkv.Dims() != 2 || s[0] != B*T || s[1]%(3*NH) != 0 {
		return nil, fmt.Errorf("CausalAttention: qkv %v, want [%d, 3*C] with C divisible by %d heads", s, B*T, NH)
	}
	op := &attentionOp{opBase: newOpBase("CausalAttention"), B: B, T: T, NH: NH}
	return gorgonia.ApplyOp(op, qkv)
}

type attentionOp struct {
	opBase
	B, T, NH int
	out      dense
	att      scratch // [B,NH,T,T] softmax probabilities
}

func (op *attentionOp) Arity() int    { return 1 }
func (op *attentionOp) Type() hm.Type { return fnType(2, 2) }
func (op *attentionOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	return tensor.Shape{s[0], s[1] / 3}, nil
}

func (op *attentionOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	C := inputs[0].Shape()[1] / 3
	out := op.out.get(inputs[0].Dtype(), op.B*op.T, C)
	switch out.Dtype() {
	case tensor.Float32:
		attentionDo[float32](op, floats[float32](out), floats[float32](inputs[0]), C)
	case tensor.Float64:
		attentionDo[float64](op, floats[float64](out), floats[float64](inputs[0]), C)
	default:
		return nil, fmt.Errorf("CausalAttention: unsupported dtype %v", out.Dtype())
	}
	return out, nil
}

func attentionDo[F Float](op *attentionOp, out, qkv []F, C int) {
	B, T, NH := op.B, op.T, op.NH
	att := scratchOf[F](&op.att, B*NH*T*T)
	attentionForward(out, att, qkv, qkv[C:], qkv[2*C:], B, T, 0, NH, C/NH, 3*C, 3*C, C)
}

func (op *attentionOp) DiffWRT(int) []bool { return []bool{true} }

func (op *attentionOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	diff := &attentionDiffOp{opBase: newOpBase("CausalAttentionDiff"), fwd: op}
	dqkv, err := gorgonia.ApplyOp(diff, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dqkv}, nil
}

// attentionDiffOp: (qkv [B*T,3C], dy [B*T,C]) -> dqkv [B*T,3C].
type attentionDiffOp struct {
	opBase
	fwd  *attentionOp
	dqkv dense
	tmp  scratch // [nChunks, T*T]: per-piece d att
}

func (op *attentionDiffOp) Arity() int    { return 2 }
func (op *attentionDiffOp) Type() hm.Type { return fnType(2, 2, 2) }
func (op *attentionDiffOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *attentionDiffOp) Do(inputs ...gorgonia.Value) (gorgonia.Value, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	s := inputs[0].Shape()
	d := op.dqkv.get(inputs[0].Dtype(), s[0], s[1])
	switch d.Dtype() {
	case tensor.Float32:
		attentionDiffDo[float32](op, floats[float32](d), floats[float32](inputs[0]), floats[float32](inputs[1]), s[1]/3)
	case tensor.Float64:
		attentionDiffDo[float64](op, floats[float64](d), floats[float64](inputs[0]), floats[float64](inputs[1]), s[1]/3)
	default:
		return nil, fmt.Errorf("CausalAttentionDiff: unsupported dtype %v", d.Dtype())
	}
	return d, nil
}

func attentionDiffDo[F Float](op *attentionDiffOp, dqkv, qkv, dout []F, C int) {
	B, T, NH := op.fwd.B, op.fwd.T, op.fwd.NH
	clear(dqkv)
	att := scratchOf[F](&op.fwd.att, B*NH*T*T)
	attentionBackward(dqkv, dqkv[C:], dqkv[2*C:], scratchOf[F](&op.tmp, nChunks*T*T), dout, att,
		qkv, qkv[C:], qkv[2*C:], B, T, 0, NH, C/NH, 3*C, 3*C, C)
}

var (
	_ gorgonia.Op   = &attentionOp{}
	_ gorgonia.SDOp = &attentionOp{}
	_ gorgonia.Op   = &attentionDiffOp{}
)

// attentionForward: queries of B sequences of T tokens attend, per head, to
// S = P+T keys: P prefix positions (cached or learned keys/values) followed by
// the sequence itself; query t sees keys 0..P+t. Row r of a matrix with
// stride s starts at r*s; head h uses columns h*hs..(h+1)*hs.
//
//	q   rows b*T+t, stride qs      k, v rows b*S+t2, stride kvs
//	out rows b*T+t, stride os      att [B,NH,T,S] (entries past P+t are 0)
//
// Per (b, h): att = softmax(mask(q_h @ k_h^T * scale)), out_h = att @ v_h,
// the products through gemmStrided on the heads' column blocks (the masked
// half of q k^T is computed and discarded: cheaper than a scalar loop).
// (b, h) pairs run in parallel; each writes only its own rows and columns.
func attentionForward[F Float](out, att, q, k, v []F, B, T, P, NH, hs, qs, kvs, os int) {
	S := P + T
	scale := F(1 / math.Sqrt(float64(hs)))
	parallelFor(B*NH, func(_, lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			a := att[bh*T*S : (bh+1)*T*S] // [T,S]
			qh, kh, vh := q[b*T*qs+h*hs:], k[b*S*kvs+h*hs:], v[b*S*kvs+h*hs:]
			gemmStrided(false, true, T, S, hs, scale, qh, qs, kh, kvs, 0, a, S) // [T,hs] @ [S,hs]^T
			for t := 0; t < T; t++ {
				row, n := a[t*S:(t+1)*S], P+t+1
				maxv := row[0]
				for _, x := range row[1:n] {
					maxv = max(maxv, x)
				}
				inv := F(1 / expShift(row[:n], row[:n], maxv))
				for i := range row[:n] {
					row[i] *= inv
				}
				clear(row[n:])
			}
			gemmStrided(false, false, T, hs, S, 1, a, S, vh, kvs, 0, out[b*T*os+h*hs:], os) // [T,S] @ [S,hs]
		}
	})
}

// attentionBackward accumulates (+=) dq, dk, dv (same layouts as q, k, v)
// from dout, with att from the forward pass; tmp is [nChunks, T*S] scratch.
// Per (b, h), with P = att and dY = dout_h:
//
//	dP = dY @ v^T,  dv += P^T @ dY
//	dS = P * (dP - rowsum(P * dP)) * scale      (softmax backward; 0 where masked)
//	dq += dS @ k,   dk += dS^T @ q
func attentionBackward[F Float](dq, dk, dv, tmp, dout, att, q, k, v []F, B, T, P, NH, hs, qs, kvs, os int) {
	S := P + T
	scale := F(1 / math.Sqrt(float64(hs)))
	parallelFor(B*NH, func(piece, lo, hi int) {
		dp := tmp[piece*T*S : (piece+1)*T*S] // [T,S]
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			a := att[bh*T*S : (bh+1)*T*S]
			qo, kvo, oo := b*T*qs+h*hs, b*S*kvs+h*hs, b*T*os+h*hs
			gemmStrided(false, true, T, S, hs, 1, dout[oo:], os, v[kvo:], kvs, 0, dp, S) // [T,hs] @ [S,hs]^T
			gemmStrided(true, false, S, hs, T, 1, a, S, dout[oo:], os, 1, dv[kvo:], kvs) // [S,T] @ [T,hs]
			for t := 0; t < T; t++ {
				pr, dr, n := a[t*S:(t+1)*S], dp[t*S:(t+1)*S], P+t+1
				var sum F
				for i, x := range pr[:n] {
					sum += x * dr[i]
				}
				for i, x := range pr[:n] {
					dr[i] = x * (dr[i] - sum) * scale
				}
				clear(dr[n:])
			}
			gemmStrided(false, false, T, hs, S, 1, dp, S, k[kvo:], kvs, 1, dq[qo:], qs) // [T,S] @ [S,hs]
			gemmStrided(true, false, S, hs, T, 1, dp, S, q[qo:], qs, 1, dk[kvo:], kvs)  // [S,T] @ [T,hs]
		}
	})
}
