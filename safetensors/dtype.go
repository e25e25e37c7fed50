package safetensors

// DType names the element type of a tensor, spelled as in the safetensors header ("F32", "BF16", ...).
type DType string

// The element types this package reads and writes. Any other dtype in a header is rejected: the
// reference implementation knows a few more (U16, U32, U64, 8-bit floats) that nothing in this
// project produces.
const (
	F32  DType = "F32"  // IEEE 754 binary32
	F16  DType = "F16"  // IEEE 754 binary16
	BF16 DType = "BF16" // bfloat16: the upper half of a binary32
	F64  DType = "F64"  // IEEE 754 binary64
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	BOOL DType = "BOOL" // one byte per element, 0 or 1
)

// Size is the number of bytes one element of d takes, or 0 when d is not a dtype this package knows.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, BOOL:
		return 1
	}
	return 0
}
