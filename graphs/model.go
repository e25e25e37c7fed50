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
// With an adapter (ModelOptions.Adapter) the base Params are frozen: Step
// leaves d loss / d adapter in Adapter.Params.Grad and does not touch
// Params.Grad. Callers still pass and get [B, T] rows: the virtual positions
// of prefix and prompt tuning stay inside the graph.
//
// Inputs are refilled in place on every run (ids, targets, weights, norm);
// every op owns its output buffer, so a run allocates no tensors.
type Model struct {
	Cfg     *Config
	Params  *Params
	Adapter *Adapter // nil: the base model, trained in full
	B, T    int

	g       *gorgonia.ExprGraph
	vm      gorgonia.VM
	ids     []int
	tg      Targets
	trained *Params        // the store Step differentiates: Params, or Adapter.Params
	nodes   gorgonia.Nodes // trained's nodes in its layout order
	grads   gorgonia.Nodes // their gradients (training models only)
	gate    *LoRAGate      // LoRA adapters only
	logits  *gorgonia.Node // [B*T, V]
	loss    *gorgonia.Node // scalar
}

// ModelOptions configure NewModelWith.
type ModelOptions struct {
	// Train adds the backward pass.
	Train bool
	// Adapter, when set, is trained instead of the (frozen) base: LoRA
	// branches on its target modules, prefix keys and values in every
	// layer, or a prompt before every sequence. Prefix and prompt need
	// P+T <= n_positions.
	Adapter *Adapter
}

// NewModel builds the graph for batches of B sequences of T <= n_positions
// tokens. With train it adds the backward pass.
func NewModel(cfg *Config, p *Params, B, T int, train bool) (*Model, error) {
	return NewModelWith(cfg, p, B, T, ModelOptions{Train: train})
}

// NewModelWith is NewModel with options: an adapter trained beside the
// frozen base.
func NewModelWith(cfg *Config, p *Params, B, T int, o ModelOptions) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	P := 0
	if o.Adapter != nil {
		if err := o.Adapter.check(cfg); err != nil {
			return nil, err
		}
		P = o.Adapter.Virtual()
	}
	if B <= 0 || T <= 0 || P+T > cfg.NPositions {
		return nil, fmt.Errorf("model: batch shape [%d %d] after %d virtual positions invalid for n_positions %d", B, T, P, cfg.NPositions)
	}
	m := &Model{Cfg: cfg, Params: p, Adapter: o.Adapter, B: B, T: T, g: gorgonia.NewGraph(), ids: make([]int, B*T),
		tg: Targets{IDs: make([]int, B*T), Weights: make([]float32, B*T), Norm: 1}, trained: p}
	base, baseNodes := m.bind(p)
	m.nodes = baseNodes
	var ag *adapterGraph
	if o.Adapter != nil {
		var adNodes map[string]*gorgonia.Node
		adNodes, m.nodes = m.bind(o.Adapter.Params)
		ag = newAdapterGraph(o.Adapter, func(name string) *gorgonia.Node { return adNodes[name] })
		m.trained, m.gate = o.Adapter.Params, ag.gate
	}
	var err error
	if m.logits, err = gptForwardWith(cfg, func(name string) *gorgonia.Node { return base[name] }, m.ids, B, T, ag); err != nil {
		return nil, err
	}
	if m.loss, err = SoftmaxCrossEntropy(m.logits, &m.tg); err != nil {
		return nil, err
	}
	if o.Train {
		if m.grads, err = gorgonia.Grad(m.loss, m.nodes...); err != nil {
			return nil, err
		}
	}
	m.vm = gorgonia.NewTapeMachine(m.g)
	return m, nil
}

// bind makes a node for every tensor of s, its value a view of s's slab,
// and returns them by name and in layout order.
func (m *Model) bind(s *Params) (map[string]*gorgonia.Node, gorgonia.Nodes) {
	byName := make(map[string]*gorgonia.Node, len(s.Layout))
	var nodes gorgonia.Nodes
	for _, info := range s.Layout {
		v := tensor.New(tensor.WithShape(info.Shape...), tensor.WithBacking(s.Tensor(info.Name)))
		n := gorgonia.NewTensor(m.g, tensor.Float32, len(info.Shape), gorgonia.WithShape(info.Shape...),
			gorgonia.WithName(info.Name), gorgonia.WithValue(v))
		nodes = append(nodes, n)
		byName[info.Name] = n
	}
	return byName, nodes
}

