package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Tensor is one named array of a safetensors file: its element type, its shape (row-major; an empty
// shape is a scalar holding one element) and its elements as raw little-endian bytes.
type Tensor struct {
	DType DType
	Shape []int
	Data  []byte
}

// FromFloat32 makes an F32 tensor holding a copy of v with the given shape. It does not check that
// len(v) is the product of shape; Encode and Write reject a tensor whose data does not fit its shape.
func FromFloat32(shape []int, v []float32) Tensor {
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
	}
	return Tensor{DType: F32, Shape: append([]int{}, shape...), Data: data}
}

// NumElements is the product of the shape: 1 for a scalar, 0 when any dimension is 0.
func (t Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Float32 returns the elements as float32, converting from F32, F16, BF16 or F64 (F64 rounds to
// nearest). It fails for integer and boolean tensors and for a tensor whose data does not match
// its dtype and shape.
func (t Tensor) Float32() ([]float32, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	out := make([]float32, t.NumElements())
	le := binary.LittleEndian
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(t.Data[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = halfToFloat32(le.Uint16(t.Data[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(le.Uint16(t.Data[2*i:])) << 16)
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(t.Data[8*i:])))
		}
	default:
		return nil, fmt.Errorf("cannot convert a %s tensor to float32", t.DType)
	}
	return out, nil
}

// check reports whether t is well formed: a known dtype, no negative dimension, a byte count that
// does not overflow, and exactly that many bytes of data.
func (t Tensor) check() error {
	n, err := byteSize(t.DType, t.Shape)
	if err != nil {
		return err
	}
	if n != len(t.Data) {
		return fmt.Errorf("%s x %v needs %d bytes, data holds %d", t.DType, t.Shape, n, len(t.Data))
	}
	return nil
}

// byteSize is the number of data bytes a tensor of this dtype and shape takes. It fails for an
// unknown dtype, a negative dimension, or a size that does not fit in an int (checked at every
// partial product, as the reference implementation does).
func byteSize(dtype DType, shape []int) (int, error) {
	size := dtype.Size()
	if size == 0 {
		return 0, fmt.Errorf("unknown dtype %q", dtype)
	}
	n := size
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("%s x %v overflows", dtype, shape)
		}
		n *= d
	}
	return n, nil
}
