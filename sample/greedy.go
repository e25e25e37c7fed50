package sample

import (
	"errors"
	"fmt"
	"math"
)

// Greedy returns the id of the largest logit; among equal largest logits, the lowest id. It
// fails on an empty row, a NaN or +Inf logit, or a row that is all -Inf (nothing can be chosen).
func Greedy(logits []float32) (int, error) {
	if len(logits) == 0 {
		return 0, errors.New("sample: empty logits row")
	}
	best := 0
	for i, x := range logits {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 1) {
			return 0, fmt.Errorf("sample: logit %d is %v", i, x)
		}
		if x > logits[best] { // strict: the first of equal maxima wins
			best = i
		}
	}
	if math.IsInf(float64(logits[best]), -1) {
		return 0, errors.New("sample: every logit is -Inf")
	}
	return best, nil
}