// SetAdapterEnabled switches a LoRA adapter's branches on or off from the
// next run on, without rebuilding the graph: off, the model computes the
// base model bit for bit (DPO's reference: the same weights, no second
// copy) and Step gives the adapter zero gradients. Prefix and prompt
// adapters change the graph's shape and cannot be switched: use a second
// model over the same base Params without the adapter (it shares the
// weights; only activation buffers are duplicated).
func (m *Model) SetAdapterEnabled(on bool) error {
	if m.gate == nil {
		return fmt.Errorf("model: only a LoRA adapter can be switched off (this model has %v)", m.adapterMethod())
	}
	m.gate.Off = !on
	return nil
}

func (m *Model) adapterMethod() string {
	if m.Adapter == nil {
		return "no adapter"
	}
	return string(m.Adapter.Config.PeftType)
}

// gptForward wires the decoder: gptHidden, then the LM head. w returns the
// node of a parameter by its GPT-2 name. Returns logits [B*T, V].
func gptForward(cfg *Config, w func(string) *gorgonia.Node, ids []int, B, T int) (*gorgonia.Node, error) {
	return gptForwardWith(cfg, w, ids, B, T, nil)
}

// gptForwardWith is gptForward with an adapter (nil: none), the base then
// frozen.
func gptForwardWith(cfg *Config, w func(string) *gorgonia.Node, ids []int, B, T int, ag *adapterGraph) (*gorgonia.Node, error) {
	x, err := gptHiddenWith(cfg, w, ids, B, T, ag) // [B*T, C]
	if err != nil {
		return nil, err
	}
	return lmHeadWith(cfg, w, x, ag != nil)
}

// gptHidden is the decoder without its head: embeddings, cfg.NLayer blocks
// and the final LayerNorm. Returns the last hidden states [B*T, C], which the
// LM head, a reward head or a value head read.
func gptHidden(cfg *Config, w func(string) *gorgonia.Node, ids []int, B, T int) (*gorgonia.Node, error) {
	return gptHiddenWith(cfg, w, ids, B, T, nil)
}

// gptHiddenWith is gptHidden with an adapter (nil: none). The real tokens
// sit at positions P..P+T-1 after the adapter's P virtual ones. Prefix
// tuning adds no rows (its keys and values enter attention); prompt tuning
// runs S = P+T rows per sequence and drops the virtual ones after ln_f, so
// the result is [B*T, C] either way.
func gptHiddenWith(cfg *Config, w func(string) *gorgonia.Node, ids []int, B, T int, ag *adapterGraph) (*gorgonia.Node, error) {
	var x *gorgonia.Node
	var err error
	S := T // rows per sequence in the blocks
	switch {
	case ag == nil || ag.method == LoRA:
		x, err = Embedding(w("wte.weight"), w("wpe.weight"), ids, B, T) // [B*T, C]
	case ag.method == Prefix:
		x, err = VirtualEmbedding(w("wte.weight"), w("wpe.weight"), nil, ag.P, ids, B, T) // [B*T, C]
	default:
		S = ag.P + T
		x, err = VirtualEmbedding(w("wte.weight"), w("wpe.weight"), ag.node(promptEmbeddings), ag.P, ids, B, T) // [B*S, C]
	}
	if err != nil {
		return nil, err
	}
	for l := 0; l < cfg.NLayer; l++ {
		if x, err = block(cfg, w, l, x, B, S, ag); err != nil {
			return nil, err
		}
	}
	if x, err = LayerNorm(x, w("ln_f.weight"), w("ln_f.bias"), cfg.LayerNormEpsilon); err != nil {
		return nil, err
	}
	if S != T {
		return DropVirtual(x, B, ag.P, T) // [B*S, C] -> [B*T, C]
	}
	return x, nil
}

// lmHead maps hidden states [B*T, C] to logits [B*T, V] through the token
// embedding (tied) or lm_head.weight (untied).
func lmHead(cfg *Config, w func(string) *gorgonia.Node, x *gorgonia.Node) (*gorgonia.Node, error) {
	return lmHeadWith(cfg, w, x, false)
}

