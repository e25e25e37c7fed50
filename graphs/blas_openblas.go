//go:build cgo && !purego

package graphs

// #cgo LDFLAGS: -lopenblas
// void openblas_set_num_threads(int num_threads);
import "C"

import "gonum.org/v1/netlib/blas/netlib"

// blasImpl is OpenBLAS through gonum's netlib bindings; the cgo directive
// above links libopenblas so no CGO_LDFLAGS is needed.
var blasImpl blasGemm = netlib.Implementation{}

// BLASName names the GEMM implementation this binary was built with.
const BLASName = "openblas"

// OpenBLAS runs single-threaded: gemm splits large products over the cores
// itself. OpenBLAS's own workers spin between calls and took a core away
// from the Go kernels running between the products.
func init() { C.openblas_set_num_threads(1) }
