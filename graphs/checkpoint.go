package graphs

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"pipeline/safetensors"
)

// ModelFile is the weights file of a checkpoint directory.
const ModelFile = "model.safetensors"

// Load reads a Hugging Face GPT-2 checkpoint directory (config.json +
// model.safetensors). It is strict: every tensor of the layout must be
// present with its exact shape and nothing else may be; the "transformer."
// prefix is accepted and the old causal-mask buffers (".attn.bias",
// ".attn.masked_bias") are ignored. Errors name every missing and extra
// tensor.
func Load(dir string) (*Config, *Params, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, ModelFile)
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	tensors := make(map[string]safetensors.Tensor, len(f.Tensors))
	for name, t := range f.Tensors {
		name = strings.TrimPrefix(name, "transformer.")
		if strings.HasSuffix(name, ".attn.bias") || strings.HasSuffix(name, ".attn.masked_bias") {
			continue
		}
		tensors[name] = t
	}
	p := NewParams(cfg)
	var missing []string
	for _, info := range p.Layout {
		if _, ok := tensors[info.Name]; !ok {
			missing = append(missing, info.Name)
		}
	}
	var extra []string
	for name := range tensors {
		if _, ok := p.Info(name); !ok {
			extra = append(extra, name)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		sort.Strings(extra)
		return nil, nil, fmt.Errorf("%s: tensors do not match config.json (missing %v, extra %v)", path, missing, extra)
	}
	sf := &safetensors.File{Tensors: tensors}
	for _, info := range p.Layout {
		v, err := sf.Float32(info.Name, info.Shape...)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		copy(p.Tensor(info.Name), v)
	}
	return cfg, p, nil
}

// Save writes config.json and model.safetensors into dir (each atomically),
// with GPT-2 names and no prefix, so Load, the reference and transformers
// read it back.
func Save(dir string, cfg *Config, p *Params) error {
	if err := WriteConfig(dir, cfg); err != nil {
		return err
	}
	f := &safetensors.File{Metadata: map[string]string{"format": "pt"}, Tensors: make(map[string]safetensors.Tensor, len(p.Layout))}
	for _, info := range p.Layout {
		f.Tensors[info.Name] = safetensors.FromFloat32(info.Shape, p.Tensor(info.Name))
	}
	return safetensors.WriteFile(filepath.Join(dir, ModelFile), f)
}
