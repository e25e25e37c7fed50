package graphs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// AdapterMethod is a parameter-efficient fine-tuning method, named as
// PEFT's peft_type.
type AdapterMethod string

// The methods. Each trains a store of its own beside the frozen base model.
const (
	// LoRA adds s * A^T @ B^T (s = alpha/r) to chosen linear weights.
	LoRA AdapterMethod = "LORA"
	// Prefix learns P keys and values per layer that every query attends.
	Prefix AdapterMethod = "PREFIX_TUNING"
	// Prompt learns P input embeddings placed before every sequence.
	Prompt AdapterMethod = "PROMPT_TUNING"
)

// AdapterConfig is an adapter's adapter_config.json: PEFT's fields for the
// three methods (a field that a method does not use stays zero and is not
// written). The JSON tags are PEFT's keys.
type AdapterConfig struct {
	PeftType AdapterMethod `json:"peft_type"`
	// TaskType is always "CAUSAL_LM".
	TaskType string `json:"task_type"`
	// BaseModelNameOrPath records the base checkpoint (informative).
	BaseModelNameOrPath string `json:"base_model_name_or_path"`

	// LoRA: rank, alpha (the update is scaled by alpha/r), dropout on the
	// branch's input (only 0 is supported) and the modules adapted, in
	// PEFT's suffix form: "attn.c_attn", "attn.c_proj", "mlp.c_fc",
	// "mlp.c_proj", or bare "c_attn", "c_proj" (both), "c_fc".
	R             int      `json:"r"`
	LoraAlpha     float64  `json:"lora_alpha"`
	LoraDropout   float64  `json:"lora_dropout"`
	TargetModules []string `json:"target_modules"`

	// Prefix and prompt tuning: the number of virtual positions P.
	NumVirtualTokens int `json:"num_virtual_tokens"`
	// PromptTuningInit is "RANDOM" or "TEXT" (prompt tuning); with TEXT the
	// prompt started as the embeddings of PromptTuningInitText's tokens.
	PromptTuningInit     string `json:"prompt_tuning_init"`
	PromptTuningInitText string `json:"prompt_tuning_init_text"`
}

// loraModules are the linear layers LoRA can adapt, in layout order, with
// their [in, out] sizes as multiples of C.
var loraModules = []struct {
	name    string
	in, out int
}{{"attn.c_attn", 1, 3}, {"attn.c_proj", 1, 1}, {"mlp.c_fc", 1, 4}, {"mlp.c_proj", 4, 1}}

// Adapter is a trained (or to be trained) PEFT adapter: its config and its
// own parameter store, laid out like Params (one Data slab, one Grad slab,
// optim.Spec-compatible layout) under PEFT's tensor names:
//
//	LoRA    base_model.model.transformer.h.{i}.{module}.lora_A.weight [r, in]
//	        base_model.model.transformer.h.{i}.{module}.lora_B.weight [out, r]
//	prefix  prompt_embeddings [P, 2*L*C] (layer l's keys at columns 2l*C, values at (2l+1)*C)
//	prompt  prompt_embeddings [P, C]
type Adapter struct {
	Config AdapterConfig
	Params *Params
}

// LoRAOptions are the LoRA hyperparameters.
type LoRAOptions struct {
	R             int
	Alpha         float64
	Dropout       float64 // must be 0: the graph has no dropout
	TargetModules []string
}

