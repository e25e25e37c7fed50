package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rawFile builds a file by hand: the 8-byte length of header, header as given, then dataLen bytes
// counting up from 0.
func rawFile(header string, dataLen int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	for i := range dataLen {
		b = append(b, byte(i))
	}
	return b
}

// lengthOnly is a file holding just a header length field (and a few header bytes).
func lengthOnly(n uint64) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), "{}"...)
}

// sampleFile has every dtype, a 0-d scalar, a zero-sized tensor and metadata that needs escaping.
func sampleFile() *File {
	seq := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(7*i + 1)
		}
		return b
	}
	return &File{
		Metadata: map[string]string{"format": "pt", "note": `<a & "b">`},
		Tensors: map[string]Tensor{
			"f32":    FromFloat32([]int{2, 3}, []float32{1, -2, 3.5, 0, 1e-30, 6}),
			"scalar": FromFloat32(nil, []float32{42}),
			"f16":    {DType: F16, Shape: []int{4}, Data: seq(8)},
			"bf16":   {DType: BF16, Shape: []int{2, 2}, Data: seq(8)},
			"f64":    {DType: F64, Shape: []int{1}, Data: seq(8)},
			"i64":    {DType: I64, Shape: []int{3}, Data: seq(24)},
			"i32":    {DType: I32, Shape: []int{2, 1}, Data: seq(8)},
			"i16":    {DType: I16, Shape: []int{}, Data: seq(2)},
			"i8":     {DType: I8, Shape: []int{5}, Data: seq(5)},
			"u8":     {DType: U8, Shape: []int{3}, Data: seq(3)},
			"bool":   {DType: BOOL, Shape: []int{3}, Data: []byte{0, 1, 1}},
			"empty":  {DType: F32, Shape: []int{0, 4}, Data: nil},
		},
	}
}

