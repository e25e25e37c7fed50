package graphs

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pipeline/safetensors"
)

// TestAdapterLayout: PEFT's key names and shapes for GPT-2 (Conv1D, so
// lora_A [r, in] and lora_B [out, r]), the layout order, the trainable
// counts against their formulas, and PEFT's LoRA init (A within
// 1/sqrt(in), not all zero; B zero).
func TestAdapterLayout(t *testing.T) {
	cfg := NewConfig(64, 16, 32, 2, 4) // C = 32, L = 2
	a, err := NewLoRA(cfg, LoRAOptions{R: 4, Alpha: 8, TargetModules: []string{"attn.c_attn", "mlp.c_proj"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, info := range a.Params.Layout {
		got = append(got, fmt.Sprintf("%s %v", info.Name, info.Shape))
	}
	want := []string{
		"base_model.model.transformer.h.0.attn.c_attn.lora_A.weight [4 32]",
		"base_model.model.transformer.h.0.attn.c_attn.lora_B.weight [96 4]",
		"base_model.model.transformer.h.0.mlp.c_proj.lora_A.weight [4 128]",
		"base_model.model.transformer.h.0.mlp.c_proj.lora_B.weight [32 4]",
		"base_model.model.transformer.h.1.attn.c_attn.lora_A.weight [4 32]",
		"base_model.model.transformer.h.1.attn.c_attn.lora_B.weight [96 4]",
		"base_model.model.transformer.h.1.mlp.c_proj.lora_A.weight [4 128]",
		"base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight [32 4]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("layout\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	trainable, all := a.Counts(cfg)
	if wantN := 2 * 4 * ((32 + 96) + (128 + 32)); trainable != wantN || all != NumParams(cfg)+wantN {
		t.Errorf("counts %d, %d; want %d, %d", trainable, all, wantN, NumParams(cfg)+wantN)
	}
	if f := a.TrainableFraction(cfg); math.Abs(f-float64(trainable)/float64(all)) > 1e-15 {
		t.Errorf("fraction %v", f)
	}
	for _, info := range a.Params.Layout {
		v := a.Params.Tensor(info.Name)
		bound := float32(1 / math.Sqrt(float64(info.Shape[1])))
		var maxAbs float32
		for _, x := range v {
			maxAbs = max(maxAbs, float32(math.Abs(float64(x))))
		}
		isA := strings.HasSuffix(info.Name, "lora_A.weight")
		if isA && (maxAbs > bound || maxAbs < bound/2) || !isA && maxAbs != 0 {
			t.Errorf("%s: max |x| %v (A: U(-%v, %v); B: 0)", info.Name, maxAbs, bound, bound)
		}
	}
	// Bare names match as PEFT's suffix rule does: c_proj is both.
	b, err := NewLoRA(cfg, LoRAOptions{R: 2, Alpha: 2, TargetModules: []string{"c_proj"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.Params.Layout); n != 2*2*2 || !strings.Contains(b.Params.Layout[2].Name, "mlp.c_proj") {
		t.Errorf("c_proj: %d tensors, third %s", n, b.Params.Layout[2].Name)
	}

	prefix, err := NewPrefix(cfg, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	prompt, err := NewPrompt(cfg, NewParams(cfg), PromptOptions{NumVirtualTokens: 5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a     *Adapter
		shape []int
	}{{prefix, []int{5, 2 * 2 * 32}}, {prompt, []int{5, 32}}} {
		l := tc.a.Params.Layout
		if len(l) != 1 || l[0].Name != "prompt_embeddings" || !slices.Equal(l[0].Shape, tc.shape) {
			t.Errorf("%s: layout %+v, want prompt_embeddings %v", tc.a.Config.PeftType, l, tc.shape)
		}
		if n, _ := tc.a.Counts(cfg); n != tc.shape[0]*tc.shape[1] {
			t.Errorf("%s: %d trainable", tc.a.Config.PeftType, n)
		}
	}
}

// TestAdapterErrors: options we cannot run are refused with their name.
func TestAdapterErrors(t *testing.T) {
	cfg := NewConfig(64, 16, 32, 2, 4)
	for _, tc := range []struct {
		o    LoRAOptions
		want string
	}{
		{LoRAOptions{R: 0, Alpha: 1, TargetModules: allModules}, "r must be"},
		{LoRAOptions{R: 2, Alpha: 0, TargetModules: allModules}, "lora_alpha"},
		{LoRAOptions{R: 2, Alpha: 1, Dropout: 0.1, TargetModules: allModules}, "lora_dropout"},
		{LoRAOptions{R: 2, Alpha: 1}, "target_modules"},
		{LoRAOptions{R: 2, Alpha: 1, TargetModules: []string{"attn.q_proj"}}, "attn.q_proj"},
	} {
		if _, err := NewLoRA(cfg, tc.o, 1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one naming %q", tc.o, err, tc.want)
		}
	}
	for _, P := range []int{0, 16} {
		if _, err := NewPrefix(cfg, P, 1); err == nil {
			t.Errorf("prefix of %d virtual tokens accepted", P)
		}
	}
	if _, err := NewPrompt(cfg, NewParams(cfg), PromptOptions{NumVirtualTokens: 2, InitIDs: []int{64}}, 1); err == nil {
		t.Error("prompt init from id 64 of a 64-token vocabulary accepted")
	}
}

// TestAdapterSaveLoad: every method round-trips bit for bit through
// adapter_config.json and adapter_model.safetensors, whose keys are PEFT's;
// the config carries PEFT's fields; a file that does not fit the model is
// refused.
func TestAdapterSaveLoad(t *testing.T) {
	cfg := NewConfig(64, 16, 32, 2, 4)
	base := NewParams(cfg)
	base.Init(1, 0.02)
	lora, _ := NewLoRA(cfg, LoRAOptions{R: 4, Alpha: 16, TargetModules: allModules}, 1)
	randomizeLoRA(lora, 1, 0.1)
	lora.Config.BaseModelNameOrPath = "runs/x/pretrain"
	prefix, _ := NewPrefix(cfg, 3, 2)
	prompt, _ := NewPrompt(cfg, base, PromptOptions{NumVirtualTokens: 4, InitIDs: []int{1, 2}, InitText: "Answer:"}, 3)
	wantFields := map[AdapterMethod]map[string]any{
		LoRA: {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4.0, "lora_alpha": 16.0, "lora_dropout": 0.0,
			"fan_in_fan_out": true, "target_modules": []any{"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"},
			"base_model_name_or_path": "runs/x/pretrain", "inference_mode": true, "bias": "none"},
		Prefix: {"peft_type": "PREFIX_TUNING", "num_virtual_tokens": 3.0, "token_dim": 32.0, "num_layers": 2.0,
			"num_attention_heads": 4.0, "num_transformer_submodules": 1.0, "prefix_projection": false},
		Prompt: {"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 4.0, "token_dim": 32.0,
			"prompt_tuning_init": "TEXT", "prompt_tuning_init_text": "Answer:"},
	}
	for _, a := range []*Adapter{lora, prefix, prompt} {
		t.Run(string(a.Config.PeftType), func(t *testing.T) {
			dir := t.TempDir()
			if err := SaveAdapter(dir, cfg, a); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, AdapterConfigFile))
			if err != nil {
				t.Fatal(err)
			}
			var fields map[string]any
			if err := json.Unmarshal(b, &fields); err != nil {
				t.Fatal(err)
			}
			for k, v := range wantFields[a.Config.PeftType] {
				if fmt.Sprint(fields[k]) != fmt.Sprint(v) {
					t.Errorf("%s = %v, want %v", k, fields[k], v)
				}
			}
			f, err := safetensors.ReadFile(filepath.Join(dir, AdapterModelFile))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, info := range a.Params.Layout {
				names = append(names, info.Name)
			}
			slices.Sort(names)
			if !slices.Equal(f.Names(), names) {
				t.Errorf("file holds %v, want %v", f.Names(), names)
			}
			back, err := LoadAdapter(dir, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(back.Params.Data, a.Params.Data) || fmt.Sprint(back.Config) != fmt.Sprint(a.Config) {
				t.Errorf("round trip changed the adapter: %+v vs %+v", back.Config, a.Config)
			}
			// The same dir for a model it does not fit.
			other := NewConfig(64, 16, 32, 3, 4)
			if _, err := LoadAdapter(dir, other); err == nil {
				t.Error("loaded for a 3-layer model")
			}
		})
	}
	// An extra tensor and a wrong dimension are refused.
	dir := t.TempDir()
	if err := SaveAdapter(dir, cfg, prefix); err != nil {
		t.Fatal(err)
	}
	f, _ := safetensors.ReadFile(filepath.Join(dir, AdapterModelFile))
	f.Tensors["extra"] = safetensors.FromFloat32([]int{1}, []float32{1})
	if err := safetensors.WriteFile(filepath.Join(dir, AdapterModelFile), f); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAdapter(dir, cfg); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("extra tensor: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, AdapterConfigFile))
	b = []byte(strings.Replace(string(b), `"token_dim": 32`, `"token_dim": 48`, 1))
	if err := os.WriteFile(filepath.Join(dir, AdapterConfigFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAdapter(dir, cfg); err == nil || !strings.Contains(err.Error(), "token_dim") {
		t.Errorf("token_dim 48: %v", err)
	}
}
