package graphs

import (
	"flag"
	"math/rand/v2"
	"testing"

	"pipeline/optim"
)

// Sizes of BenchmarkTrainStep; scripts/bench-train.sh passes them with
// -args. The defaults are the bench config.
var (
	benchVocab  = flag.Int("gpt.vocab", 512, "benchmark vocabulary size")
	benchCtx    = flag.Int("gpt.ctx", 64, "benchmark context length (T)")
	benchD      = flag.Int("gpt.d", 128, "benchmark n_embd")
	benchLayers = flag.Int("gpt.layers", 4, "benchmark n_layer")
	benchHeads  = flag.Int("gpt.heads", 4, "benchmark n_head")
	benchBatch  = flag.Int("gpt.batch", 8, "benchmark batch size (B)")
)

// trainBench is one training step as gpt2_ref.py bench runs it: forward,
// backward, global-norm clipping to 1.0 and AdamW (lr 3e-4, decay 0.1).
type trainBench struct {
	m            *Model
	opt          *optim.AdamW
	ids, targets [][]int
	weights      []float32
	norm         float32
	B, T         int
}

func newTrainBench(tb testing.TB, V, T, D, L, H, B, batches int) *trainBench {
	cfg := NewConfig(V, T, D, L, H)
	p := NewParams(cfg)
	p.Init(0, 0.02)
	m, err := NewModel(cfg, p, B, T, true)
	if err != nil {
		tb.Fatal(err)
	}
	specs := make([]optim.Spec, len(p.Layout))
	for i, info := range p.Layout {
		specs[i] = optim.Spec(info)
	}
	opt, err := optim.NewAdamW(specs, optim.AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1, DecayEmbeddings: true})
	if err != nil {
		tb.Fatal(err)
	}
	s := &trainBench{m: m, opt: opt, weights: make([]float32, B*T), norm: float32(B * T), B: B, T: T}
	for i := range s.weights {
		s.weights[i] = 1
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for k := 0; k < batches; k++ {
		row := make([]int, B*(T+1))
		for i := range row {
			row[i] = rng.IntN(V)
		}
		ids, targets := make([]int, 0, B*T), make([]int, 0, B*T)
		for b := 0; b < B; b++ {
			ids = append(ids, row[b*(T+1):b*(T+1)+T]...)
			targets = append(targets, row[b*(T+1)+1:(b+1)*(T+1)]...)
		}
		s.ids, s.targets = append(s.ids, ids), append(s.targets, targets)
	}
	return s
}

func (s *trainBench) step(tb testing.TB, i int) float32 {
	k := i % len(s.ids)
	loss, err := s.m.Step(s.ids[k], s.targets[k], s.weights, s.norm)
	if err != nil {
		tb.Fatal(err)
	}
	optim.ClipGlobalNorm(s.m.Params.Grad, 1.0)
	if err := s.opt.Step(s.m.Params.Data, s.m.Params.Grad, 3e-4); err != nil {
		tb.Fatal(err)
	}
	return loss
}

// BenchmarkTrainStep reports tokens/s of full training steps (the same
// work as gpt2_ref.py bench) at the sizes given by the -gpt.* flags.
func BenchmarkTrainStep(b *testing.B) {
	s := newTrainBench(b, *benchVocab, *benchCtx, *benchD, *benchLayers, *benchHeads, *benchBatch, 16)
	defer s.m.Close()
	for i := 0; i < 3; i++ { // warm-up, as the reference
		s.step(b, i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.step(b, i)
	}
	b.ReportMetric(float64(s.B*s.T)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
