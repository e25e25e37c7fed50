package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"

	"pipeline/atomicfile"
	"pipeline/graphs"
	"pipeline/sample"
	"pipeline/textdata"
	"pipeline/tokenizer"
)

// tokenizerFiles are copied beside every model checkpoint, so a checkpoint directory is complete on its own
// (Hugging Face's AutoTokenizer and our generate read them from there).
var tokenizerFiles = []string{"tokenizer.json", "vocab.json", "merges.txt"}

// writeTokenizer puts the tokenizer of the checkpoint or bpe stage in src beside the model in dst: its
// files, and a tokenizer_config.json for a model of context maxLen.
func writeTokenizer(src, dst string, maxLen int) error {
	if err := writeTokenizerConfig(filepath.Join(dst, "tokenizer_config.json"), maxLen); err != nil {
		return err
	}
	for _, name := range tokenizerFiles {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// tokenByteLengths is the number of text bytes each token id decodes to (for bits per byte).
func tokenByteLengths(tok *tokenizer.Tokenizer) []int {
	out := make([]int, tok.VocabSize())
	for id := range out {
		out[id] = len(tok.Decode([]int{id}))
	}
	return out
}

// sampleGreedy continues prompt with up to n greedy tokens through the KV-cache decoder, stopping at
// end-of-text.
func sampleGreedy(ctx context.Context, cfg *graphs.Config, params *graphs.Params, tok *tokenizer.Tokenizer, prompt string, n int) (string, error) {
	dec, err := graphs.NewDecoder(cfg, params)
	if err != nil {
		return "", err
	}
	greedy, err := sample.New(0, sample.Options{})
	if err != nil {
		return "", err
	}
	eot, _ := tok.SpecialID("<|endoftext|>")
	ids := tok.EncodeSpecial(prompt)
	n = min(n, cfg.NPositions-len(ids))
	gen, err := graphs.Generate(ctx, dec, ids, graphs.GenerateOptions{MaxNew: n, Sampler: greedy, StopIDs: []int{eot}, Decode: tok.Decode})
	if err != nil {
		return "", err
	}
	return string(gen.Text), nil
}

// writeTokenizerConfig writes Hugging Face's tokenizer_config.json: the chat template the data was
// rendered with and the special tokens it ends and pads with, so apply_chat_template reproduces it.
func writeTokenizerConfig(path string, maxLen int) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the special tokens' < and > as they are
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{
		"tokenizer_class":  "PreTrainedTokenizerFast",
		"chat_template":    textdata.ChatTemplate,
		"bos_token":        tokenizer.EndOfText,
		"eos_token":        tokenizer.EndOfText,
		"pad_token":        tokenizer.EndOfText,
		"model_max_length": maxLen,
	}); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b.Bytes(), 0o644)
}
