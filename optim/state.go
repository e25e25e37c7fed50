package optim

import (
	"fmt"
	"strconv"
	"strings"

	"pipeline/safetensors"
)

// The optimiser state as a safetensors file: the two moment slabs as F32 tensors of shape [n],
// and in the metadata a format tag, the step count t in decimal and the layout (layoutText), so that a
// state cannot be restored into an optimiser for another model.
const (
	stateFormat    = "pipeline.optim.AdamW/1"
	keyFormat      = "format"
	keyStep        = "step"
	keyLayout      = "layout"
	tensorExpAvg   = "exp_avg"    // m, PyTorch's name
	tensorExpAvgSq = "exp_avg_sq" // v, PyTorch's name
)

// State returns a copy of the optimiser state: m, v and t. Restoring it with LoadState into an
// optimiser with the same layout and configuration continues the run bit for bit.
func (o *AdamW) State() *safetensors.File {
	n := len(o.m)
	return &safetensors.File{
		Metadata: map[string]string{
			keyFormat: stateFormat,
			keyStep:   strconv.Itoa(o.t),
			keyLayout: o.layoutText(),
		},
		Tensors: map[string]safetensors.Tensor{
			tensorExpAvg:   safetensors.FromFloat32([]int{n}, o.m),
			tensorExpAvgSq: safetensors.FromFloat32([]int{n}, o.v),
		},
	}
}

// LoadState replaces the optimiser's m, v and t with those of f, which must come from State of an
// optimiser with the same layout. On error the optimiser is unchanged.
func (o *AdamW) LoadState(f *safetensors.File) error {
	if f == nil {
		return fmt.Errorf("optim: no optimiser state")
	}
	if got := f.Metadata[keyFormat]; got != stateFormat {
		return fmt.Errorf("optim: state format %q, want %q", got, stateFormat)
	}
	t, err := strconv.Atoi(f.Metadata[keyStep])
	if err != nil || t < 0 {
		return fmt.Errorf("optim: state step %q is not a step count", f.Metadata[keyStep])
	}
	if f.Metadata[keyLayout] != o.layoutText() {
		return fmt.Errorf("optim: state was saved for another parameter layout")
	}
	if len(f.Tensors) != 2 {
		return fmt.Errorf("optim: state holds %d tensors, want %s and %s", len(f.Tensors), tensorExpAvg, tensorExpAvgSq)
	}
	m, err := o.slab(f, tensorExpAvg)
	if err != nil {
		return err
	}
	v, err := o.slab(f, tensorExpAvgSq)
	if err != nil {
		return err
	}
	copy(o.m, m)
	copy(o.v, v)
	o.t = t
	return nil
}

// slab decodes the named tensor, which must be F32 (no conversion, so the bits survive) of shape [n].
func (o *AdamW) slab(f *safetensors.File, name string) ([]float32, error) {
	tt, ok := f.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("optim: state has no tensor %s", name)
	}
	if tt.DType != safetensors.F32 || len(tt.Shape) != 1 || tt.Shape[0] != len(o.m) {
		return nil, fmt.Errorf("optim: state tensor %s is %s %v, want F32 [%d]", name, tt.DType, tt.Shape, len(o.m))
	}
	vals, err := tt.Float32()
	if err != nil {
		return nil, fmt.Errorf("optim: state tensor %s: %w", name, err)
	}
	return vals, nil
}

// layoutText is the layout, one tensor a line in slab order: quoted name, shape, offset, e.g.
// "wte.weight" [512 128] 0.
func (o *AdamW) layoutText() string {
	var b strings.Builder
	for _, s := range o.specs {
		fmt.Fprintf(&b, "%q %v %d\n", s.Name, s.Shape, s.Offset)
	}
	return b.String()
}
