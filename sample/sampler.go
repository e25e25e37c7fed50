package sample

import "math/rand/v2"

// pcgStream is the second PCG seed word; the first is the user's seed.
const pcgStream = 0x853c49e6748fea9b

// Sampler draws tokens with fixed Options from a seeded PCG generator. The same seed, options and
// logits rows give the same tokens on every machine. It reuses its scratch space, so Next does not
// allocate once it has seen the largest vocabulary. Not safe for concurrent use.
type Sampler struct {
	opts  Options
	pcg   *rand.PCG
	w     []float64 // w[i] = exp((logit_i - max)/T), the unnormalised probabilities
	order []int     // candidate ids
}

// New makes a sampler seeded with seed.
func New(seed uint64, opts Options) (*Sampler, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Sampler{opts: opts, pcg: rand.NewPCG(seed, pcgStream)}, nil
}

// Next returns the next token for one row of logits. Greedy options return Greedy(logits) and
// consume no randomness; otherwise exactly one 64-bit draw u is taken and the token is the first
// candidate (in the order candidates gives) whose running sum of weights exceeds u times their
// total. Errors are those of Greedy.
func (s *Sampler) Next(logits []float32) (int, error) {
	best, err := Greedy(logits)
	if err != nil || s.opts.greedy() {
		return best, err
	}
	cands := s.candidates(logits, best)
	var total float64
	for _, id := range cands {
		total += s.w[id]
	}
	target := s.uniform() * total // in [0, total)
	var cum float64
	pick := best
	for _, id := range cands {
		if s.w[id] == 0 {
			continue
		}
		pick = id
		if cum += s.w[id]; target < cum {
			break
		}
	}
	return pick, nil
}

// uniform is a float64 in [0, 1) from the top 53 bits of one PCG output.
func (s *Sampler) uniform() float64 {
	return float64(s.pcg.Uint64()>>11) * 0x1p-53
}

// MarshalBinary returns the generator's state (not the options), so a generation can resume.
func (s *Sampler) MarshalBinary() ([]byte, error) { return s.pcg.MarshalBinary() }

// UnmarshalBinary restores a state from MarshalBinary.
func (s *Sampler) UnmarshalBinary(b []byte) error { return s.pcg.UnmarshalBinary(b) }
