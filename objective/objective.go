// Package objective holds the pretraining objectives as data collation: each turns a window of corpus
// tokens into one row of model inputs, targets and loss weights. The model and its loss (weighted
// softmax cross-entropy) are the same for all of them; only what is fed and what is scored differs.
package objective

import "fmt"

// Objective collates training rows.
type Objective interface {
	// Window is how many corpus tokens one row of T inputs consumes.
	Window(T int) int
	// Collate fills one row: ids, targets and weights each have length T; window has Window(T) tokens.
	Collate(window []uint32, ids, targets []int, weights []float32)
}

// New returns the objective named in a config.
func New(name string) (Objective, error) {
	switch name {
	case "causal":
		return Causal{}, nil
	}
	return nil, fmt.Errorf("unknown objective %q (have: causal)", name)
}

// Names lists the objectives New accepts.
func Names() []string { return []string{"causal"} }

// Causal is GPT's next-token prediction: the input is window[0:T], the target at position t is
// window[t+1], every position scored.
//
//	window: a b c d e   ->   ids: a b c d   targets: b c d e   weights: 1 1 1 1
type Causal struct{}

// Window is T+1: the last token is only a target.
func (Causal) Window(T int) int { return T + 1 }

// Collate shifts the window by one.
func (Causal) Collate(window []uint32, ids, targets []int, weights []float32) {
	for t := range ids {
		ids[t] = int(window[t])
		targets[t] = int(window[t+1])
		weights[t] = 1
	}
}
