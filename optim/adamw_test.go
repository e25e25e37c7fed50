package optim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// torchSpecs is the layout of the PyTorch reference run: an embedding (no decay), a linear weight
// (decay) and a bias (no decay), 15 parameters in all.
var torchSpecs = []Spec{
	{Name: "wte.weight", Shape: []int{3, 2}, Offset: 0, Size: 6},
	{Name: "h.0.attn.c_attn.weight", Shape: []int{2, 3}, Offset: 6, Size: 6},
	{Name: "h.0.ln_1.bias", Shape: []int{3}, Offset: 12, Size: 3},
}

var torchConfig = AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}

// The reference run's inputs; Python computes the same doubles and rounds them to float32.
func torchP0(i int) float32      { return float32(float64((i*7)%11-5) / 9.0) }
func torchGrad(s, i int) float32 { return float32(float64((i*37+s*101)%1000-500) / 997.0) }
func torchLR(s int) float64      { return 1e-2 * float64(s+1) / 5 }

// Made with /usr/bin/python3, torch 1.13: the three tensors above as nn.Parameters filled from
// torchP0, torch.optim.AdamW([{wte, ln_1.bias, weight_decay: 0}, {c_attn, weight_decay: 0.1}],
// betas=(0.9, 0.95), eps=1e-8, foreach=False); step s (0-based) sets grads from torchGrad(s, i)
// and lr torchLR(s), then opt.step(). Values printed with str(np.float32(x)), which round-trips.
var (
	torchP1 = []float32{-0.5535556, 0.22422223, -0.22022222, 0.55755556, 0.11311111, -0.33133334, 0.44635558, 0.0019999999, -0.44235557, 0.33526668, -0.1090889, -0.5534445, 0.22422223, -0.22022222, 0.5535556}
	torchP6 = []float32{-0.51871276, 0.25790095, -0.18812309, 0.5874884, 0.14007533, -0.3083624, 0.4623351, 0.013452208, -0.43635926, 0.33034587, -0.120234445, -0.5705918, 0.19755268, -0.25249952, 0.5259334}
	torchM6 = []float32{-0.10182957, -0.08444071, -0.06705188, -0.04966303, -0.03227417, -0.014885327, 0.0025035199, 0.019892372, 0.03728122, 0.05467007, 0.072058916, 0.08944777, 0.10683662, 0.12422547, 0.04131341}
	torchV6 = []float32{0.022286475, 0.018067794, 0.014578803, 0.011819505, 0.009789896, 0.008489976, 0.007919748, 0.008079208, 0.008968359, 0.0105872005, 0.012935731, 0.016013952, 0.019821864, 0.024359463, 0.027312892}
)

// TestAdamWMatchesTorch runs the reference's six steps and wants PyTorch's parameters after the
// first and the sixth step and its moments after the sixth, bit for bit.
func TestAdamWMatchesTorch(t *testing.T) {
	o, err := NewAdamW(torchSpecs, torchConfig)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]float32, 15)
	g := make([]float32, 15)
	for i := range p {
		p[i] = torchP0(i)
	}
	for s := range 6 {
		for i := range g {
			g[i] = torchGrad(s, i)
		}
		if err := o.Step(p, g, torchLR(s)); err != nil {
			t.Fatal(err)
		}
		if s == 0 {
			sameBits(t, "params after step 1", p, torchP1)
		}
	}
	sameBits(t, "params after step 6", p, torchP6)
	sameBits(t, "exp_avg after step 6", o.m, torchM6)
	sameBits(t, "exp_avg_sq after step 6", o.v, torchV6)
	if o.Steps() != 6 {
		t.Errorf("Steps() = %d, want 6", o.Steps())
	}
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("%s [%d] = %.9g, want %.9g (relative error %.2g)", what, i, got[i], want[i],
				math.Abs(float64(got[i]-want[i])/float64(want[i])))
		}
	}
}

