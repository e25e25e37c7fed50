package pipeline

import "fmt"

// trainingBytesPerParam is what training keeps per parameter at the least: the float32 weight, its
// gradient and AdamW's two moments.
const trainingBytesPerParam = 16

// blockParams counts the model's parameters other than the token embedding, whose size the tokenizer
// sets: per block 12·d² + 13·d (the attention's qkv and output projections, the MLP's two layers, their
// biases and two LayerNorms), the position embedding n_positions·d and the final LayerNorm 2·d.
func (m ModelConfig) blockParams() float64 {
	d := float64(m.NEmbd)
	return float64(m.NLayer)*(12*d*d+13*d) + float64(m.NPositions)*d + 2*d
}

// checkMemory reports a model block that cannot be trained in this machine's memory at all: its weights,
// gradients and AdamW moments alone, token embedding left out, would need more than the physical memory.
// Activations come on top, so passing this check does not promise that a run fits; failing it promises
// that it does not, and says so before any stage runs.
func checkMemory(m ModelConfig, total uint64, add func(path, format string, args ...any)) {
	if total == 0 {
		return // unknown on this system
	}
	need := m.blockParams() * trainingBytesPerParam
	if need > float64(total) {
		add("model", "n_layer %d, n_embd %d, n_positions %d make %.3g parameters besides the token embedding; "+
			"training them needs at least %s (weights, gradients and AdamW's moments, %d bytes each), and this machine has %s",
			m.NLayer, m.NEmbd, m.NPositions, m.blockParams(), gib(need), trainingBytesPerParam, gib(float64(total)))
	}
}

func gib(bytes float64) string { return fmt.Sprintf("%.1f GiB", bytes/(1<<30)) }

// physicalMemory is the RAM validation checks a model against (a variable so that tests can set it).
var physicalMemory = systemMemory
