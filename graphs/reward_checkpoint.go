package graphs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"pipeline/atomicfile"
	"pipeline/safetensors"
)

// RewardArchitecture is the Hugging Face class a reward checkpoint loads as.
const RewardArchitecture = "GPT2ForSequenceClassification"

// rewardConfigJSON is config.json of a reward model: GPT-2's keys with the architecture of a sequence
// classifier with one label, as transformers writes it (id2label and label2id; num_labels for readers
// that take it directly), and the pad id its forward pass pads with.
type rewardConfigJSON struct {
	*Config
	NumLabels  int               `json:"num_labels"`
	ID2Label   map[string]string `json:"id2label"`
	Label2ID   map[string]int    `json:"label2id"`
	PadTokenID int               `json:"pad_token_id"`
}

// SaveReward writes a reward model in the layout transformers' GPT2ForSequenceClassification saves:
// config.json (architectures [GPT2ForSequenceClassification], num_labels 1, pad_token_id) and
// model.safetensors with the decoder's tensors under "transformer." (transformer.wte.weight,
// transformer.h.0.ln_1.weight, ...) and the head as score.weight [1, C]. Each file is written atomically.
//
// transformers reads its score at the last position whose id is not pad_token_id; with the pad equal to
// <|endoftext|>, that is the token before the closing <|endoftext|>, not the <|endoftext|> our
// RewardModel reads (see ScoreHead), so to score the same way there, pass the last real position.
func SaveReward(dir string, cfg *Config, p *Params, pad int) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	c := *cfg
	c.ModelType, c.Architectures, c.NCtx = "gpt2", []string{RewardArchitecture}, c.NPositions
	b, err := json.MarshalIndent(rewardConfigJSON{Config: &c, NumLabels: 1, ID2Label: map[string]string{"0": "LABEL_0"},
		Label2ID: map[string]int{"LABEL_0": 0}, PadTokenID: pad}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	f := &safetensors.File{Metadata: map[string]string{"format": "pt"}, Tensors: make(map[string]safetensors.Tensor, len(p.Layout))}
	for _, info := range p.Layout {
		f.Tensors[rewardTensorName(info.Name)] = safetensors.FromFloat32(info.Shape, p.Tensor(info.Name))
	}
	return safetensors.WriteFile(filepath.Join(dir, ModelFile), f)
}

// rewardTensorName is the name transformers gives a tensor of the store.
func rewardTensorName(name string) string {
	if name == ScoreWeight {
		return name
	}
	return "transformer." + name
}

// LoadReward reads a reward checkpoint written by SaveReward or by transformers. It is strict as Load
// is: config.json must name GPT2ForSequenceClassification with one label, and every tensor of
// RewardLayout must be present with its exact shape and nothing else (the causal-mask buffers
// ".attn.bias" and ".attn.masked_bias" are ignored).
func LoadReward(dir string) (*Config, *Params, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var rc struct {
		Architectures []string          `json:"architectures"`
		ID2Label      map[string]string `json:"id2label"`
		NumLabels     *int              `json:"num_labels"`
	}
	if err := json.Unmarshal(b, &rc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if !slices.Contains(rc.Architectures, RewardArchitecture) {
		return nil, nil, fmt.Errorf("%s: architectures %v, not a reward model (%s)", path, rc.Architectures, RewardArchitecture)
	}
	if (rc.NumLabels != nil && *rc.NumLabels != 1) || (rc.ID2Label != nil && len(rc.ID2Label) != 1) {
		return nil, nil, fmt.Errorf("%s: a reward model has one label", path)
	}
	path = filepath.Join(dir, ModelFile)
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	p := NewRewardParams(cfg)
	want := make(map[string]bool, len(p.Layout))
	var missing []string
	for _, info := range p.Layout {
		name := rewardTensorName(info.Name)
		want[name] = true
		if _, ok := f.Tensors[name]; !ok {
			missing = append(missing, name)
		}
	}
	var extra []string
	for name := range f.Tensors {
		if !want[name] && !strings.HasSuffix(name, ".attn.bias") && !strings.HasSuffix(name, ".attn.masked_bias") {
			extra = append(extra, name)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		sort.Strings(extra)
		return nil, nil, fmt.Errorf("%s: tensors do not match a reward model of config.json (missing %v, extra %v)", path, missing, extra)
	}
	for _, info := range p.Layout {
		v, err := f.Float32(rewardTensorName(info.Name), info.Shape...)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		copy(p.Tensor(info.Name), v)
	}
	return cfg, p, nil
}