// sameFile fails t unless got holds exactly want's metadata and tensors (a nil and an empty shape,
// or nil and empty data, count as equal).
func sameFile(t *testing.T, got, want *File) {
	t.Helper()
	if len(got.Metadata) != len(want.Metadata) {
		t.Errorf("metadata %v, want %v", got.Metadata, want.Metadata)
	}
	for k, v := range want.Metadata {
		if got.Metadata[k] != v {
			t.Errorf("metadata[%q] = %q, want %q", k, got.Metadata[k], v)
		}
	}
	if !slices.Equal(got.Names(), want.Names()) {
		t.Fatalf("names %v, want %v", got.Names(), want.Names())
	}
	for name, w := range want.Tensors {
		g := got.Tensors[name]
		if g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s = %s %v % x, want %s %v % x", name, g.DType, g.Shape, g.Data, w.DType, w.Shape, w.Data)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	want := sampleFile()
	b, err := Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	sameFile(t, got, want)
	if got.Tensors["scalar"].NumElements() != 1 || got.Tensors["empty"].NumElements() != 0 {
		t.Errorf("NumElements: scalar %d, empty %d, want 1 and 0",
			got.Tensors["scalar"].NumElements(), got.Tensors["empty"].NumElements())
	}
	// Data aliases b but cannot grow into the next tensor's bytes.
	f32 := got.Tensors["f32"].Data
	if cap(f32) != len(f32) {
		t.Errorf("f32 data has cap %d > len %d", cap(f32), len(f32))
	}
}

// The reference implementation's own serialization tests (safetensors/src/tensor.rs: test_empty,
// test_serialization, test_serialization_forced_alignement) give these exact bytes.
func TestEncodeMatchesReference(t *testing.T) {
	data := FromFloat32([]int{1, 2, 3}, []float32{0, 1, 2, 3, 4, 5}).Data
	cases := []struct {
		name string
		f    *File
		want []byte
	}{
		{"empty", &File{}, rawFile("{}      ", 0)},
		{"metadata only", &File{Metadata: map[string]string{"framework": "pt"}},
			rawFile(`{"__metadata__":{"framework":"pt"}}     `, 0)},
		{"one tensor", &File{Tensors: map[string]Tensor{"attn.0": {F32, []int{1, 2, 3}, data}}},
			append(rawFile(`{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`, 0), data...)},
		{"padded", &File{Tensors: map[string]Tensor{"attn0": {F32, []int{1, 1, 2, 3}, data}}},
			append(rawFile(`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `, 0), data...)},
	}
	for _, c := range cases {
		got, err := Encode(c.f)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		} else if !bytes.Equal(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

// Go randomizes map iteration; building the same content in different orders must not change a byte.
func TestEncodeDeterministic(t *testing.T) {
	first, err := Encode(sampleFile())
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		src := sampleFile()
		f := &File{Metadata: map[string]string{}, Tensors: map[string]Tensor{}}
		names := src.Names()
		slices.Reverse(names)
		for _, name := range names {
			f.Tensors[name] = src.Tensors[name]
		}
		for k, v := range src.Metadata {
			f.Metadata[k] = v
		}
		got, err := Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, first) {
			t.Fatalf("encoding differs between runs:\n%q\n%q", got, first)
		}
	}
}

const goldenModel = "../../shared/data/golden/gpt2-tiny/model.safetensors"

func TestReadGolden(t *testing.T) {
	raw, err := os.ReadFile(goldenModel)
	if os.IsNotExist(err) {
		t.Skipf("golden checkpoint %s not present (it lives in ../shared)", goldenModel)
	}
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(goldenModel)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 28 || len(f.Metadata) != 0 {
		t.Errorf("%d tensors and %d metadata entries, want 28 and 0", len(f.Tensors), len(f.Metadata))
	}
	// Values read with numpy: np.frombuffer(data[103936:112128], "<f4"), and its float64 sum.
	wte, err := f.Float32("wte.weight", 64, 32)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{-0.1640269011259079, 0.07912623137235641, 0.1797817051410675, -0.27768078446388245}
	if !slices.Equal(wte[:4], want) || wte[len(wte)-1] != 0.20106711983680725 {
		t.Errorf("wte.weight starts %v, ends %v; want %v ... 0.20106711983680725", wte[:4], wte[len(wte)-1], want)
	}
	var sum float64
	for _, v := range wte {
		sum += float64(v)
	}
	if math.Abs(sum-7.7586583551928925) > 1e-9 {
		t.Errorf("sum of wte.weight = %v, want 7.7586583551928925", sum)
	}
	fc := f.Tensors["h.1.mlp.c_fc.weight"]
	if fc.DType != F32 || !slices.Equal(fc.Shape, []int{32, 128}) {
		t.Errorf("h.1.mlp.c_fc.weight is %s %v, want F32 [32 128]", fc.DType, fc.Shape)
	}
	// The golden file was written by the reference; ours must be byte-identical.
	enc, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, raw) {
		t.Errorf("re-encoding the golden checkpoint changes it (%d bytes, want %d)", len(enc), len(raw))
	}
}

