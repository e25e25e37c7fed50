//go:build !cgo || purego

package graphs

import "gonum.org/v1/gonum/blas/gonum"

// blasImpl is gonum's pure-Go BLAS: no C library needed.
var blasImpl blasGemm = gonum.Implementation{}

// BLASName names the GEMM implementation this binary was built with.
const BLASName = "gonum"