// TestAdamWFirstStep checks one hand-computed step. With m = v = 0 the first step gives
// mhat = g, vhat = g^2, so p moves by lr * g/(|g| + eps) ~ lr*sign(g) after the decay
// p*(1 - lr*lambda): for p = 1, g = 0.5, lr = 0.1, lambda = 0.5 on a matrix,
// p = 1*(1 - 0.05) - 0.1*0.5/(0.5 + 1e-8) = 0.95 - 0.1 = 0.85 (to float32); the bias is not decayed:
// 1 - 0.1 = 0.9.
func TestAdamWFirstStep(t *testing.T) {
	specs := []Spec{{Name: "w", Shape: []int{1, 1}, Offset: 0, Size: 1}, {Name: "b", Shape: []int{1}, Offset: 1, Size: 1}}
	o, err := NewAdamW(specs, AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	p := []float32{1, 1}
	if err := o.Step(p, []float32{0.5, 0.5}, 0.1); err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{0.85, 0.9} {
		if math.Abs(float64(p[i])-want) > 1e-7 {
			t.Errorf("p[%d] = %.9g, want %g", i, p[i], want)
		}
	}
}

func TestDecays(t *testing.T) {
	cases := []struct {
		name      string
		shape     []int
		embed     bool // DecayEmbeddings
		wantDecay bool
	}{
		{"h.0.attn.c_attn.weight", []int{4, 12}, false, true},
		{"lm_head.weight", []int{8, 4}, false, true},
		{"h.0.attn.c_attn.bias", []int{12}, false, false},
		{"h.0.ln_1.weight", []int{4}, false, false},
		{"h.0.ln_1.bias", []int{4}, true, false},
		{"wte.weight", []int{8, 4}, false, false},
		{"transformer.wpe.weight", []int{16, 4}, false, false},
		{"wte.weight", []int{8, 4}, true, true},
		{"transformer.wpe.weight", []int{16, 4}, true, true},
	}
	for _, c := range cases {
		cfg := AdamWConfig{Beta1: 0.9, Beta2: 0.95, WeightDecay: 0.1, DecayEmbeddings: c.embed}
		if got := cfg.Decays(Spec{Name: c.name, Shape: c.shape}); got != c.wantDecay {
			t.Errorf("Decays(%s %v, DecayEmbeddings=%v) = %v, want %v", c.name, c.shape, c.embed, got, c.wantDecay)
		}
	}
}

func TestNewAdamWRejects(t *testing.T) {
	good := AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
	a := Spec{Name: "a", Shape: []int{2, 3}, Offset: 0, Size: 6}
	cases := []struct {
		what  string
		specs []Spec
		cfg   AdamWConfig
	}{
		{"no tensors", nil, good},
		{"gap", []Spec{a, {Name: "b", Shape: []int{2}, Offset: 7, Size: 2}}, good},
		{"overlap", []Spec{a, {Name: "b", Shape: []int{2}, Offset: 5, Size: 2}}, good},
		{"size is not the shape's", []Spec{{Name: "a", Shape: []int{2, 3}, Offset: 0, Size: 5}}, good},
		{"zero dimension", []Spec{{Name: "a", Shape: []int{0}, Offset: 0, Size: 0}}, good},
		{"repeated name", []Spec{a, {Name: "a", Shape: []int{2}, Offset: 6, Size: 2}}, good},
		{"beta1 = 1", []Spec{a}, AdamWConfig{Beta1: 1, Beta2: 0.95}},
		{"beta2 < 0", []Spec{a}, AdamWConfig{Beta1: 0.9, Beta2: -0.1}},
		{"eps NaN", []Spec{a}, AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: math.NaN()}},
		{"negative decay", []Spec{a}, AdamWConfig{Beta1: 0.9, Beta2: 0.95, WeightDecay: -1}},
	}
	for _, c := range cases {
		if _, err := NewAdamW(c.specs, c.cfg); err == nil {
			t.Errorf("%s: NewAdamW accepted it", c.what)
		}
	}
}

func TestStepRejects(t *testing.T) {
	o, err := NewAdamW(torchSpecs, torchConfig)
	if err != nil {
		t.Fatal(err)
	}
	p, g := make([]float32, 15), make([]float32, 15)
	if o.Step(p[:14], g, 1e-3) == nil || o.Step(p, g[:14], 1e-3) == nil {
		t.Error("Step accepted slabs of the wrong length")
	}
	if o.Step(p, g, -1e-3) == nil || o.Step(p, g, math.Inf(1)) == nil {
		t.Error("Step accepted a negative or infinite learning rate")
	}
	if o.Steps() != 0 {
		t.Errorf("failed steps counted: Steps() = %d", o.Steps())
	}
}

// randomSlab makes a layout of a small GPT-like model and deterministic values for it.
func randomSlab(seed uint64) ([]Spec, []float32) {
	specs := []Spec{
		{Name: "wte.weight", Shape: []int{64, 16}},
		{Name: "h.0.ln_1.weight", Shape: []int{16}},
		{Name: "h.0.attn.c_attn.weight", Shape: []int{16, 48}},
		{Name: "h.0.attn.c_attn.bias", Shape: []int{48}},
	}
	n := 0
	for i := range specs {
		specs[i].Offset, specs[i].Size = n, sizeOf(specs[i].Shape)
		n += specs[i].Size
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return specs, v
}

func sizeOf(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func TestStepAllocatesNothing(t *testing.T) {
	specs, p := randomSlab(1)
	_, g := randomSlab(2)
	o, err := NewAdamW(specs, torchConfig)
	if err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(10, func() { _ = o.Step(p, g, 1e-3) }); allocs != 0 {
		t.Errorf("Step allocates %v times per call", allocs)
	}
}

// BenchmarkAdamWStep times one step over a 1M-parameter slab laid out as a GPT
// (vocab 512, ctx 64, d 128, 4 layers: about 0.93M parameters) rounded up by a final matrix.
func BenchmarkAdamWStep(b *testing.B) {
	var specs []Spec
	n := 0
	add := func(name string, shape ...int) {
		specs = append(specs, Spec{Name: name, Shape: shape, Offset: n, Size: sizeOf(shape)})
		n += sizeOf(shape)
	}
	add("wte.weight", 512, 128)
	add("wpe.weight", 64, 128)
	for l := range 4 {
		h := fmt.Sprintf("h.%d.", l)
		add(h+"ln_1.weight", 128)
		add(h+"attn.c_attn.weight", 128, 384)
		add(h+"attn.c_attn.bias", 384)
		add(h+"mlp.c_fc.weight", 128, 512)
		add(h+"mlp.c_proj.weight", 512, 128)
	}
	add("pad.weight", 1<<20-n)
	o, err := NewAdamW(specs, torchConfig)
	if err != nil {
		b.Fatal(err)
	}
	p, g := make([]float32, n), make([]float32, n)
	for i := range g {
		g[i] = float32(i%97-48) / 64
	}
	b.SetBytes(int64(16 * n)) // reads and writes p, m, v, reads g
	b.ResetTimer()
	for range b.N {
		if err := o.Step(p, g, 1e-3); err != nil {
			b.Fatal(err)
		}
	}
}
