package sample

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func newSampler(t *testing.T, seed uint64, o Options) *Sampler {
	t.Helper()
	s, err := New(seed, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// counts draws n tokens from one row and counts each id.
func counts(t *testing.T, s *Sampler, logits []float32, n int) []int {
	t.Helper()
	c := make([]int, len(logits))
	for range n {
		id, err := s.Next(logits)
		if err != nil {
			t.Fatal(err)
		}
		c[id]++
	}
	return c
}

// support lists the ids drawn at least once.
func support(c []int) []int {
	var ids []int
	for id, k := range c {
		if k > 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

func logProbs(p ...float64) []float32 {
	l := make([]float32, len(p))
	for i, x := range p {
		l[i] = float32(math.Log(x))
	}
	return l
}

func TestTopKOneIsGreedy(t *testing.T) {
	s := newSampler(t, 1, Options{Temperature: 1.5, TopK: 1, TopP: 0.9})
	rng := rand.New(rand.NewPCG(3, 4))
	row := make([]float32, 50)
	for range 200 {
		for i := range row {
			row[i] = float32(3 * rng.NormFloat64())
		}
		want, _ := Greedy(row)
		if got, err := s.Next(row); err != nil || got != want {
			t.Fatalf("top-k 1 drew %d, %v; greedy is %d", got, err, want)
		}
	}
	if c := counts(t, s, []float32{1, 4, 4, 0}, 100); c[1] != 100 {
		t.Errorf("top-k 1 with a tie for the max drew %v, want always id 1", c)
	}
}

// TestTopKTopPSupport: probabilities by id 0.1, 0.5, 0.15, 0.25, so most likely first the ids are
// 1 (0.5), 3 (0.25), 2 (0.15), 0 (0.1), with probability 0, 0.5, 0.75, 0.9 before each. Each case
// draws 3000 tokens and wants exactly the hand-computed support.
func TestTopKTopPSupport(t *testing.T) {
	row := logProbs(0.1, 0.5, 0.15, 0.25)
	cases := []struct {
		what string
		o    Options
		want []int
	}{
		{"top-p 0.45: 0.5 >= 0.45 after id 1", Options{Temperature: 1, TopP: 0.45}, []int{1}},
		{"top-p 0.7: 0.75 >= 0.7 after id 3", Options{Temperature: 1, TopP: 0.7}, []int{1, 3}},
		{"top-p 0.8: 0.9 >= 0.8 after id 2", Options{Temperature: 1, TopP: 0.8}, []int{1, 2, 3}},
		{"top-p 0.95: all", Options{Temperature: 1, TopP: 0.95}, []int{0, 1, 2, 3}},
		{"top-k 2", Options{Temperature: 1, TopK: 2}, []int{1, 3}},
		{"top-k 3", Options{Temperature: 1, TopK: 3}, []int{1, 2, 3}},
		{"top-k 9 > vocabulary", Options{Temperature: 1, TopK: 9}, []int{0, 1, 2, 3}},
		// top-k 3 renormalises to 0.5/0.9 = 0.556, 0.25/0.9 = 0.278, 0.15/0.9 = 0.167: 0.833 >= 0.8
		// after id 3. Top-p on the probabilities before top-k would keep id 2 (0.75 < 0.8).
		{"top-k 3 then top-p 0.8", Options{Temperature: 1, TopK: 3, TopP: 0.8}, []int{1, 3}},
		// T = 2: weights sqrt(p) = 0.316, 0.707, 0.387, 0.5, normalised 0.166, 0.370, 0.203, 0.262;
		// before id 2 the head holds 0.632 < 0.7, so id 2 stays (at T = 1 it goes).
		{"temperature 2 then top-p 0.7", Options{Temperature: 2, TopP: 0.7}, []int{1, 2, 3}},
	}
	for _, c := range cases {
		got := support(counts(t, newSampler(t, 5, c.o), row, 3000))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: support %v, want %v", c.what, got, c.want)
		}
	}
	// Top-p ties: ids 0 and 2 tie at 0.4, id 1 holds 0.2; top-p 0.3 keeps only the lower id 0.
	if got := support(counts(t, newSampler(t, 6, Options{Temperature: 1, TopP: 0.3}), logProbs(0.4, 0.2, 0.4), 1000)); !slices.Equal(got, []int{0}) {
		t.Errorf("top-p tie: support %v, want [0]", got)
	}
}

// TestTemperatureDistribution: logits 0, ln 2, ln 4, -Inf at T = 2 give probabilities proportional
// to exp(l/2) = 1, sqrt 2, 2, 0: 1/(3+sqrt2) = 0.22654, 0.32037, 0.45308, 0. 30000 draws must pass
// a chi-square test with 2 degrees of freedom at the 0.001 level (13.82), and must fail it
// against the T = 1 probabilities 1/7, 2/7, 4/7.
func TestTemperatureDistribution(t *testing.T) {
	const n = 30000
	row := []float32{0, float32(math.Ln2), float32(2 * math.Ln2), float32(math.Inf(-1))}
	c := counts(t, newSampler(t, 7, Options{Temperature: 2}), row, n)
	if c[3] != 0 {
		t.Errorf("a -Inf logit was drawn %d times", c[3])
	}
	chi2 := func(p []float64) float64 {
		var x float64
		for i, pi := range p {
			e := n * pi
			x += (float64(c[i]) - e) * (float64(c[i]) - e) / e
		}
		return x
	}
	z := 3 + math.Sqrt2
	if x := chi2([]float64{1 / z, math.Sqrt2 / z, 2 / z}); x > 13.82 {
		t.Errorf("counts %v: chi-square %.1f against T = 2, want <= 13.82", c, x)
	}
	if x := chi2([]float64{1.0 / 7, 2.0 / 7, 4.0 / 7}); x < 100 {
		t.Errorf("counts %v: chi-square %.1f against T = 1, want a clear rejection", c, x)
	}
}

// TestDrawMapping: with equal logits every weight is 1, so the token is floor(10u) for the
// sampler's u = (first PCG output >> 11) * 2^-53, computed here from its own PCG.
func TestDrawMapping(t *testing.T) {
	s := newSampler(t, 42, Options{Temperature: 0.8})
	pcg := rand.NewPCG(42, pcgStream)
	row := make([]float32, 10)
	for range 20 {
		want := int(float64(pcg.Uint64()>>11) * 0x1p-53 * 10)
		if got, err := s.Next(row); err != nil || got != want {
			t.Fatalf("Next = %d, %v; want %d", got, err, want)
		}
	}
}

func TestSeedsAndState(t *testing.T) {
	o := Options{Temperature: 1, TopK: 40, TopP: 0.95}
	row := make([]float32, 64)
	for i := range row {
		row[i] = float32(i%9) * 0.3
	}
	draw := func(s *Sampler, k int) []int {
		ids := make([]int, k)
		for i := range ids {
			id, err := s.Next(row)
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = id
		}
		return ids
	}
	a, b, c := draw(newSampler(t, 11, o), 30), draw(newSampler(t, 11, o), 30), draw(newSampler(t, 12, o), 30)
	if !slices.Equal(a, b) {
		t.Errorf("seed 11 gave %v then %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("seeds 11 and 12 gave the same 30 tokens %v", a)
	}

	s := newSampler(t, 11, o)
	draw(s, 10)
	state, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r := newSampler(t, 99, o)
	if err := r.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	if got := draw(r, 20); !slices.Equal(got, a[10:]) {
		t.Errorf("restored sampler drew %v, want %v", got, a[10:])
	}
	if r.UnmarshalBinary([]byte("garbage")) == nil {
		t.Error("UnmarshalBinary accepted garbage")
	}
}

func TestNextAllocatesNothing(t *testing.T) {
	s := newSampler(t, 1, Options{Temperature: 0.9, TopK: 50, TopP: 0.9})
	row := make([]float32, 4096)
	for i := range row {
		row[i] = float32(i%101) * 0.05
	}
	if allocs := testing.AllocsPerRun(20, func() { _, _ = s.Next(row) }); allocs != 0 {
		t.Errorf("Next allocates %v times per call", allocs)
	}
}

func TestNewRejects(t *testing.T) {
	for _, o := range []Options{
		{Temperature: -1},
		{Temperature: math.NaN()},
		{Temperature: math.Inf(1)},
		{Temperature: 1, TopK: -1},
		{Temperature: 1, TopP: 1.5},
		{Temperature: 1, TopP: -0.1},
	} {
		if _, err := New(1, o); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
	s := newSampler(t, 1, Options{Temperature: 1})
	if _, err := s.Next([]float32{float32(math.NaN()), 0}); err == nil {
		t.Error("Next accepted a NaN logit")
	}
}
