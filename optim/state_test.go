package optim

import (
	"bytes"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"pipeline/safetensors"
)

// runSteps steps o over p for steps first..last-1 with gradients derived from the step number, the
// way a training loop feeds a fresh gradient slab each step.
func runSteps(t *testing.T, o *AdamW, p []float32, first, last int) {
	t.Helper()
	_, g := randomSlab(99)
	for s := first; s < last; s++ {
		for i := range g {
			g[i] = float32(math.Sin(float64(i*7+s*13))) * 0.1
		}
		if err := o.Step(p, g, 1e-2*float64(s+1)); err != nil {
			t.Fatal(err)
		}
	}
}

func f32bytes(v []float32) []byte { return safetensors.FromFloat32([]int{len(v)}, v).Data }

// TestResumeIsBitExact: k steps, save the state to a file, restore it into a fresh optimiser,
// n more steps, against k+n uninterrupted steps: parameters and moments equal byte for byte.
func TestResumeIsBitExact(t *testing.T) {
	const k, n = 3, 4
	specs, p0 := randomSlab(7)

	straight, err := NewAdamW(specs, torchConfig)
	if err != nil {
		t.Fatal(err)
	}
	pStraight := slices.Clone(p0)
	runSteps(t, straight, pStraight, 0, k+n)

	first, err := NewAdamW(specs, torchConfig)
	if err != nil {
		t.Fatal(err)
	}
	pResumed := slices.Clone(p0)
	runSteps(t, first, pResumed, 0, k)
	path := filepath.Join(t.TempDir(), "optim.safetensors")
	if err := safetensors.WriteFile(path, first.State()); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := NewAdamW(specs, torchConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := second.LoadState(f); err != nil {
		t.Fatal(err)
	}
	if second.Steps() != k {
		t.Fatalf("restored step count %d, want %d", second.Steps(), k)
	}
	runSteps(t, second, pResumed, k, k+n)

	if !bytes.Equal(f32bytes(pResumed), f32bytes(pStraight)) {
		t.Error("resumed parameters differ from the uninterrupted run")
	}
	if !bytes.Equal(f32bytes(second.m), f32bytes(straight.m)) || !bytes.Equal(f32bytes(second.v), f32bytes(straight.v)) {
		t.Error("resumed moments differ from the uninterrupted run")
	}
	if slices.Equal(pResumed, p0) {
		t.Error("the parameters did not move")
	}
}

// TestLoadStateRejects: each corruption of a good state is refused and leaves the optimiser as it was.
func TestLoadStateRejects(t *testing.T) {
	specs, p := randomSlab(7)
	src, err := NewAdamW(specs, torchConfig)
	if err != nil {
		t.Fatal(err)
	}
	runSteps(t, src, p, 0, 2)
	otherSpecs := slices.Clone(specs)
	otherSpecs[0].Name = "wpe.weight"
	other, err := NewAdamW(otherSpecs, torchConfig)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(f *safetensors.File){
		"format":     func(f *safetensors.File) { f.Metadata["format"] = "pt" },
		"step":       func(f *safetensors.File) { f.Metadata["step"] = "-1" },
		"no step":    func(f *safetensors.File) { delete(f.Metadata, "step") },
		"layout":     func(f *safetensors.File) { f.Metadata["layout"] = other.State().Metadata["layout"] },
		"no exp_avg": func(f *safetensors.File) { delete(f.Tensors, "exp_avg") },
		"extra":      func(f *safetensors.File) { f.Tensors["x"] = f.Tensors["exp_avg"] },
		"dtype": func(f *safetensors.File) {
			tt := f.Tensors["exp_avg_sq"]
			tt.DType = safetensors.I32
			f.Tensors["exp_avg_sq"] = tt
		},
		"shape": func(f *safetensors.File) {
			tt := f.Tensors["exp_avg_sq"]
			tt.Shape = []int{tt.Shape[0] - 1}
			tt.Data = tt.Data[4:]
			f.Tensors["exp_avg_sq"] = tt
		},
	}
	for what, corrupt := range cases {
		f := src.State()
		corrupt(f)
		dst, err := NewAdamW(specs, torchConfig)
		if err != nil {
			t.Fatal(err)
		}
		runSteps(t, dst, slices.Clone(p), 0, 1)
		before := dst.State()
		if err := dst.LoadState(f); err == nil {
			t.Errorf("%s: LoadState accepted a bad state", what)
		}
		after := dst.State()
		if dst.Steps() != 1 || !bytes.Equal(before.Tensors["exp_avg"].Data, after.Tensors["exp_avg"].Data) ||
			!bytes.Equal(before.Tensors["exp_avg_sq"].Data, after.Tensors["exp_avg_sq"].Data) {
			t.Errorf("%s: a failed LoadState changed the optimiser", what)
		}
	}
	if err := other.LoadState(src.State()); err == nil {
		t.Error("a state loaded into an optimiser of another layout")
	}
	if err := other.LoadState(nil); err == nil {
		t.Error("LoadState(nil) succeeded")
	}
}
