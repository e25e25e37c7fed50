package graphs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pipeline/safetensors"
)

func TestParamCount(t *testing.T) {
	for _, tied := range []bool{true, false} {
		cfg := NewConfig(512, 64, 128, 4, 4)
		cfg.TieWordEmbeddings = tied
		p := NewParams(cfg)
		// 512*128 + 64*128 + 4*(12*128^2 + 13*128) + 2*128
		//   = 65,536 + 8,192 + 793,088 + 256 = 867,072 tied.
		want := 867072
		if !tied {
			want += 512 * 128
		}
		if len(p.Data) != want || NumParams(cfg) != want || len(p.Grad) != want {
			t.Errorf("tied=%v: slab %d, NumParams %d, want %d", tied, len(p.Data), NumParams(cfg), want)
		}
		end := 0
		for _, info := range p.Layout {
			if info.Offset != end {
				t.Fatalf("%s starts at %d, previous ended at %d", info.Name, info.Offset, end)
			}
			end += info.Size
			if info.Decay() != (len(info.Shape) == 2) {
				t.Errorf("%s: decay %v", info.Name, info.Decay())
			}
		}
	}
}

func TestInitDeterministic(t *testing.T) {
	cfg := NewConfig(50, 8, 16, 2, 2)
	a, b := NewParams(cfg), NewParams(cfg)
	a.Init(42, 0.02)
	b.Init(42, 0.02)
	for i := range a.Data {
		if a.Data[i] != b.Data[i] {
			t.Fatalf("element %d differs across runs with one seed", i)
		}
	}
	if g := a.Tensor("h.1.ln_2.weight"); g[0] != 1 || a.Tensor("h.1.ln_2.bias")[3] != 0 {
		t.Errorf("LayerNorm gain %v / bias not 1 / 0", g[0])
	}
	b.Init(43, 0.02)
	if a.Tensor("wte.weight")[0] == b.Tensor("wte.weight")[0] {
		t.Errorf("seeds 42 and 43 give the same first weight")
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	cfg, p, err := Load(goldenDir(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := Save(dir, cfg, p); err != nil {
		t.Fatal(err)
	}
	cfg2, p2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*cfg2) != fmt.Sprint(*cfg) {
		t.Errorf("config changed: %+v vs %+v", cfg2, cfg)
	}
	for i := range p.Data {
		if p.Data[i] != p2.Data[i] {
			t.Fatalf("element %d changed across save/load", i)
		}
	}
	// The saved file equals the golden one tensor for tensor.
	a, _ := safetensors.ReadFile(filepath.Join(goldenDir(t), ModelFile))
	b, _ := safetensors.ReadFile(filepath.Join(dir, ModelFile))
	for name, ta := range a.Tensors {
		if string(ta.Data) != string(b.Tensors[name].Data) {
			t.Errorf("%s differs from the golden file", name)
		}
	}
}

// TestLoadStrict: the transformer. prefix and mask buffers are accepted, a
// missing or extra tensor is named, a wrong shape is refused.
func TestLoadStrict(t *testing.T) {
	src, err := safetensors.ReadFile(filepath.Join(goldenDir(t), ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	cfgJSON, err := os.ReadFile(filepath.Join(goldenDir(t), "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(t *testing.T, edit func(m map[string]safetensors.Tensor)) string {
		dir := t.TempDir()
		m := map[string]safetensors.Tensor{}
		for k, v := range src.Tensors {
			m["transformer."+k] = v
		}
		m["transformer.h.0.attn.bias"] = safetensors.FromFloat32([]int{1}, []float32{1})
		edit(m)
		if err := os.WriteFile(filepath.Join(dir, "config.json"), cfgJSON, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := safetensors.WriteFile(filepath.Join(dir, ModelFile), &safetensors.File{Tensors: m}); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	if _, _, err := Load(write(t, func(map[string]safetensors.Tensor) {})); err != nil {
		t.Errorf("prefixed checkpoint with mask buffer: %v", err)
	}
	_, _, err = Load(write(t, func(m map[string]safetensors.Tensor) {
		delete(m, "transformer.h.1.mlp.c_fc.bias")
		m["transformer.h.9.ln_1.weight"] = m["transformer.ln_f.weight"]
	}))
	if err == nil || !strings.Contains(err.Error(), "h.1.mlp.c_fc.bias") || !strings.Contains(err.Error(), "h.9.ln_1.weight") {
		t.Errorf("missing + extra tensor: %v", err)
	}
	_, _, err = Load(write(t, func(m map[string]safetensors.Tensor) {
		m["transformer.ln_f.bias"] = safetensors.FromFloat32([]int{31}, make([]float32, 31))
	}))
	if err == nil || !strings.Contains(err.Error(), "ln_f.bias") {
		t.Errorf("wrong shape: %v", err)
	}
}
