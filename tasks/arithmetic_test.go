package tasks

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// Worked answers checked by hand, column by column.
func TestWorkedByHand(t *testing.T) {
	for _, c := range []struct {
		p    Problem
		want string
	}{
		{Problem{347, 589, '+'}, "7+9=16, write 6 carry 1. 4+8+1=13, write 3 carry 1. 3+5+1=9. The answer is 936."},
		{Problem{958, 67, '+'}, "8+7=15, write 5 carry 1. 5+6+1=12, write 2 carry 1. 9+0+1=10. The answer is 1025."},
		{Problem{1000, 1, '-'}, "10-1=9, write 9 borrow 1. 10-0-1=9, write 9 borrow 1. 10-0-1=9, write 9 borrow 1. 1-0-1=0. The answer is 999."},
		{Problem{52, 17, '-'}, "12-7=5, write 5 borrow 1. 5-1-1=3. The answer is 35."},
		{Problem{5, 3, '+'}, "5+3=8. The answer is 8."},
		{Problem{7, 7, '-'}, "7-7=0. The answer is 0."},
	} {
		if got := c.p.Worked(); got != c.want {
			t.Errorf("%s\n got %q\nwant %q", c.p.Question(), got, c.want)
		}
	}
}

// Wrong worked answers checked by hand: the mistake, then correct working from it.
func TestSlipByHand(t *testing.T) {
	for _, c := range []struct {
		p    Problem
		s    slip
		want string
	}{
		{Problem{958, 67, '+'}, slip{Col: 0, DropCarry: true},
			"8+7=15, write 5. 5+6=11, write 1 carry 1. 9+0+1=10. The answer is 1015."},
		{Problem{347, 589, '+'}, slip{Col: 1, Delta: -1},
			"7+9=16, write 6 carry 1. 4+8+1=12, write 2 carry 1. 3+5+1=9. The answer is 926."},
		{Problem{1000, 1, '-'}, slip{Col: 1, DropCarry: true},
			"10-1=9, write 9 borrow 1. 10-0-1=9, write 9. 0-0=0, write 0. 1-0=1. The answer is 1099."},
		{Problem{52, 17, '-'}, slip{Col: 0, Delta: 1},
			"12-7=6, write 6 borrow 1. 5-1-1=3. The answer is 36."},
	} {
		if got, _ := c.p.work(c.s); got != c.want {
			t.Errorf("%s %+v\n got %q\nwant %q", c.p.Question(), c.s, got, c.want)
		}
	}
}

// Every slip of every problem lands exactly where its kind says, never on the right answer, and the
// worked text states the answer it arrives at; the right working states Answer().
func TestSlipsAreWrong(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	probs, err := drawProblems(rng, 3000, 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(probs, Problem{1000, 1, '-'}, Problem{999, 999, '+'}, Problem{0, 0, '+'}, Problem{5, 5, '-'}) {
		text, got := p.work(slip{})
		if got != p.Answer() || !strings.HasSuffix(text, "The answer is "+strconv.Itoa(p.Answer())+".") {
			t.Fatalf("%s: worked %q, want answer %d", p.Question(), text, p.Answer())
		}
		slips := p.slips()
		if len(slips) == 0 {
			t.Fatalf("%s: no slips", p.Question())
		}
		for _, s := range slips {
			text, wrong := p.work(s)
			off := s.Delta * pow10(s.Col)
			if s.DropCarry {
				off = -pow10(s.Col + 1)
				if p.Op == '-' {
					off = -off
				}
			}
			if wrong == p.Answer() || wrong != p.Answer()+off || wrong < 0 {
				t.Errorf("%s %+v: wrong answer %d, right %d, want right%+d", p.Question(), s, wrong, p.Answer(), off)
			}
			if !strings.HasSuffix(text, "The answer is "+strconv.Itoa(wrong)+".") {
				t.Errorf("%s %+v: %q does not end with its answer %d", p.Question(), s, text, wrong)
			}
		}
	}
}

func TestDrawProblems(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	probs, err := drawProblems(rng, 2000, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Problem]bool{}
	ops := map[byte]int{}
	for _, p := range probs {
		for _, x := range []int{p.A, p.B} {
			if x < 10 || x > 999 {
				t.Fatalf("%s: operand %d has not 2..3 digits", p.Question(), x)
			}
		}
		if p.Op == '-' && p.A < p.B {
			t.Fatalf("%s: negative difference", p.Question())
		}
		key := Problem{max(p.A, p.B), min(p.A, p.B), p.Op}
		if seen[key] {
			t.Fatalf("%s drawn twice (up to operand order)", p.Question())
		}
		seen[key] = true
		ops[p.Op]++
	}
	if ops['+'] < 900 || ops['-'] < 900 {
		t.Errorf("ops %v, want about even", ops)
	}
	// 1 digit: 0..9 gives 55 unordered sums and 55 differences; more cannot be drawn.
	if _, err := drawProblems(rng, 111, 1, 1); err == nil {
		t.Error("drew 111 distinct one-digit problems; there are 110")
	}
}

func TestArithmeticCapacity(t *testing.T) {
	count := func(lo, hi int) int { // unordered pairs, twice (sums and differences)
		m := hi - lo + 1
		return m * (m + 1)
	}
	for _, c := range []struct{ min, max, want int }{
		{1, 1, count(0, 9)}, {1, 2, count(0, 99)}, {2, 3, count(10, 999)}, {3, 3, count(100, 999)},
	} {
		if got := ArithmeticCapacity(c.min, c.max); got != c.want {
			t.Errorf("ArithmeticCapacity(%d, %d) = %d, want %d", c.min, c.max, got, c.want)
		}
	}
	if got := ArithmeticCapacity(2, 3); got != 981090 {
		t.Errorf("ArithmeticCapacity(2, 3) = %d, want 981090 as documented", got)
	}
}
