package tasks

import (
	"fmt"
	"math/rand/v2"
	"strconv"
)

// arithmeticSet draws cfg.Train+cfg.Eval+cfg.FewShot distinct problems and deals them to the splits in
// that order. Problems are distinct up to the order of an addition's operands (347 + 589 and 589 + 347
// are one problem), so no split is asked what another split answered.
func arithmeticSet(cfg Config, rng *rand.Rand) (set, error) {
	probs, err := drawProblems(rng, cfg.Train+cfg.Eval+cfg.FewShot, cfg.MinDigits, cfg.MaxDigits)
	if err != nil {
		return set{}, err
	}
	examples := func(split string, ps []Problem) []example {
		out := make([]example, len(ps))
		for i, p := range ps {
			out[i] = arithmeticExample(itemID(Arithmetic, split, i), p, rng, cfg.WorkedFraction)
		}
		return out
	}
	s := set{task: Arithmetic}
	s.train = examples(SplitTrain, probs[:cfg.Train])
	s.eval = examples(SplitEval, probs[cfg.Train:cfg.Train+cfg.Eval])
	s.fewshot = examples(SplitFewShot, probs[cfg.Train+cfg.Eval:])
	return s, nil
}

// arithmeticExample makes p's item, picks its style (Worked with probability worked) and the slip behind
// its rejected completion.
func arithmeticExample(id string, p Problem, rng *rand.Rand, worked float64) example {
	answer := strconv.Itoa(p.Answer())
	ex := example{
		item:   Item{ID: id, Task: Arithmetic, Question: p.Question(), Answer: answer, Worked: p.Worked()},
		target: answer,
	}
	slips := p.slips()
	wrongText, wrong := p.work(slips[rng.IntN(len(slips))])
	ex.rejected = " " + strconv.Itoa(wrong)
	if rng.Float64() < worked {
		ex.style, ex.rejected = Worked, " "+wrongText
	}
	return ex
}

// drawProblems draws n distinct problems: '+' or '-' with even odds, each operand with a digit count
// drawn uniformly from minDigits..maxDigits and then a value uniformly among the numbers of that many
// digits (0..9 for one digit), the larger operand first for '-'.
func drawProblems(rng *rand.Rand, n, minDigits, maxDigits int) ([]Problem, error) {
	number := func() int {
		d := minDigits + rng.IntN(maxDigits-minDigits+1)
		if d == 1 {
			return rng.IntN(10)
		}
		lo := pow10(d - 1)
		return lo + rng.IntN(9*lo)
	}
	seen := make(map[Problem]bool, n)
	out := make([]Problem, 0, n)
	for tries := 0; len(out) < n; tries++ {
		if tries == 100*n+1000 {
			return nil, fmt.Errorf("arithmetic: drew only %d distinct problems of %d..%d digits, %d asked",
				len(out), minDigits, maxDigits, n)
		}
		p := Problem{A: number(), B: number(), Op: "+-"[rng.IntN(2)]}
		key := p
		if p.A < p.B {
			key.A, key.B = p.B, p.A
			if p.Op == '-' {
				p = key
			}
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// ArithmeticCapacity is how many distinct problems drawProblems can make from minDigits..maxDigits:
// with m numbers to draw from, m(m+1)/2 unordered sums and as many differences. For 2..3 digits,
// m = 990 and the capacity is 981,090.
func ArithmeticCapacity(minDigits, maxDigits int) int {
	m := pow10(maxDigits) - pow10(minDigits-1)
	if minDigits == 1 {
		m = pow10(maxDigits)
	}
	return m * (m + 1)
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}
