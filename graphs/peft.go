package graphs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"pipeline/atomicfile"
	"pipeline/safetensors"
)

// The files of a PEFT adapter directory, as PeftModel.save_pretrained
// writes them and PeftModel.from_pretrained reads them.
const (
	AdapterConfigFile = "adapter_config.json"
	AdapterModelFile  = "adapter_model.safetensors"
)

// SaveAdapter writes a's adapter_config.json and adapter_model.safetensors
// into dir (each atomically). The config carries the fields PEFT needs to
// rebuild the adapter on GPT-2 (fan_in_fan_out true for its Conv1D;
// token_dim, num_layers, num_attention_heads for prompt learning), with
// inference_mode true as PEFT saves.
func SaveAdapter(dir string, cfg *Config, a *Adapter) error {
	if err := a.check(cfg); err != nil {
		return err
	}
	ac := a.Config
	fields := map[string]any{
		"peft_type": ac.PeftType, "task_type": "CAUSAL_LM", "base_model_name_or_path": ac.BaseModelNameOrPath,
		"inference_mode": true, "revision": nil,
	}
	switch ac.PeftType {
	case LoRA:
		for k, v := range map[string]any{"r": ac.R, "lora_alpha": ac.LoraAlpha, "lora_dropout": ac.LoraDropout,
			"target_modules": ac.TargetModules, "fan_in_fan_out": true, "bias": "none", "init_lora_weights": true,
			"use_rslora": false, "use_dora": false, "modules_to_save": nil} {
			fields[k] = v
		}
	default:
		for k, v := range map[string]any{"num_virtual_tokens": ac.NumVirtualTokens, "token_dim": cfg.NEmbd,
			"num_transformer_submodules": 1, "num_attention_heads": cfg.NHead, "num_layers": cfg.NLayer} {
			fields[k] = v
		}
		if ac.PeftType == Prefix {
			fields["encoder_hidden_size"], fields["prefix_projection"] = cfg.NEmbd, false
		} else {
			fields["prompt_tuning_init"], fields["prompt_tuning_init_text"], fields["tokenizer_name_or_path"] =
				ac.PromptTuningInit, nilIfEmpty(ac.PromptTuningInitText), nil
		}
	}
	b, err := json.MarshalIndent(fields, "", "  ") // keys sorted: the same bytes every time
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, AdapterConfigFile), append(b, '\n'), 0o644); err != nil {
		return err
	}
	f := &safetensors.File{Metadata: map[string]string{"format": "pt"}, Tensors: make(map[string]safetensors.Tensor, len(a.Params.Layout))}
	for _, info := range a.Params.Layout {
		f.Tensors[info.Name] = safetensors.FromFloat32(info.Shape, a.Params.Tensor(info.Name))
	}
	return safetensors.WriteFile(filepath.Join(dir, AdapterModelFile), f)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// peftDims are the adapter_config.json fields that must agree with the base
// model (absent ones are not checked).
type peftDims struct {
	FanInFanOut       *bool `json:"fan_in_fan_out"`
	TokenDim          *int  `json:"token_dim"`
	NumLayers         *int  `json:"num_layers"`
	NumAttentionHeads *int  `json:"num_attention_heads"`
	PrefixProjection  *bool `json:"prefix_projection"`
	UseRSLoRA         *bool `json:"use_rslora"`
	UseDoRA           *bool `json:"use_dora"`
}

// LoadAdapter reads an adapter directory written by SaveAdapter (or by
// PEFT, for the same methods and options) for the base model cfg. It is
// strict: the config must describe an adapter we run on cfg, and every
// tensor of its layout must be present with its exact shape and nothing else.
func LoadAdapter(dir string, cfg *Config) (*Adapter, error) {
	path := filepath.Join(dir, AdapterConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ac AdapterConfig
	var dims peftDims
	if err := json.Unmarshal(b, &ac); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := json.Unmarshal(b, &dims); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := dims.check(cfg, ac.PeftType); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	a, err := newAdapter(cfg, ac)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	path = filepath.Join(dir, AdapterModelFile)
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var extra []string
	for name := range f.Tensors {
		if _, ok := a.Params.Info(name); !ok {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, fmt.Errorf("%s: extra tensors %v, not in a %s adapter of this config", path, extra, ac.PeftType)
	}
	for _, info := range a.Params.Layout {
		v, err := f.Float32(info.Name, info.Shape...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		copy(a.Params.Tensor(info.Name), v)
	}
	return a, nil
}

// check compares the recorded dimensions with cfg.
func (d peftDims) check(cfg *Config, method AdapterMethod) error {
	bad := func(key string, got, want any) error {
		return fmt.Errorf("%s is %v, the base model needs %v", key, got, want)
	}
	switch {
	case method == LoRA && d.FanInFanOut != nil && !*d.FanInFanOut:
		return bad("fan_in_fan_out", false, "true (GPT-2's Conv1D stores weights [in, out])")
	case d.UseRSLoRA != nil && *d.UseRSLoRA:
		return bad("use_rslora", true, false)
	case d.UseDoRA != nil && *d.UseDoRA:
		return bad("use_dora", true, false)
	case d.PrefixProjection != nil && *d.PrefixProjection:
		return bad("prefix_projection", true, false)
	case method != LoRA && d.TokenDim != nil && *d.TokenDim != cfg.NEmbd:
		return bad("token_dim", *d.TokenDim, cfg.NEmbd)
	case method != LoRA && d.NumLayers != nil && *d.NumLayers != cfg.NLayer:
		return bad("num_layers", *d.NumLayers, cfg.NLayer)
	case method != LoRA && d.NumAttentionHeads != nil && *d.NumAttentionHeads != cfg.NHead:
		return bad("num_attention_heads", *d.NumAttentionHeads, cfg.NHead)
	}
	return nil
}
