package graphs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// ParamInfo names one tensor of the store: its GPT-2 name, shape and where
// its values sit in the slab.
type ParamInfo struct {
	Name   string
	Shape  []int
	Offset int // first element in Params.Data / Params.Grad
	Size   int // product of Shape
}

// Decay reports whether AdamW should apply weight decay to this tensor:
// matrices and embeddings (rank >= 2) decay, biases and LayerNorm gains
// (rank 1) do not (nanoGPT's rule).
func (p ParamInfo) Decay() bool { return len(p.Shape) >= 2 }

// ParamLayout lists every tensor of a model with cfg in the canonical order
// (Hugging Face GPT-2's): wte, wpe, per layer ln_1, attn.c_attn, attn.c_proj,
// ln_2, mlp.c_fc, mlp.c_proj, then ln_f and, when untied, lm_head. It is the
// one sizes function: the slab, checkpoints and the optimizer all use it.
func ParamLayout(cfg *Config) []ParamInfo {
	V, T, C := cfg.VocabSize, cfg.NPositions, cfg.NEmbd
	var out []ParamInfo
	off := 0
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		out = append(out, ParamInfo{Name: name, Shape: shape, Offset: off, Size: n})
		off += n
	}
	add("wte.weight", V, C)
	add("wpe.weight", T, C)
	for i := 0; i < cfg.NLayer; i++ {
		p := fmt.Sprintf("h.%d.", i)
		add(p+"ln_1.weight", C)
		add(p+"ln_1.bias", C)
		add(p+"attn.c_attn.weight", C, 3*C)
		add(p+"attn.c_attn.bias", 3*C)
		add(p+"attn.c_proj.weight", C, C)
		add(p+"attn.c_proj.bias", C)
		add(p+"ln_2.weight", C)
		add(p+"ln_2.bias", C)
		add(p+"mlp.c_fc.weight", C, 4*C)
		add(p+"mlp.c_fc.bias", 4*C)
		add(p+"mlp.c_proj.weight", 4*C, C)
		add(p+"mlp.c_proj.bias", C)
	}
	add("ln_f.weight", C)
	add("ln_f.bias", C)
	if !cfg.TieWordEmbeddings {
		add("lm_head.weight", V, C)
	}
	return out
}

// Params is the parameter store: all weights in one flat slab, and a
// gradient slab of the same layout. Views returned by Tensor and GradOf alias
// the slabs, so an optimizer updating Data in place updates every graph
// bound to this store.
type Params struct {
	Layout []ParamInfo
	Data   []float32
	Grad   []float32
	index  map[string]int
	nLayer int
}

// NewParams allocates zeroed slabs for cfg.
func NewParams(cfg *Config) *Params {
	layout := ParamLayout(cfg)
	last := layout[len(layout)-1]
	n := last.Offset + last.Size
	p := &Params{Layout: layout, Data: make([]float32, n), Grad: make([]float32, n), index: make(map[string]int, len(layout)), nLayer: cfg.NLayer}
	for i, info := range layout {
		p.index[info.Name] = i
	}
	return p
}

// Info returns the layout entry for name.
func (p *Params) Info(name string) (ParamInfo, bool) {
	i, ok := p.index[name]
	if !ok {
		return ParamInfo{}, false
	}
	return p.Layout[i], true
}

// Tensor returns the values of name as a view of the slab; it panics on an
// unknown name (a programmer error: names come from ParamLayout).
func (p *Params) Tensor(name string) []float32 {
	info := p.mustInfo(name)
	return p.Data[info.Offset : info.Offset+info.Size : info.Offset+info.Size]
}

// GradOf returns the gradient of name as a view of the gradient slab.
func (p *Params) GradOf(name string) []float32 {
	info := p.mustInfo(name)
	return p.Grad[info.Offset : info.Offset+info.Size : info.Offset+info.Size]
}

func (p *Params) mustInfo(name string) ParamInfo {
	info, ok := p.Info(name)
	if !ok {
		panic("graphs: unknown parameter " + name)
	}
	return info
}

// ZeroGrad sets the gradient slab to zero.
func (p *Params) ZeroGrad() { clear(p.Grad) }

// Init fills the store deterministically from seed, as GPT-2 initialises:
// every matrix and embedding ~ N(0, std), except the residual projections
// (attn.c_proj, mlp.c_proj) ~ N(0, std/sqrt(2*n_layer), nanoGPT's choice) so the residual
// stream's variance does not grow with depth; biases 0, LayerNorm gains 1.
// Tensors are drawn in layout order from one PCG stream, so the same
// (config, seed, std) gives the same bytes.
func (p *Params) Init(seed uint64, std float64) {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	projStd := std / math.Sqrt(2*float64(p.nLayer))
	for _, info := range p.Layout {
		v := p.Data[info.Offset : info.Offset+info.Size]
		switch {
		case len(info.Shape) == 1 && strings.HasSuffix(info.Name, ".weight"):
			for i := range v {
				v[i] = 1
			}
		case len(info.Shape) == 1:
			clear(v)
		default:
			s := std
			if strings.HasSuffix(info.Name, "c_proj.weight") {
				s = projStd
			}
			for i := range v {
				v[i] = float32(rng.NormFloat64() * s)
			}
		}
	}
}

// NumParams is the closed-form parameter count of cfg:
// V*C + T*C + L*(12*C*C + 13*C) + 2*C, plus V*C when untied.
func NumParams(cfg *Config) int {
	V, T, C, L := cfg.VocabSize, cfg.NPositions, cfg.NEmbd, cfg.NLayer
	n := V*C + T*C + L*(12*C*C+13*C) + 2*C
	if !cfg.TieWordEmbeddings {
		n += V * C
	}
	return n
}
