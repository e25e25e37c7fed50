package pipeline

import (
	"testing"
)

// The count besides the token embedding, against the parameter totals the pretrain stage logs for
// tiny.yaml (136,960 with vocab 512 and n_embd 64) and gpt-small.yaml (1,350,400 with vocab 4,096 and
// n_embd 128), less their tied token embeddings.
func TestBlockParams(t *testing.T) {
	for _, c := range []struct {
		m    ModelConfig
		want float64
	}{
		{ModelConfig{NLayer: 2, NHead: 2, NEmbd: 64, NPositions: 64}, 136960 - 512*64},
		{ModelConfig{NLayer: 4, NHead: 4, NEmbd: 128, NPositions: 256}, 1350400 - 4096*128},
	} {
		if got := c.m.blockParams(); got != c.want {
			t.Errorf("%+v: %v parameters, want %v", c.m, got, c.want)
		}
	}
}

// A model whose weights, gradients and moments exceed the machine's memory is a config problem at the
// model key; one that fits, or a machine whose memory is unknown, is not.
func TestValidateRefusesAModelLargerThanMemory(t *testing.T) {
	defer func(f func() uint64) { physicalMemory = f }(physicalMemory)
	physicalMemory = func() uint64 { return 1 << 30 }
	dir := t.TempDir()
	// n_layer 4, n_embd 4096: 4·(12·4096² + 13·4096) + 16·4096 + 2·4096 = 805,593,088 parameters, 12.0 GiB.
	path := writeConfig(t, dir, `run: test
model: {n_layer: 4, n_head: 4, n_embd: 4096, n_positions: 16}
stages:
  - name: a
    kind: count
    steps: 1
`)
	_, err := Load(path, nil)
	ps, _ := AsProblems(err)
	want := path + ":2:1: model: n_layer 4, n_embd 4096, n_positions 16 make 8.06e+08 parameters besides the token embedding; " +
		"training them needs at least 12.0 GiB (weights, gradients and AdamW's moments, 16 bytes each), and this machine has 1.0 GiB"
	if len(ps) != 1 || ps[0].String() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}

	physicalMemory = func() uint64 { return 16 << 30 }
	if _, err := Load(path, nil); err != nil {
		t.Errorf("with 16 GiB: %v", err)
	}
	physicalMemory = func() uint64 { return 0 }
	if _, err := Load(path, nil); err != nil {
		t.Errorf("with memory unknown: %v", err)
	}
}
