package sample

import (
	"math"
	"testing"
)

func TestGreedy(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct {
		logits []float32
		want   int
	}{
		{[]float32{0.5, 2, -1, 1.5}, 1},
		{[]float32{3, 1, 3}, 0},     // tie: lowest id
		{[]float32{-1, 7, 2, 7}, 1}, // tie not at 0
		{[]float32{-inf, -2, -inf}, 1},
		{[]float32{-5}, 0},
	}
	for _, c := range cases {
		if got, err := Greedy(c.logits); err != nil || got != c.want {
			t.Errorf("Greedy(%v) = %d, %v; want %d", c.logits, got, err, c.want)
		}
	}
	for _, bad := range [][]float32{nil, {1, float32(math.NaN())}, {0, inf}, {-inf, -inf}} {
		if _, err := Greedy(bad); err == nil {
			t.Errorf("Greedy(%v) did not fail", bad)
		}
	}
}