func TestFloat32Conversions(t *testing.T) {
	// Bytes and values from numpy: np.array([1, -2, 0.5, 65504, 2**-24, -0.0, np.inf, 3.140625], np.float16).
	f16 := Tensor{F16, []int{8}, []byte{0, 60, 0, 192, 0, 56, 255, 123, 1, 0, 0, 128, 0, 124, 72, 66}}
	// The upper halves of np.float32([1.5, -3.0e38, 1e-40, 0.1]) and what they widen back to.
	bf16 := Tensor{BF16, []int{2, 2}, []byte{192, 63, 97, 255, 1, 0, 204, 61}}
	var f64 []byte
	for _, v := range []float64{0.1, -1e300, 3} {
		f64 = binary.LittleEndian.AppendUint64(f64, math.Float64bits(v))
	}
	cases := []struct {
		t    Tensor
		want []float32
	}{
		{f16, []float32{1, -2, 0.5, 65504, 5.960464477539063e-08, float32(math.Copysign(0, -1)), float32(math.Inf(1)), 3.140625}},
		{bf16, []float32{1.5, -2.9907629905160607e+38, 9.183549615799121e-41, 0.099609375}},
		{Tensor{F64, []int{3}, f64}, []float32{0.1, float32(math.Inf(-1)), 3}},
		{FromFloat32([]int{2}, []float32{-7, 0.25}), []float32{-7, 0.25}},
	}
	for _, c := range cases {
		got, err := c.t.Float32()
		if err != nil {
			t.Errorf("%s: %v", c.t.DType, err)
			continue
		}
		for i := range c.want {
			if math.Float32bits(got[i]) != math.Float32bits(c.want[i]) {
				t.Errorf("%s[%d] = %v, want %v", c.t.DType, i, got[i], c.want[i])
			}
		}
	}
	if h := halfToFloat32(0x7e00); !math.IsNaN(float64(h)) {
		t.Errorf("F16 0x7e00 = %v, want NaN", h)
	}
	for _, bad := range []Tensor{
		{I32, []int{1}, []byte{1, 0, 0, 0}},
		{F32, []int{2}, []byte{1, 0, 0, 0}},
	} {
		if _, err := bad.Float32(); err == nil {
			t.Errorf("%s %v with %d bytes converted without error", bad.DType, bad.Shape, len(bad.Data))
		}
	}
}

func TestFileFloat32(t *testing.T) {
	f := &File{Tensors: map[string]Tensor{
		"w": FromFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		"n": {I64, []int{1}, make([]byte, 8)},
	}}
	if v, err := f.Float32("w", 2, 3); err != nil || v[5] != 6 {
		t.Errorf("Float32(w, 2, 3) = %v, %v", v, err)
	}
	for _, c := range []struct {
		name  string
		shape []int
		want  string
	}{
		{"w", []int{3, 2}, `tensor "w" has shape [2 3], want [3 2]`},
		{"w", nil, `tensor "w" has shape [2 3], want []`},
		{"x", []int{1}, `tensor "x" not found`},
		{"n", []int{1}, `tensor "n": cannot convert a I64 tensor to float32`},
	} {
		_, err := f.Float32(c.name, c.shape...)
		if err == nil || err.Error() != c.want {
			t.Errorf("Float32(%s, %v) error %v, want %q", c.name, c.shape, err, c.want)
		}
	}
}

