package graphs

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Model is the GPT built as a Gorgonia graph for one fixed batch shape
// [B, T], bound to a parameter store that outlives it. A training model also
// holds the symbolic gradients; Step runs forward and backward and leaves
// d loss / d params in Params.Grad.
//
// Inputs are refilled in place on every run (ids, targets, weights, norm);
// every op owns its output buffer, so a run allocates no tensors.
type Model struct {
	Cfg    *Config
	Params *Params
	B, T   int

	g      *gorgonia.ExprGraph
	vm     gorgonia.VM
	ids    []int
	tg     Targets
	nodes  gorgonia.Nodes // parameter nodes in Params.Layout order
	grads  gorgonia.Nodes // their gradients (training models only)
	logits *gorgonia.Node // [B*T, V]
	loss   *gorgonia.Node // scalar
}

// NewModel builds the graph for batches of B sequences of T <= n_positions
// tokens. With train it adds the backward pass.
func NewModel(cfg *Config, p *Params, B, T int, train bool) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if B <= 0 || T <= 0 || T > cfg.NPositions {
		return nil, fmt.Errorf("model: batch shape [%d %d] invalid for n_positions %d", B, T, cfg.NPositions)
	}
	m := &Model{Cfg: cfg, Params: p, B: B, T: T, g: gorgonia.NewGraph(), ids: make([]int, B*T),
		tg: Targets{IDs: make([]int, B*T), Weights: make([]float32, B*T), Norm: 1}}
	byName := make(map[string]*gorgonia.Node, len(p.Layout))
	for _, info := range p.Layout {
		v := tensor.New(tensor.WithShape(info.Shape...), tensor.WithBacking(p.Tensor(info.Name)))
		n := gorgonia.NewTensor(m.g, tensor.Float32, len(info.Shape), gorgonia.WithShape(info.Shape...),
			gorgonia.WithName(info.Name), gorgonia.WithValue(v))
		m.nodes = append(m.nodes, n)
		byName[info.Name] = n
	}
	var err error
	if m.logits, err = gptForward(cfg, func(name string) *gorgonia.Node { return byName[name] }, m.ids, B, T); err != nil {
		return nil, err
	}
	if m.loss, err = SoftmaxCrossEntropy(m.logits, &m.tg); err != nil {
		return nil, err
	}
	if train {
		if m.grads, err = gorgonia.Grad(m.loss, m.nodes...); err != nil {
			return nil, err
		}
	}
	m.vm = gorgonia.NewTapeMachine(m.g)
	return m, nil
}

// gptForward wires the decoder: gptHidden, then the LM head. w returns the
// node of a parameter by its GPT-2 name. Returns logits [B*T, V].
func gptForward(cfg *Config, w func(string) *gorgonia.Node, ids []int, B, T int) (*gorgonia.Node, error) {
	x, err := gptHidden(cfg, w, ids, B, T) // [B*T, C]
	if err != nil {
		return nil, err
	}
	return lmHead(cfg, w, x)
}

// gptHidden is the decoder without its head: embeddings, cfg.NLayer blocks
// and the final LayerNorm. Returns the last hidden states [B*T, C], which the
// LM head, a reward head or a value head read.
func gptHidden(cfg *Config, w func(string) *gorgonia.Node, ids []int, B, T int) (*gorgonia.Node, error) {
	x, err := Embedding(w("wte.weight"), w("wpe.weight"), ids, B, T) // [B*T, C]
	if err != nil {
		return nil, err
	}
	for i := 0; i < cfg.NLayer; i++ {
		if x, err = block(cfg, w, fmt.Sprintf("h.%d.", i), x, B, T); err != nil {
			return nil, err
		}
	}
	return LayerNorm(x, w("ln_f.weight"), w("ln_f.bias"), cfg.LayerNormEpsilon) // [B*T, C]
}

// lmHead maps hidden states [B*T, C] to logits [B*T, V] through the token
// embedding (tied) or lm_head.weight (untied).
func lmHead(cfg *Config, w func(string) *gorgonia.Node, x *gorgonia.Node) (*gorgonia.Node, error) {
	head := w("wte.weight")
	if !cfg.TieWordEmbeddings {
		head = w("lm_head.weight")
	}
	return Linear(x, head, nil, nil, LinearOpts{WeightT: true}) // [B*T, V]
}

// block is one pre-LayerNorm transformer block on the residual stream x
// [B*T, C]:
//
//	x = x + attn(ln_1(x))
//	x = x + mlp(ln_2(x))
func block(cfg *Config, w func(string) *gorgonia.Node, p string, x *gorgonia.Node, B, T int) (*gorgonia.Node, error) {
	h, err := LayerNorm(x, w(p+"ln_1.weight"), w(p+"ln_1.bias"), cfg.LayerNormEpsilon)
	if err != nil {
		return nil, err
	}
	if x, err = attention(cfg, w, p+"attn.", h, x, B, T); err != nil {
		return nil, err
	}
	if h, err = LayerNorm(x, w(p+"ln_2.weight"), w(p+"ln_2.bias"), cfg.LayerNormEpsilon); err != nil {
		return nil, err
	}
	return mlp(w, p+"mlp.", h, x)
}

