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

// PrefixAttention is CausalAttention whose queries also attend P learned
// keys and values placed before every sequence (prefix tuning: PEFT's
// past_key_values). prefix [P, 2*L*C] is PEFT's prompt_embeddings for all L
// layers: row p holds, for each layer l, its key at columns 2l*C and its
// value at (2l+1)*C, heads side by side as in qkv. This op reads layer's:
//
//	keys, values of sequence b = [prefix_k; k_b], [prefix_v; v_b]   [S, C], S = P+T
//	att[b,h,t,:] = softmax over the P prefix keys and keys t2 <= t
//
// The prefix's gradient sums over the batch.
func PrefixAttention(qkv, prefix *gorgonia.Node, layer, B, T, NH int) (*gorgonia.Node, error) {
	s, ps := qkv.Shape(), prefix.Shape()
	if qkv.Dims() != 2 || s[0] != B*T || s[1]%(3*NH) != 0 {
		return nil, fmt.Errorf("PrefixAttention: qkv %v, want [%d, 3*C] with C divisible by %d heads", s, B*T, NH)
	}
	C := s[1] / 3
	if prefix.Dims() != 2 || ps[0] <= 0 || ps[1]%(2*C) != 0 || layer < 0 || (2*layer+2)*C > ps[1] {
		return nil, fmt.Errorf("PrefixAttention: prefix %v has no layer %d for C = %d", ps, layer, C)
	}
	op := &attentionOp{opBase: newOpBase("PrefixAttention"), B: B, T: T, NH: NH, P: ps[0], layer: layer}
	return gorgonia.ApplyOp(op, qkv, prefix)
}

type attentionOp struct {
	opBase
	B, T, NH int
	P, layer int // prefix tuning: P virtual positions of layer's columns (P = 0: none)
	out      dense
	att      scratch // [B,NH,T,S] softmax probabilities, S = P+T
	kv       scratch // prefix only: [B*S, 2C] keys | values, prefix rows first
}

func (op *attentionOp) Arity() int {
	if op.P > 0 {
		return 2
	}
	return 1
}

func (op *attentionOp) Type() hm.Type {
	if op.P > 0 {
		return fnType(2, 2, 2)
	}
	return fnType(2, 2)
}
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
		attentionDo[float32](op, floats[float32](out), inputs, C)
	case tensor.Float64:
		attentionDo[float64](op, floats[float64](out), inputs, C)
	default:
		return nil, fmt.Errorf("CausalAttention: unsupported dtype %v", out.Dtype())
	}
	return out, nil
}

func attentionDo[F Float](op *attentionOp, out []F, inputs []gorgonia.Value, C int) {
	B, T, P, NH := op.B, op.T, op.P, op.NH
	qkv := floats[F](inputs[0])
	if P == 0 {
		att := scratchOf[F](&op.att, B*NH*T*T)
		attentionForward(out, att, qkv, qkv[C:], qkv[2*C:], B, T, 0, NH, C/NH, 3*C, 3*C, C)
		return
	}
	S := P + T
	kv := scratchOf[F](&op.kv, B*S*2*C)
	prefixKV(kv, qkv, floats[F](inputs[1]), B, T, P, C, op.layer)
	att := scratchOf[F](&op.att, B*NH*T*S)
	attentionForward(out, att, qkv, kv, kv[C:], B, T, P, NH, C/NH, 3*C, 2*C, C)
}

// prefixKV assembles the keys and values sequence b attends, kv rows b*S+s
// [S, 2C] (key | value): layer's prefix row s for s < P, then the sequence's
// own k | v (adjacent in qkv) for s = P+t.
func prefixKV[F Float](kv, qkv, prefix []F, B, T, P, C, layer int) {
	S, W := P+T, len(prefix)/P
	for b := 0; b < B; b++ {
		for p := 0; p < P; p++ {
			copy(kv[(b*S+p)*2*C:(b*S+p+1)*2*C], prefix[p*W+2*layer*C:p*W+(2*layer+2)*C])
		}
		for t := 0; t < T; t++ {
			copy(kv[(b*S+P+t)*2*C:(b*S+P+t+1)*2*C], qkv[(b*T+t)*3*C+C:(b*T+t+1)*3*C])
		}
	}
}

func (op *attentionOp) DiffWRT(n int) []bool { return []bool{true, true}[:n] }

