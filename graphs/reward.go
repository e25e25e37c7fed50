package graphs

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"pipeline/losses"
)

// ScoreWeight is the reward head's tensor, named as Hugging Face's GPT2ForSequenceClassification
// names it: score = Linear(n_embd, num_labels = 1, bias=False), weight [1, C].
const ScoreWeight = "score.weight"

// RewardLayout lists the tensors of a reward model: the decoder's (ParamLayout without lm_head.weight,
// which a sequence classifier does not have) followed by score.weight [1, C]. Since lm_head.weight is
// last in ParamLayout, every decoder tensor keeps its offset.
func RewardLayout(cfg *Config) []ParamInfo {
	var out []ParamInfo
	for _, info := range ParamLayout(cfg) {
		if info.Name != "lm_head.weight" {
			out = append(out, info)
		}
	}
	last := out[len(out)-1]
	return append(out, ParamInfo{Name: ScoreWeight, Shape: []int{1, cfg.NEmbd}, Offset: last.Offset + last.Size, Size: cfg.NEmbd})
}

// NewRewardParams allocates zeroed slabs laid out by RewardLayout: one store holds every tensor the
// reward model trains, so the optimiser, the training loop and step checkpoints see one slab.
func NewRewardParams(cfg *Config) *Params {
	layout := RewardLayout(cfg)
	last := layout[len(layout)-1]
	n := last.Offset + last.Size
	p := &Params{Layout: layout, Data: make([]float32, n), Grad: make([]float32, n), index: make(map[string]int, len(layout)), nLayer: cfg.NLayer}
	for i, info := range layout {
		p.index[info.Name] = i
	}
	return p
}

// RewardParamsFrom starts a reward model from a language model's store: every decoder tensor copied
// from base, score.weight ~ N(0, std) drawn from a PCG stream of seed. Hugging Face initialises the
// head of GPT2ForSequenceClassification with N(0, initializer_range), 0.02 by default.
func RewardParamsFrom(cfg *Config, base *Params, seed uint64, std float64) (*Params, error) {
	p := NewRewardParams(cfg)
	for _, info := range p.Layout[:len(p.Layout)-1] {
		b, ok := base.Info(info.Name)
		if !ok || b.Size != info.Size {
			return nil, fmt.Errorf("reward model: the base model has no tensor %s of %v", info.Name, info.Shape)
		}
		copy(p.Tensor(info.Name), base.Tensor(info.Name))
	}
	rng := rand.New(rand.NewPCG(seed, 0x5c0e5c0e5c0e5c0e))
	for i, w := 0, p.Tensor(ScoreWeight); i < len(w); i++ {
		w[i] = float32(rng.NormFloat64() * std)
	}
	return p, nil
}

// RewardModel is the GPT with a scalar head as a Gorgonia graph for R rows of T tokens, bound to a
// store laid out by RewardLayout:
//
//	r(x, y) = score.weight · h[last],  h = gptHidden(x ++ y) [R*T, C]
//
// read at each row's last real token. A training model has an even number of rows, pairs laid out as
// textdata.PairBatch lays them out (chosen rows, then rejected rows), and adds the Bradley-Terry loss
// (PairLoss) and its backward pass; Step leaves d loss / d params in Params.Grad.
//
// Inputs are refilled in place on every run (ids, last), so a run allocates no tensors.
type RewardModel struct {
	Cfg    *Config
	Params *Params
	R, T   int

	g       *gorgonia.ExprGraph
	vm      gorgonia.VM
	ids     []int
	last    []int
	nodes   gorgonia.Nodes // parameter nodes in Params.Layout order
	grads   gorgonia.Nodes // their gradients (training models only)
	rewards *gorgonia.Node // [R]
	loss    *PairLossNode  // training models only
}

