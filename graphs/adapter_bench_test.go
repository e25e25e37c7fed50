package graphs

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"pipeline/optim"
)

// adapterBench is one adapter training step on the bench config (as
// trainBench, with the base frozen): forward, backward to the adapter,
// clipping and AdamW over the adapter's slab only.
type adapterBench struct {
	m            *Model
	a            *Adapter
	opt          *optim.AdamW
	ids, targets []int
	weights      []float32
}

func newAdapterBench(tb testing.TB, method AdapterMethod) *adapterBench {
	cfg := NewConfig(512, 64, 128, 4, 4)
	p := NewParams(cfg)
	p.Init(0, 0.02)
	var a *Adapter
	var err error
	switch method {
	case LoRA:
		a, err = NewLoRA(cfg, LoRAOptions{R: 8, Alpha: 16, TargetModules: allModules}, 1)
	case Prefix:
		a, err = NewPrefix(cfg, 8, 1)
	default:
		a, err = NewPrompt(cfg, p, PromptOptions{NumVirtualTokens: 8}, 1)
	}
	if err != nil {
		tb.Fatal(err)
	}
	B, T := 8, cfg.NPositions-a.Virtual()
	m, err := NewModelWith(cfg, p, B, T, ModelOptions{Train: true, Adapter: a})
	if err != nil {
		tb.Fatal(err)
	}
	specs := make([]optim.Spec, len(a.Params.Layout))
	for i, info := range a.Params.Layout {
		specs[i] = optim.Spec(info)
	}
	opt, err := optim.NewAdamW(specs, optim.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	if err != nil {
		tb.Fatal(err)
	}
	s := &adapterBench{m: m, a: a, opt: opt, ids: make([]int, B*T), targets: make([]int, B*T), weights: make([]float32, B*T)}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range s.ids {
		s.ids[i], s.targets[i], s.weights[i] = rng.IntN(512), rng.IntN(512), 1
	}
	return s
}

func (s *adapterBench) step(tb testing.TB) {
	if _, err := s.m.Step(s.ids, s.targets, s.weights, float32(len(s.ids))); err != nil {
		tb.Fatal(err)
	}
	optim.ClipGlobalNorm(s.a.Params.Grad, 1.0)
	if err := s.opt.Step(s.a.Params.Data, s.a.Params.Grad, 1e-3); err != nil {
		tb.Fatal(err)
	}
}

// TestAdapterStepAllocations: an adapter training step allocates less than
// one activation tensor, as a full one does (TestStepAllocations).
func TestAdapterStepAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("bench-sized model")
	}
	for _, method := range []AdapterMethod{LoRA, Prefix, Prompt} {
		s := newAdapterBench(t, method)
		s.step(t)
		var before, after runtime.MemStats
		const runs = 3
		runtime.ReadMemStats(&before)
		for i := 0; i < runs; i++ {
			s.step(t)
		}
		runtime.ReadMemStats(&after)
		s.m.Close()
		perStep := (after.TotalAlloc - before.TotalAlloc) / runs
		t.Logf("%s: %d B and %d allocations per step", method, perStep, (after.Mallocs-before.Mallocs)/runs)
		if limit := uint64(8 * 64 * 128 * 4); perStep >= limit {
			t.Errorf("%s: a step allocates %d B, at least one [B*T, C] tensor (%d B)", method, perStep, limit)
		}
	}
}

// BenchmarkAdapterTrainStep reports tokens/s of adapter training steps on
// the bench config (compare BenchmarkTrainStep: the frozen base skips its
// weight gradients).
func BenchmarkAdapterTrainStep(b *testing.B) {
	for _, method := range []AdapterMethod{LoRA, Prefix, Prompt} {
		b.Run(string(method), func(b *testing.B) {
			s := newAdapterBench(b, method)
			defer s.m.Close()
			for i := 0; i < 3; i++ {
				s.step(b)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.step(b)
			}
			b.ReportMetric(float64(len(s.ids))*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