// SymDiff returns dqkv (the diff node's value) and, with a prefix, dprefix
// (a gradPart).
func (op *attentionOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if err := checkArity(op, len(inputs)); err != nil {
		return nil, err
	}
	diff := &attentionDiffOp{opBase: newOpBase("CausalAttentionDiff"), fwd: op}
	if op.P == 0 {
		dqkv, err := gorgonia.ApplyOp(diff, inputs[0], grad)
		if err != nil {
			return nil, err
		}
		return gorgonia.Nodes{dqkv}, nil
	}
	dqkv, err := gorgonia.ApplyOp(diff, inputs[0], grad, inputs[1])
	if err != nil {
		return nil, err
	}
	dprefix, err := newGradPart(dqkv, "PrefixAttentionDiff.dprefix", &diff.dprefix, inputs[1].Shape()...)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dqkv, dprefix}, nil
}

// attentionDiffOp: (qkv [B*T,3C], dy [B*T,C][, prefix]) -> dqkv [B*T,3C];
// with a prefix it also fills dprefix.
type attentionDiffOp struct {
	opBase
	fwd     *attentionOp
	dqkv    dense
	dprefix dense
	tmp     scratch // [nChunks, T*S]: per-piece d att
	dkv     scratch // prefix only: [B*S, 2C]
}

func (op *attentionDiffOp) Arity() int { return op.fwd.Arity() + 1 }
func (op *attentionDiffOp) Type() hm.Type {
	if op.fwd.P > 0 {
		return fnType(2, 2, 2, 2)
	}
	return fnType(2, 2, 2)
}
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
		attentionDiffDo[float32](op, floats[float32](d), inputs, s[1]/3)
	case tensor.Float64:
		attentionDiffDo[float64](op, floats[float64](d), inputs, s[1]/3)
	default:
		return nil, fmt.Errorf("CausalAttentionDiff: unsupported dtype %v", d.Dtype())
	}
	return d, nil
}

func attentionDiffDo[F Float](op *attentionDiffOp, dqkv []F, inputs []gorgonia.Value, C int) {
	B, T, P, NH := op.fwd.B, op.fwd.T, op.fwd.P, op.fwd.NH
	qkv, dout := floats[F](inputs[0]), floats[F](inputs[1])
	clear(dqkv)
	if P == 0 {
		att := scratchOf[F](&op.fwd.att, B*NH*T*T)
		attentionBackward(dqkv, dqkv[C:], dqkv[2*C:], scratchOf[F](&op.tmp, nChunks*T*T), dout, att,
			qkv, qkv[C:], qkv[2*C:], B, T, 0, NH, C/NH, 3*C, 3*C, C)
		return
	}
	S := P + T
	att, kv := scratchOf[F](&op.fwd.att, B*NH*T*S), scratchOf[F](&op.fwd.kv, B*S*2*C)
	dkv := scratchOf[F](&op.dkv, B*S*2*C)
	clear(dkv)
	attentionBackward(dqkv, dkv, dkv[C:], scratchOf[F](&op.tmp, nChunks*T*S), dout, att,
		qkv, kv, kv[C:], B, T, P, NH, C/NH, 3*C, 2*C, C)
	dprefix := floats[F](op.dprefix.get(inputs[2].Dtype(), inputs[2].Shape()...))
	prefixKVBackward(dqkv, dprefix, dkv, B, T, P, C, op.fwd.layer)
}

// prefixKVBackward undoes prefixKV's gather: the sequence rows of dkv go
// to dqkv's k | v columns (whose dq the backward already wrote), and the
// prefix rows, summed over the batch in order, to layer's columns of
// dprefix (every other column 0).
func prefixKVBackward[F Float](dqkv, dprefix, dkv []F, B, T, P, C, layer int) {
	S, W := P+T, len(dprefix)/P
	clear(dprefix)
	for b := 0; b < B; b++ {
		for p := 0; p < P; p++ {
			d := dprefix[p*W+2*layer*C : p*W+(2*layer+2)*C]
			for i, v := range dkv[(b*S+p)*2*C : (b*S+p+1)*2*C] {
				d[i] += v
			}
		}
		for t := 0; t < T; t++ {
			copy(dqkv[(b*T+t)*3*C+C:(b*T+t+1)*3*C], dkv[(b*S+P+t)*2*C:(b*S+P+t+1)*2*C])
		}
	}
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
				p := row[:n]
				inv := F(1 / expSum(p, p, maxOf(p)))
				for i := range p {
					p[i] *= inv
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
