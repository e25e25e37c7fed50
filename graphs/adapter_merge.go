package graphs

import (
	"fmt"
	"slices"
)

// MergeLoRA returns a new store holding base with the LoRA adapter folded
// into its weights, for every adapted module of every layer (W [in, out] as
// GPT-2's Conv1D stores it; A [r, in], B [out, r] as PEFT does):
//
//	W' = W + s * (B @ A)^T = W + s * A^T @ B^T,   s = alpha/r
//
// The merged model computes what the adapted one does (to float32
// rounding); it is what `merge: true` saves and what the decoder runs. base
// is not changed.
func MergeLoRA(cfg *Config, base *Params, a *Adapter) (*Params, error) {
	if a.Config.PeftType != LoRA {
		return nil, fmt.Errorf("merge: a %s adapter has no weights to merge", a.Config.PeftType)
	}
	if err := a.check(cfg); err != nil {
		return nil, err
	}
	if err := checkBase(cfg, base); err != nil {
		return nil, err
	}
	targets, err := loraTargets(&a.Config)
	if err != nil {
		return nil, err
	}
	out := NewParams(cfg)
	copy(out.Data, base.Data)
	s, r := float32(a.Scale()), a.Config.R
	for l := 0; l < cfg.NLayer; l++ {
		for _, m := range loraModules {
			if !targets[m.name] {
				continue
			}
			A, B := a.Params.Tensor(loraName(l, m.name, "A")), a.Params.Tensor(loraName(l, m.name, "B"))
			w := out.Tensor(fmt.Sprintf("h.%d.%s.weight", l, m.name))
			gemm(true, true, m.in*cfg.NEmbd, m.out*cfg.NEmbd, r, s, A, B, 1, w) // [r,in]^T @ [out,r]^T
		}
	}
	return out, nil
}

// checkBase reports whether p has cfg's layout.
func checkBase(cfg *Config, p *Params) error {
	want := ParamLayout(cfg)
	if len(p.Layout) != len(want) {
		return fmt.Errorf("params have %d tensors, config %d", len(p.Layout), len(want))
	}
	for i, info := range want {
		if got := p.Layout[i]; got.Name != info.Name || !slices.Equal(got.Shape, info.Shape) {
			return fmt.Errorf("params hold %s %v where the config wants %s %v", got.Name, got.Shape, info.Name, info.Shape)
		}
	}
	return nil
}