// NewRewardModel builds the graph for R rows of T <= n_positions tokens. With train it adds the pair
// loss with centering coefficient center and the backward pass; R must then be even.
func NewRewardModel(cfg *Config, p *Params, R, T int, train bool, center float64) (*RewardModel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if R <= 0 || T <= 0 || T > cfg.NPositions || (train && R%2 != 0) {
		return nil, fmt.Errorf("reward model: %d rows of %d tokens invalid for n_positions %d (training needs an even number of rows)", R, T, cfg.NPositions)
	}
	if info, ok := p.Info(ScoreWeight); !ok || len(p.Layout) != len(RewardLayout(cfg)) || info.Size != cfg.NEmbd {
		return nil, fmt.Errorf("reward model: the store is not laid out by RewardLayout (use NewRewardParams or RewardParamsFrom)")
	}
	m := &RewardModel{Cfg: cfg, Params: p, R: R, T: T, g: gorgonia.NewGraph(), ids: make([]int, R*T), last: make([]int, R)}
	byName := make(map[string]*gorgonia.Node, len(p.Layout))
	for _, info := range p.Layout {
		v := tensor.New(tensor.WithShape(info.Shape...), tensor.WithBacking(p.Tensor(info.Name)))
		n := gorgonia.NewTensor(m.g, tensor.Float32, len(info.Shape), gorgonia.WithShape(info.Shape...),
			gorgonia.WithName(info.Name), gorgonia.WithValue(v))
		m.nodes = append(m.nodes, n)
		byName[info.Name] = n
	}
	h, err := gptHidden(cfg, func(name string) *gorgonia.Node { return byName[name] }, m.ids, R, T) // [R*T, C]
	if err != nil {
		return nil, err
	}
	if m.rewards, err = ScoreHead(h, byName[ScoreWeight], m.last, T); err != nil { // [R]
		return nil, err
	}
	if train {
		if m.loss, err = PairLoss(m.rewards, center); err != nil {
			return nil, err
		}
		if m.grads, err = gorgonia.Grad(m.loss.Node, m.nodes...); err != nil {
			return nil, err
		}
	}
	m.vm = gorgonia.NewTapeMachine(m.g)
	return m, nil
}

// run checks and copies one batch (ids [R*T] row-major, last [R]) into the graph and runs it.
func (m *RewardModel) run(ids, last []int) error {
	if len(ids) != m.R*m.T || len(last) != m.R {
		return fmt.Errorf("reward model: %d ids and %d last positions, want %d and %d", len(ids), len(last), m.R*m.T, m.R)
	}
	for i, id := range ids {
		if id < 0 || id >= m.Cfg.VocabSize {
			return fmt.Errorf("reward model: id %d at position %d outside [0, %d)", id, i, m.Cfg.VocabSize)
		}
	}
	copy(m.ids, ids)
	copy(m.last, last)
	m.vm.Reset()
	return m.vm.RunAll()
}

// Score returns the reward of each row, read at position last[b] of row b. The slice is reused by the
// next run: copy to keep it.
func (m *RewardModel) Score(ids, last []int) ([]float32, error) {
	if err := m.run(ids, last); err != nil {
		return nil, err
	}
	return m.Rewards(), nil
}

// Step runs forward and backward on one batch of R/2 pairs and writes d loss / d params into
// Params.Grad (overwriting it). It returns the pair loss's metrics; Rewards then holds the rewards.
func (m *RewardModel) Step(ids, last []int) (losses.BTMetrics, error) {
	if m.grads == nil {
		return losses.BTMetrics{}, fmt.Errorf("reward model: Step on a model built without train")
	}
	if err := m.run(ids, last); err != nil {
		return losses.BTMetrics{}, err
	}
	for i, info := range m.Params.Layout {
		copy(m.Params.Grad[info.Offset:info.Offset+info.Size], m.grads[i].Value().Data().([]float32))
	}
	return m.loss.Metrics(), nil
}

// Rewards returns the rewards [R] of the last run (reused by the next).
func (m *RewardModel) Rewards() []float32 { return m.rewards.Value().Data().([]float32) }

// Close releases the tape machine.
func (m *RewardModel) Close() error { return m.vm.Close() }
