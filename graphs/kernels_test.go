package graphs

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGELUValues: gelu_new at points computed by hand from
// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in both precisions.
func TestGELUValues(t *testing.T) {
	xs := []float64{-3, -1, -0.1, 0, 0.5, 1, 2, 10}
	want := []float64{-0.0036373920817729943, -0.15880800939172324, -0.04601724895456484, 0,
		0.34571400982514394, 0.8411919906082768, 1.954597694087775, 10}
	out, sig := make([]float64, len(xs)), make([]float64, len(xs))
	geluForward(out, sig, xs)
	x32, o32, s32 := make([]float32, len(xs)), make([]float32, len(xs)), make([]float32, len(xs))
	for i, x := range xs {
		x32[i] = float32(x)
	}
	geluForward(o32, s32, x32)
	for i := range xs {
		if math.Abs(out[i]-want[i]) > 1e-15 {
			t.Errorf("gelu64(%v) = %.17g, want %.17g", xs[i], out[i], want[i])
		}
		if math.Abs(float64(o32[i])-want[i]) > 1e-6*math.Max(1, math.Abs(want[i])) {
			t.Errorf("gelu32(%v) = %.9g, want %.9g", xs[i], o32[i], want[i])
		}
	}
}

// TestCrossEntropyRowMax: each row's softmax uses its own maximum (Gorgonia's
// SoftMax takes the tensor's first element: [[0,0],[100,0]] gave NaN), and
// the loss matches a hand value.
func TestCrossEntropyRowMax(t *testing.T) {
	logits := []float32{0, 0, 100, 0, -1000, 3}
	tg := &Targets{IDs: []int{1, 1, 0}, Weights: []float32{1, 1, 1}, Norm: 3}
	probs := make([]float32, 6)
	loss := crossEntropyForward(probs, make([]float64, nChunks), logits, tg, 3, 2)
	// row 0: ln 2; row 1: 100 + ln(1+e^-100) - 0 = 100; row 2: 1003 (+ ln(1+e^-1003)).
	want := (math.Ln2 + 100 + 1003) / 3
	if math.Abs(loss-want) > 1e-4 {
		t.Errorf("loss %.9g, want %.9g", loss, want)
	}
	if probs[0] != 0.5 || probs[2] != 1 || probs[3] > 1e-37 || probs[4] > 1e-37 || probs[5] != 1 {
		t.Errorf("probs %v", probs)
	}
}

func TestLayerNormValues(t *testing.T) {
	// x = [1,2,3,4]: mean 2.5, var 1.25; with w = 2, b = 1: y = 2*(x-2.5)/sqrt(1.25+eps) + 1.
	x, w, b := []float64{1, 2, 3, 4}, []float64{2, 2, 2, 2}, []float64{1, 1, 1, 1}
	out, mean, rstd := make([]float64, 4), make([]float64, 1), make([]float64, 1)
	layerNormForward(out, mean, rstd, x, w, b, 1, 4, 1e-5)
	for i, v := range x {
		want := 2*(v-2.5)/math.Sqrt(1.25+1e-5) + 1
		if math.Abs(out[i]-want) > 1e-12 {
			t.Errorf("y[%d] = %v, want %v", i, out[i], want)
		}
	}
}

// naiveAttention is an independent scalar reference: explicit loops with
// -Inf masking and a softmax over the full row.
func naiveAttention(q, k, v []float64, T, S, P, hs int) []float64 {
	out := make([]float64, T*hs)
	for t := 0; t < T; t++ {
		s := make([]float64, S)
		for t2 := range s {
			s[t2] = math.Inf(-1)
			if t2 <= P+t {
				s[t2] = 0
				for i := 0; i < hs; i++ {
					s[t2] += q[t*hs+i] * k[t2*hs+i]
				}
				s[t2] /= math.Sqrt(float64(hs))
			}
		}
		m := math.Inf(-1)
		for _, x := range s {
			m = math.Max(m, x)
		}
		var z float64
		for i := range s {
			s[i] = math.Exp(s[i] - m)
			z += s[i]
		}
		for t2 := range s {
			for i := 0; i < hs; i++ {
				out[t*hs+i] += s[t2] / z * v[t2*hs+i]
			}
		}
	}
	return out
}

// TestAttentionPrefix: with P prefix keys/values the kernel equals the naive
// reference; P = 0 is the causal self-attention of the model.
func TestAttentionPrefix(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, P := range []int{0, 3} {
		T, hs := 5, 4
		S := P + T
		gen := func(n int) []float64 {
			v := make([]float64, n)
			for i := range v {
				v[i] = 3 * rng.NormFloat64() // large scores exercise the row max
			}
			return v
		}
		q, k, v := gen(T*hs), gen(S*hs), gen(S*hs)
		out, att := make([]float64, T*hs), make([]float64, T*S)
		attentionForward(out, att, q, k, v, 1, T, P, 1, hs, hs, hs, hs)
		want := naiveAttention(q, k, v, T, S, P, hs)
		for i := range want {
			if math.Abs(out[i]-want[i]) > 1e-12 {
				t.Fatalf("P=%d: out[%d] = %v, want %v", P, i, out[i], want[i])
			}
		}
	}
}

// TestGemmSplit: the split gemm equals a plain triple loop in all four
// transpose combinations, on sizes that split along M and along N.
func TestGemmSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, sz := range [][3]int{{96, 70, 50}, {40, 130, 60}, {3, 5, 7}} {
		M, N, K := sz[0], sz[1], sz[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				a, b := make([]float64, M*K), make([]float64, K*N)
				for i := range a {
					a[i] = rng.NormFloat64()
				}
				for i := range b {
					b[i] = rng.NormFloat64()
				}
				c := make([]float64, M*N)
				for i := range c {
					c[i] = 1
				}
				gemm(ta, tb, M, N, K, 2, a, b, 0.5, c)
				for i := 0; i < M; i++ {
					for j := 0; j < N; j++ {
						want := 0.5
						for p := 0; p < K; p++ {
							ai, bj := a[i*K+p], b[p*N+j]
							if ta {
								ai = a[p*M+i]
							}
							if tb {
								bj = b[j*K+p]
							}
							want += 2 * ai * bj
						}
						if math.Abs(c[i*N+j]-want) > 1e-10 {
							t.Fatalf("%v ta=%v tb=%v: c[%d,%d] = %v, want %v", sz, ta, tb, i, j, c[i*N+j], want)
						}
					}
				}
			}
		}
	}
}