// NewLoRA makes a LoRA adapter for cfg initialised as PEFT does: every A ~
// U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_ with a = sqrt(5)) drawn from
// seed in layout order, every B = 0, so the adapted model starts equal to
// the base.
func NewLoRA(cfg *Config, o LoRAOptions, seed uint64) (*Adapter, error) {
	a, err := newAdapter(cfg, AdapterConfig{PeftType: LoRA, R: o.R, LoraAlpha: o.Alpha, LoraDropout: o.Dropout,
		TargetModules: slices.Clone(o.TargetModules)})
	if err != nil {
		return nil, err
	}
	rng := newAdapterRNG(seed)
	for _, info := range a.Params.Layout {
		if !strings.HasSuffix(info.Name, ".lora_A.weight") {
			continue
		}
		bound := 1 / math.Sqrt(float64(info.Shape[1])) // fan_in = in
		v := a.Params.Tensor(info.Name)
		for i := range v {
			v[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	return a, nil
}

// NewPrefix makes a prefix-tuning adapter of P virtual positions, its keys
// and values ~ N(0, 1) from seed (PEFT's PrefixEncoder without projection is
// an nn.Embedding, initialised so).
func NewPrefix(cfg *Config, P int, seed uint64) (*Adapter, error) {
	a, err := newAdapter(cfg, AdapterConfig{PeftType: Prefix, NumVirtualTokens: P})
	if err != nil {
		return nil, err
	}
	rng := newAdapterRNG(seed)
	for i := range a.Params.Data {
		a.Params.Data[i] = float32(rng.NormFloat64())
	}
	return a, nil
}

// PromptOptions configure a prompt-tuning adapter.
type PromptOptions struct {
	NumVirtualTokens int
	// InitIDs, when not empty, are the tokens of InitText: the prompt starts
	// as their embeddings, repeated or cut to P (PEFT's TEXT init). Empty:
	// the prompt ~ N(0, 1) from the seed (PEFT's RANDOM init).
	InitIDs  []int
	InitText string
}

// NewPrompt makes a prompt-tuning adapter; base gives the token embeddings
// of a TEXT init.
func NewPrompt(cfg *Config, base *Params, o PromptOptions, seed uint64) (*Adapter, error) {
	ac := AdapterConfig{PeftType: Prompt, NumVirtualTokens: o.NumVirtualTokens, PromptTuningInit: "RANDOM"}
	if len(o.InitIDs) > 0 {
		ac.PromptTuningInit, ac.PromptTuningInitText = "TEXT", o.InitText
	}
	a, err := newAdapter(cfg, ac)
	if err != nil {
		return nil, err
	}
	if len(o.InitIDs) == 0 {
		rng := newAdapterRNG(seed)
		for i := range a.Params.Data {
			a.Params.Data[i] = float32(rng.NormFloat64())
		}
		return a, nil
	}
	C, wte := cfg.NEmbd, base.Tensor("wte.weight")
	for s := 0; s < o.NumVirtualTokens; s++ {
		id := o.InitIDs[s%len(o.InitIDs)]
		if id < 0 || id >= cfg.VocabSize {
			return nil, fmt.Errorf("prompt init: token id %d outside [0, %d)", id, cfg.VocabSize)
		}
		copy(a.Params.Data[s*C:(s+1)*C], wte[id*C:(id+1)*C])
	}
	return a, nil
}

// newAdapter checks ac against cfg and allocates its zeroed store.
func newAdapter(cfg *Config, ac AdapterConfig) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ac.TaskType = "CAUSAL_LM"
	layout, err := adapterLayout(cfg, &ac)
	if err != nil {
		return nil, err
	}
	return &Adapter{Config: ac, Params: newStore(layout)}, nil
}

// adapterLayout is the one sizes function of an adapter store: its tensors
// in order (LoRA: per layer, per module in loraModules order, A then B).
func adapterLayout(cfg *Config, ac *AdapterConfig) ([]ParamInfo, error) {
	C, L := cfg.NEmbd, cfg.NLayer
	var out []ParamInfo
	off := 0
	add := func(name string, shape ...int) {
		out = append(out, ParamInfo{Name: name, Shape: shape, Offset: off, Size: shape[0] * shape[1]})
		off += shape[0] * shape[1]
	}
	switch ac.PeftType {
	case LoRA:
		targets, err := loraTargets(ac)
		if err != nil {
			return nil, err
		}
		for l := 0; l < L; l++ {
			for _, m := range loraModules {
				if targets[m.name] {
					add(loraName(l, m.name, "A"), ac.R, m.in*C)
					add(loraName(l, m.name, "B"), m.out*C, ac.R)
				}
			}
		}
	case Prefix, Prompt:
		P := ac.NumVirtualTokens
		if P <= 0 || P >= cfg.NPositions {
			return nil, fmt.Errorf("adapter: num_virtual_tokens must be in [1, n_positions = %d), got %d", cfg.NPositions, P)
		}
		if ac.PeftType == Prefix {
			add(promptEmbeddings, P, 2*L*C)
		} else {
			add(promptEmbeddings, P, C)
		}
	default:
		return nil, fmt.Errorf("adapter: peft_type %q is not one of %s, %s, %s", ac.PeftType, LoRA, Prefix, Prompt)
	}
	return out, nil
}

// loraTargets validates the LoRA fields and resolves target_modules to the
// set of loraModules names.
func loraTargets(ac *AdapterConfig) (map[string]bool, error) {
	switch {
	case ac.R <= 0:
		return nil, fmt.Errorf("lora: r must be > 0, got %d", ac.R)
	case !(ac.LoraAlpha > 0):
		return nil, fmt.Errorf("lora: lora_alpha must be > 0, got %v", ac.LoraAlpha)
	case ac.LoraDropout != 0:
		return nil, fmt.Errorf("lora: lora_dropout %v is not supported (only 0: the graph has no dropout)", ac.LoraDropout)
	case len(ac.TargetModules) == 0:
		return nil, fmt.Errorf("lora: target_modules is empty")
	}
	targets := map[string]bool{}
	for _, t := range ac.TargetModules {
		n := 0
		for _, m := range loraModules {
			if m.name == t || strings.HasSuffix(m.name, "."+t) {
				targets[m.name] = true
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("lora: target module %q is not one of attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj (or c_attn, c_proj, c_fc)", t)
		}
	}
	return targets, nil
}

// promptEmbeddings is PEFT's name of the prefix and prompt tensor.
const promptEmbeddings = "prompt_embeddings"

// loraName is PEFT's key of layer l's module's lora_A or lora_B ("A", "B").
func loraName(l int, module, ab string) string {
	return fmt.Sprintf("base_model.model.transformer.h.%d.%s.lora_%s.weight", l, module, ab)
}

// newStore allocates zeroed Data and Grad slabs for layout.
func newStore(layout []ParamInfo) *Params {
	last := layout[len(layout)-1]
	n := last.Offset + last.Size
	p := &Params{Layout: layout, Data: make([]float32, n), Grad: make([]float32, n), index: make(map[string]int, len(layout))}
	for i, info := range layout {
		p.index[info.Name] = i
	}
	return p
}

func newAdapterRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x4c6f5241)) }

