// Package sample turns a row of logits into the next token: greedy (argmax) or a seeded draw after
// Hugging Face's logits warpers, in their order: temperature, then top-k, then top-p. StopAt finds
// a stop string in generated text; stopping at the end-of-text token is the caller's id comparison.
package sample

import (
	"fmt"
	"math"
)

// Options select the decoding rule. The zero value is greedy decoding.
type Options struct {
	Temperature float64 // logits are divided by it; 0 means greedy (argmax, no randomness)
	TopK        int     // keep the K most likely tokens; 0 keeps all
	TopP        float64 // keep the smallest most-likely set with probability >= TopP; 0 or 1 keeps all
}

// Validate checks Temperature >= 0, TopK >= 0 and TopP in [0, 1], all finite.
func (o Options) Validate() error {
	switch {
	case math.IsNaN(o.Temperature) || math.IsInf(o.Temperature, 0) || o.Temperature < 0:
		return fmt.Errorf("sample: temperature %g is negative or not finite", o.Temperature)
	case o.TopK < 0:
		return fmt.Errorf("sample: top-k %d is negative", o.TopK)
	case math.IsNaN(o.TopP) || o.TopP < 0 || o.TopP > 1:
		return fmt.Errorf("sample: top-p %g is not in [0, 1]", o.TopP)
	}
	return nil
}

// greedy reports whether these options decode by argmax.
func (o Options) greedy() bool { return o.Temperature == 0 }

// topP reports whether the top-p warper is on.
func (o Options) topP() bool { return o.TopP > 0 && o.TopP < 1 }
