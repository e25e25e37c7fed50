package pipeline

import "gopkg.in/yaml.v3"

// Config is one run: a name, a seed, where outputs go, the shared model shape and the ordered stages.
type Config struct {
	Run    string         `yaml:"run" required:"true" doc:"name of the run; outputs go to <out_dir>/<run>/"`
	Seed   int64          `yaml:"seed" doc:"seed of every random number generator in the run"`
	OutDir string         `yaml:"out_dir" doc:"directory that holds the run's outputs (relative to the config file's directory)"`
	Model  ModelConfig    `yaml:"model" doc:"the GPT's shape, shared by every stage that builds a model from scratch"`
	Stages []*StageConfig `yaml:"stages" required:"true" doc:"the stages, run in this order"`

	// File is the config file's path; Dir the directory relative paths in it are resolved against.
	File string `yaml:"-"`
	Dir  string `yaml:"-"`
}

// ModelConfig is the GPT-2 shape. The vocabulary size comes from the tokenizer stage, the rest from here.
type ModelConfig struct {
	NLayer            int     `yaml:"n_layer" doc:"number of transformer blocks"`
	NHead             int     `yaml:"n_head" doc:"attention heads per block; must divide n_embd"`
	NEmbd             int     `yaml:"n_embd" doc:"width of the residual stream"`
	NPositions        int     `yaml:"n_positions" doc:"longest sequence (context length)"`
	LayerNormEpsilon  float64 `yaml:"layer_norm_epsilon" doc:"epsilon inside every LayerNorm"`
	TieWordEmbeddings bool    `yaml:"tie_word_embeddings" doc:"share the LM head with the token embedding"`
	InitStd           float64 `yaml:"init_std" doc:"standard deviation of the initial weights"`
}

// DefaultModel is GPT-2's recipe at a size that trains on two cores.
func DefaultModel() ModelConfig {
	return ModelConfig{NLayer: 4, NHead: 4, NEmbd: 128, NPositions: 128, LayerNormEpsilon: 1e-5,
		TieWordEmbeddings: true, InitStd: 0.02}
}

// StageConfig is one entry of `stages:`: its name, its kind and its kind's decoded options.
type StageConfig struct {
	Name    string
	Kind    string
	Options any // a pointer to the kind's options struct, as returned by Kind.Defaults and then decoded

	node *yaml.Node // the stage's YAML mapping, for error positions
	path string     // "stages[2]", for error paths
}