// malformed lists hostile or broken files, each with a fragment of the error Parse must give.
var malformed = []struct {
	name string
	file []byte
	want string
}{
	{"empty file", nil, "file is 0 bytes, too short"},
	{"truncated length", []byte{8, 0, 0, 0, 0}, "file is 5 bytes, too short"},
	{"length past end", rawFile("{}", 0)[:9], "header length 2 runs past the end of the 9-byte file"},
	{"length huge", lengthOnly(1 << 62), "header length 4611686018427387904 exceeds the limit"},
	{"length max uint64", lengthOnly(math.MaxUint64), "exceeds the limit of 100000000 bytes"},
	{"not UTF-8", rawFile("{\"\xff\":1}", 0), "header is not valid UTF-8"},
	{"empty header", rawFile("", 0), "header does not start with '{'"},
	{"array header", rawFile("[]", 0), "header does not start with '{'"},
	{"not JSON", rawFile(`{"a":`, 0), "header is not valid JSON"},
	{"trailing comma", rawFile(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4],}}`, 4), "header is not valid JSON"},
	{"missing comma", rawFile(`{"a":{"dtype":"U8" "shape":[1],"data_offsets":[0,1]}}`, 1), "header is not valid JSON"},
	{"missing comma in array", rawFile(`{"a":{"dtype":"U8","shape":[1 1],"data_offsets":[0,1]}}`, 1), "header is not valid JSON"},
	{"missing colon", rawFile(`{"__metadata__":{"k" "v"}}`, 0), "header is not valid JSON"},
	{"unquoted key", rawFile(`{a:1}`, 0), "header is not valid JSON"},
	{"trailing garbage", rawFile(`{} x`, 0), "more than whitespace after its JSON object"},
	{"second object", rawFile(`{}{}`, 0), "more than whitespace after its JSON object"},
	{"outside buffer", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4),
		"data_offsets of a [0, 8] lie outside the 4-byte data buffer"},
	{"end before begin", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, 8),
		"data_offsets of a [8, 0] end before they begin"},
	{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12),
		"data_offsets of b [4, 12] overlap a, which ends at 8"},
	{"same offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}`, 4),
		"data_offsets of b [0, 4] overlap a, which ends at 4"},
	{"gap", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12),
		"data_offsets of b [8, 12] leave a gap after a, which ends at 4"},
	{"not at 0", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8),
		"data_offsets of a [4, 8] leave a gap after the start of the data buffer"},
	{"uncovered tail", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 8),
		"tensors cover 4 bytes but the data buffer holds 8"},
	{"wrong size", rawFile(`{"wte.weight":{"dtype":"F32","shape":[4,8],"data_offsets":[0,100]}}`, 100),
		"data_offsets of wte.weight [0, 100] do not match F32 x [4 8] = 128 bytes"},
	{"negative dim", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4),
		`tensor "a" shape holds -1, not a non-negative 64-bit integer`},
	{"fractional dim", rawFile(`{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}`, 4),
		`tensor "a" shape holds 1.0, not a non-negative`},
	{"overflowing shape", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, 0),
		"tensor a: F32 x [4294967296 4294967296] overflows"},
	{"dim beyond int", rawFile(`{"a":{"dtype":"F32","shape":[9223372036854775808,0],"data_offsets":[0,0]}}`, 0),
		`tensor "a" shape has dimension 9223372036854775808, too large`},
	{"dim beyond uint64", rawFile(`{"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,0]}}`, 0),
		"not a non-negative 64-bit integer"},
	{"shape not array", rawFile(`{"a":{"dtype":"F32","shape":3,"data_offsets":[0,4]}}`, 4),
		`tensor "a" shape: found 3 where [ was expected`},
	{"offset not number", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}}`, 4),
		`tensor "a" data_offsets holds "4", not a number`},
	{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,4]}}`, 4),
		`tensor "a" data_offsets has more than 2 numbers`},
	{"one offset", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, 4),
		`tensor "a" data_offsets [0] is not [begin, end]`},
	{"rank 65", rawFile(`{"a":{"dtype":"F32","shape":[`+strings.Repeat("1,", 64)+`1],"data_offsets":[0,4]}}`, 4),
		`tensor "a" shape has more than 64 numbers`},
	{"unknown dtype", rawFile(`{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, 1),
		`tensor "a" has unknown dtype "F8_E4M3"`},
	{"dtype not string", rawFile(`{"a":{"dtype":null,"shape":[1],"data_offsets":[0,1]}}`, 1),
		`tensor "a" dtype is null, not a string`},
	{"duplicate names", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2),
		`header has key "a" twice`},
	{"duplicate escaped names", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"\u0061":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2),
		`header has key "a" twice`},
	{"duplicate field", rawFile(`{"a":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, 1),
		`tensor "a" has field "dtype" twice`},
	{"unknown field", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"strides":[1]}}`, 1),
		`tensor "a" has unknown field "strides"`},
	{"missing field", rawFile(`{"a":{"dtype":"U8","shape":[1]}}`, 0), `tensor "a" has no data_offsets`},
	{"tensor not object", rawFile(`{"a":[1]}`, 0), `tensor "a": found [ where { was expected`},
	{"metadata not strings", rawFile(`{"__metadata__":{"epoch":1}}`, 0), `__metadata__ value of "epoch" is 1, not a string`},
	{"metadata not object", rawFile(`{"__metadata__":"pt"}`, 0), `__metadata__: found "pt" where { was expected`},
	{"metadata duplicate key", rawFile(`{"__metadata__":{"k":"a","k":"b"}}`, 0), `__metadata__ has key "k" twice`},
	{"metadata twice", rawFile(`{"__metadata__":{},"__metadata__":{}}`, 0), `header has key "__metadata__" twice`},
}

func TestParseRejects(t *testing.T) {
	for _, c := range malformed {
		f, err := Parse(c.file)
		if err == nil {
			t.Errorf("%s: accepted, %d tensors", c.name, len(f.Tensors))
			continue
		}
		if !strings.HasPrefix(err.Error(), "safetensors: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestParseAccepts(t *testing.T) {
	for _, c := range []struct {
		name, header string
		data         int
		tensors      int
	}{
		{"trailing whitespace", "{} \t\r\n", 0, 0},
		{"empty metadata", `{"__metadata__":{}}`, 0, 0},
		{"out of order offsets", `{"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"a":{"dtype":"I16","shape":[1],"data_offsets":[2,4]}}`, 4, 2},
		{"zero-sized between", `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"z":{"dtype":"F32","shape":[0],"data_offsets":[1,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2, 3},
		{"rank 64", `{"a":{"dtype":"U8","shape":[` + strings.Repeat("1,", 63) + `1],"data_offsets":[0,1]}}`, 1, 1},
		{"zero dim beside a huge one", `{"a":{"dtype":"F32","shape":[0,4611686018427387904],"data_offsets":[0,0]}}`, 0, 1},
	} {
		f, err := Parse(rawFile(c.header, c.data))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		} else if len(f.Tensors) != c.tensors {
			t.Errorf("%s: %d tensors, want %d", c.name, len(f.Tensors), c.tensors)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		f    *File
		want string
	}{
		{"nil", nil, "nil File"},
		{"short data", &File{Tensors: map[string]Tensor{"w": FromFloat32([]int{2, 2}, []float32{1, 2, 3})}},
			"tensor w: F32 x [2 2] needs 16 bytes, data holds 12"},
		{"unknown dtype", &File{Tensors: map[string]Tensor{"w": {"F8", []int{1}, []byte{0}}}}, `tensor w: unknown dtype "F8"`},
		{"negative dim", &File{Tensors: map[string]Tensor{"w": {U8, []int{-1}, nil}}}, "tensor w: shape [-1] has a negative dimension"},
		{"reserved name", &File{Tensors: map[string]Tensor{"__metadata__": {U8, nil, []byte{0}}}}, "reserved"},
		{"invalid UTF-8 metadata", &File{Metadata: map[string]string{"k": "\xff"}}, "not valid UTF-8"},
	} {
		_, err := Encode(c.f)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestWriteFileReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	want := sampleFile()
	if err := WriteFile(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sameFile(t, got, want)

	// A failed write leaves the previous file in place.
	bad := &File{Tensors: map[string]Tensor{"w": {F32, []int{2}, nil}}}
	if err := WriteFile(path, bad); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("WriteFile of a bad tensor: error %v, want one naming %s", err, path)
	}
	if got, err := ReadFile(path); err != nil || len(got.Tensors) != len(want.Tensors) {
		t.Errorf("after a failed write: %v tensors, error %v", len(got.Tensors), err)
	}

	// Errors name the path, and a hostile length is refused before the read.
	huge := filepath.Join(dir, "huge.safetensors")
	if err := os.WriteFile(huge, lengthOnly(1<<40), 0o644); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		huge: "header length 1099511627776 exceeds the limit",
		dir:  "not a regular file",
	} {
		_, err := ReadFile(p)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadFile(%s): error %v, want one naming the path and containing %q", p, err, want)
		}
	}
}