// attention returns res + c_proj(CausalAttention(c_attn(h))).
func attention(cfg *Config, w func(string) *gorgonia.Node, p string, h, res *gorgonia.Node, B, T int) (*gorgonia.Node, error) {
	qkv, err := Linear(h, w(p+"c_attn.weight"), w(p+"c_attn.bias"), nil, LinearOpts{}) // [B*T, 3C]
	if err != nil {
		return nil, err
	}
	y, err := CausalAttention(qkv, B, T, cfg.NHead) // [B*T, C]
	if err != nil {
		return nil, err
	}
	return Linear(y, w(p+"c_proj.weight"), w(p+"c_proj.bias"), res, LinearOpts{})
}

// mlp returns res + c_proj(gelu(c_fc(h))).
func mlp(w func(string) *gorgonia.Node, p string, h, res *gorgonia.Node) (*gorgonia.Node, error) {
	a, err := Linear(h, w(p+"c_fc.weight"), w(p+"c_fc.bias"), nil, LinearOpts{GELU: true}) // [B*T, 4C]
	if err != nil {
		return nil, err
	}
	return Linear(a, w(p+"c_proj.weight"), w(p+"c_proj.bias"), res, LinearOpts{}) // [B*T, C]
}

// setBatch checks and copies one batch into the graph's input buffers.
// targets and weights may be nil (forward only: every weight 0).
func (m *Model) setBatch(ids, targets []int, weights []float32, norm float32) error {
	n := m.B * m.T
	if len(ids) != n {
		return fmt.Errorf("model: %d ids, want B*T = %d", len(ids), n)
	}
	V := m.Cfg.VocabSize
	for i, id := range ids {
		if id < 0 || id >= V {
			return fmt.Errorf("model: id %d at position %d outside [0, %d)", id, i, V)
		}
	}
	if targets == nil && weights == nil {
		clear(m.tg.Weights)
		m.tg.Norm = 1
		copy(m.ids, ids)
		return nil
	}
	if len(targets) != n || len(weights) != n {
		return fmt.Errorf("model: %d targets and %d weights, want %d", len(targets), len(weights), n)
	}
	if !(norm > 0) {
		return fmt.Errorf("model: norm must be > 0, got %v", norm)
	}
	for i, y := range targets {
		if weights[i] != 0 && (y < 0 || y >= V) {
			return fmt.Errorf("model: target %d at position %d outside [0, %d)", y, i, V)
		}
	}
	copy(m.ids, ids)
	copy(m.tg.IDs, targets)
	copy(m.tg.Weights, weights)
	m.tg.Norm = float64(norm)
	return nil
}

func (m *Model) run() error {
	m.vm.Reset()
	return m.vm.RunAll()
}

// Step runs forward and backward on one batch (each [B*T], row-major [B,T])
// and writes d loss / d params into Params.Grad (overwriting it). The loss is
// sum_t weights_t * CE_t / norm (see Targets). Only for training models.
func (m *Model) Step(ids, targets []int, weights []float32, norm float32) (float32, error) {
	if m.grads == nil {
		return 0, fmt.Errorf("model: Step on a model built without train")
	}
	if err := m.setBatch(ids, targets, weights, norm); err != nil {
		return 0, err
	}
	if err := m.run(); err != nil {
		return 0, err
	}
	for i, info := range m.Params.Layout {
		copy(m.Params.Grad[info.Offset:info.Offset+info.Size], m.grads[i].Value().Data().([]float32))
	}
	return m.loss.Value().Data().(float32), nil
}

// Eval runs the forward pass and returns the loss (as Step) without touching
// Params.Grad; Logits then holds this batch's logits.
func (m *Model) Eval(ids, targets []int, weights []float32, norm float32) (float32, error) {
	if err := m.setBatch(ids, targets, weights, norm); err != nil {
		return 0, err
	}
	if err := m.run(); err != nil {
		return 0, err
	}
	return m.loss.Value().Data().(float32), nil
}

// Forward runs the model on ids [B*T] and returns the logits [B*T*V]
// (row-major [B,T,V]). The slice is reused by the next run: copy to keep it.
func (m *Model) Forward(ids []int) ([]float32, error) {
	if err := m.setBatch(ids, nil, nil, 1); err != nil {
		return nil, err
	}
	if err := m.run(); err != nil {
		return nil, err
	}
	return m.Logits(), nil
}

// Logits returns the logits [B*T*V] of the last run (reused by the next).
func (m *Model) Logits() []float32 { return m.logits.Value().Data().([]float32) }

// Close releases the tape machine.
func (m *Model) Close() error { return m.vm.Close() }
