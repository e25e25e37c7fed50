package graphs

import (
	"gonum.org/v1/gonum/blas"
)

// gemm computes, for contiguous row-major matrices,
//
//	c[M,N] = alpha * op(a) @ op(b) + beta * c
//
// where op(a) is a[M,K] (transA false) or a[K,M]^T (transA true), and op(b) is
// b[K,N] or b[N,K]^T. Transposes are folded into the BLAS call, never copied.
// Products of at least gemmSplitMin multiply-adds are split into nChunks
// fixed pieces along the longer of M and N, each a single-threaded BLAS call
// on its own goroutine: the same split on every run, so the same bytes.
func gemm[F Float](transA, transB bool, M, N, K int, alpha F, a, b []F, beta F, c []F) {
	lda, ldb := K, N
	if transA {
		lda = M
	}
	if transB {
		ldb = K
	}
	if M*N*K < gemmSplitMin {
		gemmStrided(transA, transB, M, N, K, alpha, a, lda, b, ldb, beta, c, N)
		return
	}
	if M >= N {
		parallelFor(M, func(_, lo, hi int) {
			if hi == lo {
				return
			}
			ao := lo * lda // first row of a[M,K]
			if transA {
				ao = lo // first column of a[K,M]
			}
			gemmStrided(transA, transB, hi-lo, N, K, alpha, a[ao:], lda, b, ldb, beta, c[lo*N:], N)
		})
		return
	}
	parallelFor(N, func(_, lo, hi int) {
		if hi == lo {
			return
		}
		bo := lo // first column of b[K,N]
		if transB {
			bo = lo * ldb // first row of b[N,K]
		}
		gemmStrided(transA, transB, M, hi-lo, K, alpha, a, lda, b[bo:], ldb, beta, c[lo:], N)
	})
}

// gemmSplitMin is the size (M*N*K) from which gemm splits its work.
const gemmSplitMin = 64 * 64 * 64

// gemmStrided is one BLAS xGEMM call on row-major matrices with leading
// dimensions lda, ldb, ldc (row strides), so it can work on column blocks
// of wider matrices (the heads inside qkv).
func gemmStrided[F Float](transA, transB bool, M, N, K int, alpha F, a []F, lda int, b []F, ldb int, beta F, c []F, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	switch c := any(c).(type) {
	case []float32:
		blasImpl.Sgemm(ta, tb, M, N, K, float32(alpha), any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), c, ldc)
	case []float64:
		blasImpl.Dgemm(ta, tb, M, N, K, float64(alpha), any(a).([]float64), lda, any(b).([]float64), ldb, float64(beta), c, ldc)
	}
}

// blasGemm is what both builds provide: single- and double-precision GEMM.
type blasGemm interface {
	Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int)
}
