package graphs

import (
	"math"
	"testing"
)

// Started from a reward model, the value at every position t of a row is the reward the reward model
// gives the row read at last = t: the same head on the same hidden state.
func TestValueModelIsTheRewardHeadAtEveryPosition(t *testing.T) {
	cfg, p := rewardFixture(t, false)
	B, T := 2, 6
	ids := []int{1, 5, 3, 9, 2, 2, 7, 7, 0, 4, 10, 6}
	vm, err := NewValueModel(cfg, p, B, T, false)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	v, err := vm.Values(ids)
	if err != nil {
		t.Fatal(err)
	}
	values := append([]float32(nil), v...)
	rm, err := NewRewardModel(cfg, p, B, T, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	for pos := range T {
		r, err := rm.Score(ids, []int{pos, pos})
		if err != nil {
			t.Fatal(err)
		}
		for b := range B {
			if got := values[b*T+pos]; math.Abs(float64(got-r[b])) > 1e-6*max(1, math.Abs(float64(r[b]))) {
				t.Errorf("row %d position %d: value %v, reward %v", b, pos, got, r[b])
			}
		}
	}
}

// Step's gradient of L = Σ_i c_i V_i against central differences of L in float64 arithmetic over the
// float32 model, on a few parameters of each kind.
func TestValueModelStepGradient(t *testing.T) {
	cfg, p := rewardFixture(t, true)
	B, T := 2, 4
	ids := []int{1, 5, 3, 9, 7, 0, 4, 10}
	c := []float64{0.3, -1, 0.5, 2, 0, 1, -0.7, 0.2}
	net, err := NewValueModel(cfg, p, B, T, true)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if err := net.Step(ids, c); err != nil {
		t.Fatal(err)
	}
	grad := append([]float32(nil), p.Grad...)
	loss := func() float64 {
		v, err := net.Values(ids)
		if err != nil {
			t.Fatal(err)
		}
		s := 0.0
		for i, x := range v {
			s += c[i] * float64(x)
		}
		return s
	}
	const h = 1e-2
	for _, name := range []string{ScoreWeight, "wte.weight", "h.1.mlp.c_fc.weight", "ln_f.bias"} {
		info, _ := p.Info(name)
		for _, k := range []int{0, info.Size / 2, info.Size - 1} {
			i := info.Offset + k
			old := p.Data[i]
			p.Data[i] = old + h
			up := loss()
			p.Data[i] = old - h
			down := loss()
			p.Data[i] = old
			fd := (up - down) / (2 * h)
			if math.Abs(fd-float64(grad[i])) > 2e-3*max(1, math.Abs(fd)) {
				t.Errorf("%s[%d]: Step %v, finite difference %v", name, k, grad[i], fd)
			}
		}
	}
}