// Virtual is the number of virtual positions before every sequence: P for
// prefix and prompt tuning, 0 for LoRA. A model's real length T must keep
// P+T <= n_positions.
func (a *Adapter) Virtual() int {
	if a.Config.PeftType == LoRA {
		return 0
	}
	return a.Config.NumVirtualTokens
}

// Scale is LoRA's alpha/r (0 for the other methods).
func (a *Adapter) Scale() float64 {
	if a.Config.PeftType != LoRA {
		return 0
	}
	return a.Config.LoraAlpha / float64(a.Config.R)
}

// Counts returns the trainable parameters (the adapter's) and all the
// parameters of the adapted model (base + adapter), as PEFT's
// print_trainable_parameters counts them.
func (a *Adapter) Counts(cfg *Config) (trainable, all int) {
	return len(a.Params.Data), NumParams(cfg) + len(a.Params.Data)
}

// TrainableFraction is trainable / all of Counts.
func (a *Adapter) TrainableFraction(cfg *Config) float64 {
	t, all := a.Counts(cfg)
	return float64(t) / float64(all)
}

// check reports whether the adapter fits cfg: its layout must be the one
// cfg and its config give.
func (a *Adapter) check(cfg *Config) error {
	want, err := adapterLayout(cfg, &a.Config)
	if err != nil {
		return err
	}
	if len(want) != len(a.Params.Layout) {
		return fmt.Errorf("adapter: %d tensors, the model config wants %d", len(a.Params.Layout), len(want))
	}
	for i, info := range want {
		if got := a.Params.Layout[i]; got.Name != info.Name || !slices.Equal(got.Shape, info.Shape) {
			return fmt.Errorf("adapter: %s %v where the model config wants %s %v", got.Name, got.Shape, info.Name, info.Shape)
		}
	}
	return nil
}
