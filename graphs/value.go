package graphs

import (
	"fmt"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ValueModel is PPO's critic: a reward model (a store laid out by RewardLayout) whose scalar head is
// read at every position instead of the last, one value per token,
//
//	V[b, t] = score.weight · h[b*T + t],  h = gptHidden(ids) [B*T, C]
//
// built as ScoreHead over B*T rows of one position each (T = 1, every position read 0). At position
// t the value sees the tokens up to t, so it is what the reward model would score if the sequence
// ended there: started from the reward model, V[b, last[b]] equals RewardModel's score of row b. This
// is how TRL's PPOTrainer starts its value model from the reward model.
//
// A training model adds the scalar WeightedSum(V, coef), so that a loss L(V) computed outside the graph
// (losses.ValueClip) is back-propagated by Step with coef = dL/dV, leaving dL/dparams in Params.Grad.
type ValueModel struct {
	Cfg    *Config
	Params *Params
	B, T   int

	g      *gorgonia.ExprGraph
	vm     gorgonia.VM
	ids    []int
	coef   []float64      // [B*T]: dL/dV, refilled by Step
	nodes  gorgonia.Nodes // parameter nodes in Params.Layout order
	grads  gorgonia.Nodes // their gradients (training models only)
	values *gorgonia.Node // [B*T]
}

// NewValueModel builds the graph for B rows of T <= n_positions tokens; with train, the backward pass.
func NewValueModel(cfg *Config, p *Params, B, T int, train bool) (*ValueModel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if B <= 0 || T <= 0 || T > cfg.NPositions {
		return nil, fmt.Errorf("value model: %d rows of %d tokens invalid for n_positions %d", B, T, cfg.NPositions)
	}
	if info, ok := p.Info(ScoreWeight); !ok || len(p.Layout) != len(RewardLayout(cfg)) || info.Size != cfg.NEmbd {
		return nil, fmt.Errorf("value model: the store is not laid out by RewardLayout (use LoadReward or RewardParamsFrom)")
	}
	m := &ValueModel{Cfg: cfg, Params: p, B: B, T: T, g: gorgonia.NewGraph(), ids: make([]int, B*T), coef: make([]float64, B*T)}
	byName := make(map[string]*gorgonia.Node, len(p.Layout))
	for _, info := range p.Layout {
		v := tensor.New(tensor.WithShape(info.Shape...), tensor.WithBacking(p.Tensor(info.Name)))
		n := gorgonia.NewTensor(m.g, tensor.Float32, len(info.Shape), gorgonia.WithShape(info.Shape...),
			gorgonia.WithName(info.Name), gorgonia.WithValue(v))
		m.nodes = append(m.nodes, n)
		byName[info.Name] = n
	}
	h, err := gptHidden(cfg, func(name string) *gorgonia.Node { return byName[name] }, m.ids, B, T) // [B*T, C]
	if err != nil {
		return nil, err
	}
	if m.values, err = ScoreHead(h, byName[ScoreWeight], make([]int, B*T), 1); err != nil { // [B*T]
		return nil, err
	}
	if train {
		s, err := WeightedSum(m.values, m.coef) // scalar
		if err != nil {
			return nil, err
		}
		if m.grads, err = gorgonia.Grad(s, m.nodes...); err != nil {
			return nil, err
		}
	}
	m.vm = gorgonia.NewTapeMachine(m.g)
	return m, nil
}

// run checks and copies ids [B*T] (row-major) into the graph and runs it.
func (m *ValueModel) run(ids []int) error {
	if len(ids) != m.B*m.T {
		return fmt.Errorf("value model: %d ids, want B*T = %d", len(ids), m.B*m.T)
	}
	for i, id := range ids {
		if id < 0 || id >= m.Cfg.VocabSize {
			return fmt.Errorf("value model: id %d at position %d outside [0, %d)", id, i, m.Cfg.VocabSize)
		}
	}
	copy(m.ids, ids)
	m.vm.Reset()
	return m.vm.RunAll()
}

// Values returns V [B*T] of ids, row-major [B, T]. The slice is reused by the next run: copy to keep it.
func (m *ValueModel) Values(ids []int) ([]float32, error) {
	if err := m.run(ids); err != nil {
		return nil, err
	}
	return m.values.Value().Data().([]float32), nil
}

// Step runs forward and backward on ids and writes dL/dparams = Σ_i dValues[i] · dV_i/dparams into
// Params.Grad (overwriting it), where dValues [B*T] = dL/dV of a loss computed outside the graph.
func (m *ValueModel) Step(ids []int, dValues []float64) error {
	if m.grads == nil {
		return fmt.Errorf("value model: Step on a model built without train")
	}
	if len(dValues) != len(m.coef) {
		return fmt.Errorf("value model: %d gradients, want B*T = %d", len(dValues), len(m.coef))
	}
	copy(m.coef, dValues)
	if err := m.run(ids); err != nil {
		return err
	}
	for i, info := range m.Params.Layout {
		copy(m.Params.Grad[info.Offset:info.Offset+info.Size], m.grads[i].Value().Data().([]float32))
	}
	return nil
}

// Close releases the tape machine.
func (m *ValueModel) Close() error { return m.vm.Close() }
