package stages

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"pipeline/graphs"
)

// A policy directory is what a fine-tuning stage hands downstream, in one of two forms, each with the
// tokenizer files beside it:
//
//	full checkpoint  config.json + model.safetensors (Hugging Face's GPT-2 layout)
//	adapter          adapter_config.json + adapter_model.safetensors (PEFT's layout), whose
//	                 base_model_name_or_path names the full checkpoint it adapts: a path relative to the
//	                 adapter directory (sft writes "../<init stage>", so a run directory can move as a
//	                 whole) or an absolute one
//
// A directory with both (sft's lora with merge: true) is read as the full checkpoint: the merged weights
// compute what the base with the adapter does.

// policy is a loaded policy directory: the base weights and, for an adapter directory, the adapter.
type policy struct {
	cfg     *graphs.Config
	base    *graphs.Params
	adapter *graphs.Adapter // nil: a full checkpoint
	baseDir string          // the directory base was loaded from
}

// loadPolicy reads dir as a full checkpoint or, lacking model.safetensors, as an adapter over the full
// checkpoint its adapter_config.json names.
func loadPolicy(dir string) (*policy, error) {
	_, err := os.Stat(filepath.Join(dir, graphs.ModelFile))
	if err == nil {
		cfg, p, err := graphs.Load(dir)
		if err != nil {
			return nil, err
		}
		return &policy{cfg: cfg, base: p, baseDir: dir}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, graphs.AdapterConfigFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is neither a full checkpoint (%s) nor an adapter (%s)", dir, graphs.ModelFile, graphs.AdapterConfigFile)
	}
	if err != nil {
		return nil, err
	}
	var ac graphs.AdapterConfig
	if err := json.Unmarshal(b, &ac); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, graphs.AdapterConfigFile), err)
	}
	if ac.BaseModelNameOrPath == "" {
		return nil, fmt.Errorf("%s: base_model_name_or_path is empty: the adapter names no base checkpoint", filepath.Join(dir, graphs.AdapterConfigFile))
	}
	baseDir := ac.BaseModelNameOrPath
	if !filepath.IsAbs(baseDir) {
		baseDir = filepath.Join(dir, baseDir)
	}
	if _, err := os.Stat(filepath.Join(baseDir, graphs.ModelFile)); err != nil {
		return nil, fmt.Errorf("%s: the base %s is not a full checkpoint: %w", dir, ac.BaseModelNameOrPath, err)
	}
	cfg, base, err := graphs.Load(baseDir)
	if err != nil {
		return nil, err
	}
	a, err := graphs.LoadAdapter(dir, cfg)
	if err != nil {
		return nil, err
	}
	return &policy{cfg: cfg, base: base, adapter: a, baseDir: baseDir}, nil
}

// method names the policy's form: "full", or the adapter's PEFT type.
func (p *policy) method() string {
	if p.adapter == nil {
		return "full"
	}
	return string(p.adapter.Config.PeftType)
}

// context is the number of real tokens a sequence may hold: n_positions less the adapter's virtual
// positions (prefix and prompt tuning).
func (p *policy) context() int {
	if p.adapter == nil {
		return p.cfg.NPositions
	}
	return p.cfg.NPositions - p.adapter.Virtual()
}

// decoder is a KV-cache decoder of the policy: a LoRA adapter merged into a copy of the base weights
// (MergeLoRA: the same logits at no cost per token), a prefix or prompt adapter in the decoder's
// virtual positions.
func (p *policy) decoder() (*graphs.Decoder, error) {
	if p.adapter != nil && p.adapter.Config.PeftType == graphs.LoRA {
		merged, err := graphs.MergeLoRA(p.cfg, p.base, p.adapter)
		if err != nil {
			return nil, err
		}
		return graphs.NewDecoder(p.cfg, merged)
	}
	return graphs.NewDecoderWith(p.cfg, p.base, p.adapter)
}

// gradients is where m.Step leaves its gradient: the adapter's store when m trains one, else the base's.
func gradients(m *graphs.Model) []float32 {
	if m.Adapter != nil {
		return m.Adapter.Params.Grad
	}
	return m.Params.Grad
}

// adapterStepper adapts a graphs.Model that trains an adapter: its gradient is the adapter's.
type adapterStepper struct{ *graphs.Model }

func (m adapterStepper) Gradients() []float32 { return gradients(m.Model) }

// baseReference is the base_model_name_or_path an adapter written into dir records for baseDir: the path
// relative to dir where there is one, else baseDir as it is.
func baseReference(dir, baseDir string) string {
	absDir, err1 := filepath.Abs(dir)
	absBase, err2 := filepath.Abs(baseDir)
	if err1 != nil || err2 != nil {
		return baseDir
	}
	rel, err := filepath.Rel(absDir, absBase)
	if err != nil {
		return absBase
	}
	return rel
}
