package safetensors

import "math"

// halfToFloat32 widens an IEEE 754 binary16 value (1 sign bit, 5 exponent bits with bias 15,
// 10 mantissa bits) to float32, exactly: every binary16 value, subnormals, infinities and NaN
// payloads included, is representable in binary32.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0x1f: // infinity or NaN: all-ones exponent in binary32 too
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0: // zero or subnormal: mant x 2^-24
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	// normal: rebias the exponent from 15 to 127
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