// lmHeadWith is lmHead, its weight frozen (no gradient computed) when
// frozen.
func lmHeadWith(cfg *Config, w func(string) *gorgonia.Node, x *gorgonia.Node, frozen bool) (*gorgonia.Node, error) {
	head := w("wte.weight")
	if !cfg.TieWordEmbeddings {
		head = w("lm_head.weight")
	}
	return Linear(x, head, nil, nil, LinearOpts{WeightT: true, Frozen: frozen}) // [B*T, V]
}

// block is transformer block l, pre-LayerNorm, on the residual stream x
// [B*T, C]:
//
//	x = x + attn(ln_1(x))
//	x = x + mlp(ln_2(x))
func block(cfg *Config, w func(string) *gorgonia.Node, l int, x *gorgonia.Node, B, T int, ag *adapterGraph) (*gorgonia.Node, error) {
	p := fmt.Sprintf("h.%d.", l)
	h, err := LayerNorm(x, w(p+"ln_1.weight"), w(p+"ln_1.bias"), cfg.LayerNormEpsilon)
	if err != nil {
		return nil, err
	}
	if x, err = attention(cfg, w, l, h, x, B, T, ag); err != nil {
		return nil, err
	}
	if h, err = LayerNorm(x, w(p+"ln_2.weight"), w(p+"ln_2.bias"), cfg.LayerNormEpsilon); err != nil {
		return nil, err
	}
	return mlp(w, l, h, x, ag)
}

// attention returns res + c_proj(attention(c_attn(h))); with prefix tuning
// the queries also attend the layer's learned keys and values.
func attention(cfg *Config, w func(string) *gorgonia.Node, l int, h, res *gorgonia.Node, B, T int, ag *adapterGraph) (*gorgonia.Node, error) {
	qkv, err := projection(w, l, "attn.c_attn", h, nil, LinearOpts{}, ag) // [B*T, 3C]
	if err != nil {
		return nil, err
	}
	var y *gorgonia.Node
	if ag != nil && ag.method == Prefix {
		y, err = PrefixAttention(qkv, ag.node(promptEmbeddings), l, B, T, cfg.NHead) // [B*T, C]
	} else {
		y, err = CausalAttention(qkv, B, T, cfg.NHead) // [B*T, C]
	}
	if err != nil {
		return nil, err
	}
	return projection(w, l, "attn.c_proj", y, res, LinearOpts{}, ag)
}

// mlp returns res + c_proj(gelu(c_fc(h))).
func mlp(w func(string) *gorgonia.Node, l int, h, res *gorgonia.Node, ag *adapterGraph) (*gorgonia.Node, error) {
	a, err := projection(w, l, "mlp.c_fc", h, nil, LinearOpts{GELU: true}, ag) // [B*T, 4C]
	if err != nil {
		return nil, err
	}
	return projection(w, l, "mlp.c_proj", a, res, LinearOpts{}, ag) // [B*T, C]
}

// projection is layer l's linear module (e.g. "attn.c_attn") on x, plus
// res: a plain Linear, frozen under an adapter, with a LoRA branch when the
// adapter adapts this module.
func projection(w func(string) *gorgonia.Node, l int, module string, x, res *gorgonia.Node, o LinearOpts, ag *adapterGraph) (*gorgonia.Node, error) {
	p := fmt.Sprintf("h.%d.%s.", l, module)
	if ag == nil {
		return Linear(x, w(p+"weight"), w(p+"bias"), res, o)
	}
	o.Frozen = true
	if a, b := ag.lora(l, module); a != nil {
		return LinearLoRA(x, w(p+"weight"), w(p+"bias"), res, a, b, ag.gate, o)
	}
	return Linear(x, w(p+"weight"), w(p+"bias"), res, o)
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
// and writes d loss / d params into Params.Grad, or with an adapter d loss /
// d adapter into Adapter.Params.Grad (overwriting it). The loss is
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
	for i, info := range m.trained.Layout {
		copy(m.trained.Grad[info.Offset:info.Offset+info.Size], m.grads[i].Value().Data().([]float32))
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
