// Package graphs holds the GPT-2-architecture decoder as a Gorgonia ExprGraph:
// its configuration (Hugging Face config.json), the parameter store (one flat
// slab), custom ops with plain-slice kernels, and checkpoint load/save.
//
// Shape legend used by every kernel and shape comment in this package
// (llm.c's letters):
//
//	B  batch size                 T  sequence length (time)
//	C  channels (n_embd)          NH number of heads, hs = C/NH head size
//	OC output channels of a linear, V vocabulary size
//	N  rows = B*T                 P  prefix length (keys before the sequence)
package graphs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"pipeline/atomicfile"
)

// Config is the model's architecture, stored as Hugging Face's GPT-2
// config.json. Field names are the JSON keys so a checkpoint written here loads
// in transformers and the reference (../shared/reference/gpt2_ref.py).
type Config struct {
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures"`
	// VocabSize is the number of token ids; wte is [V, C].
	VocabSize int `json:"vocab_size"`
	// NPositions is the context length: the number of learned position
	// embeddings (wpe is [NPositions, C]). NCtx mirrors it (older GPT-2 key).
	NPositions int `json:"n_positions"`
	NCtx       int `json:"n_ctx"`
	// NEmbd is the residual width C; it must divide by NHead.
	NEmbd  int `json:"n_embd"`
	NLayer int `json:"n_layer"`
	NHead  int `json:"n_head"`
	// LayerNormEpsilon is added to the variance in every LayerNorm (GPT-2: 1e-5).
	LayerNormEpsilon float64 `json:"layer_norm_epsilon"`
	// ActivationFunction must be "gelu_new": GELU in its tanh form.
	ActivationFunction string `json:"activation_function"`
	// TieWordEmbeddings: the LM head reuses wte (GPT-2's default). When false
	// the checkpoint carries a separate lm_head.weight [V, C].
	TieWordEmbeddings bool `json:"tie_word_embeddings"`
	// BOSTokenID and EOSTokenID are the id of <|endoftext|>, which separates documents (GPT-2: 50256);
	// transformers' generate stops at eos_token_id, and without them takes GPT-2's 50256. Nil when a
	// checkpoint does not say.
	BOSTokenID *int `json:"bos_token_id,omitempty"`
	EOSTokenID *int `json:"eos_token_id,omitempty"`
}

// NewConfig returns a GPT-2 config with the given sizes and GPT-2's defaults
// for the rest (eps 1e-5, gelu_new, tied embeddings).
func NewConfig(vocab, ctx, embd, layers, heads int) *Config {
	return &Config{
		ModelType:          "gpt2",
		Architectures:      []string{"GPT2LMHeadModel"},
		VocabSize:          vocab,
		NPositions:         ctx,
		NCtx:               ctx,
		NEmbd:              embd,
		NLayer:             layers,
		NHead:              heads,
		LayerNormEpsilon:   1e-5,
		ActivationFunction: "gelu_new",
		TieWordEmbeddings:  true,
	}
}

// Validate reports the first field that cannot describe a model we can run.
func (c *Config) Validate() error {
	switch {
	case c.VocabSize <= 0:
		return fmt.Errorf("config: vocab_size must be > 0, got %d", c.VocabSize)
	case c.NPositions <= 0:
		return fmt.Errorf("config: n_positions must be > 0, got %d", c.NPositions)
	case c.NEmbd <= 0:
		return fmt.Errorf("config: n_embd must be > 0, got %d", c.NEmbd)
	case c.NLayer <= 0:
		return fmt.Errorf("config: n_layer must be > 0, got %d", c.NLayer)
	case c.NHead <= 0:
		return fmt.Errorf("config: n_head must be > 0, got %d", c.NHead)
	case c.NEmbd%c.NHead != 0:
		return fmt.Errorf("config: n_embd %d is not divisible by n_head %d", c.NEmbd, c.NHead)
	case c.BOSTokenID != nil && (*c.BOSTokenID < 0 || *c.BOSTokenID >= c.VocabSize):
		return fmt.Errorf("config: bos_token_id %d is not an id of the vocabulary of %d", *c.BOSTokenID, c.VocabSize)
	case c.EOSTokenID != nil && (*c.EOSTokenID < 0 || *c.EOSTokenID >= c.VocabSize):
		return fmt.Errorf("config: eos_token_id %d is not an id of the vocabulary of %d", *c.EOSTokenID, c.VocabSize)
	case !(c.LayerNormEpsilon > 0):
		return fmt.Errorf("config: layer_norm_epsilon must be > 0, got %v", c.LayerNormEpsilon)
	case c.ActivationFunction != "gelu_new":
		return fmt.Errorf("config: activation_function %q is not supported (want \"gelu_new\")", c.ActivationFunction)
	}
	return nil
}

// ReadConfig reads and validates dir/config.json. Keys it does not know are
// ignored (Hugging Face configs carry many); missing keys keep GPT-2's
// defaults for eps, activation and tying.
func ReadConfig(dir string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	c := NewConfig(0, 0, 0, 0, 0)
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "config.json"), err)
	}
	if c.NPositions == 0 {
		c.NPositions = c.NCtx
	}
	c.NCtx = c.NPositions
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "config.json"), err)
	}
	return c, nil
}

// WriteConfig writes dir/config.json atomically.
func WriteConfig(dir string, c *Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	out := *c
	out.ModelType = "gpt2"
	out.Architectures = []string{"GPT2LMHeadModel"}
	out.NCtx = out.NPositions
	b, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644)
}
