package stages

import (
	"context"
	"fmt"
	"os"
	"slices"

	"pipeline/pipeline"
	"pipeline/tokenizer"
)

// bpe trains the byte-level BPE tokenizer that every later stage encodes with: count the corpus's
// pre-tokens, learn merges up to vocab_size, save tokenizer.json / vocab.json / merges.txt, then check
// that the saved tokenizer round-trips a sample of the corpus.
type bpeKind struct{}

type bpeOptions struct {
	Corpus        []string `yaml:"corpus" required:"true" file:"true" doc:"corpus files (globs) to train on, relative to the config file"`
	VocabSize     int      `yaml:"vocab_size" doc:"ids in all: 256 byte tokens, the merges, then the special tokens"`
	Pattern       string   `yaml:"pattern" doc:"pre-tokenization pattern: gpt2 (GPT-2's) or gpt4 (cl100k_base's)"`
	SplitDigits   bool     `yaml:"split_digits" doc:"make every digit a pre-token of its own, so numbers are spelled digit by digit"`
	MinFrequency  int      `yaml:"min_frequency" doc:"fewest occurrences a pair needs to be merged; training stops early when none has them"`
	SpecialTokens []string `yaml:"special_tokens" doc:"special tokens, given ids after the merges in this order (the SFT chat template needs <|system|>, <|user|>, <|assistant|>)"`
}

func init() { pipeline.Register(bpeKind{}) }

func (bpeKind) Name() string { return "bpe" }
func (bpeKind) Doc() string {
	return "train a byte-level BPE tokenizer (GPT-2 style) on corpus files: tokenizer.json, vocab.json, merges.txt"
}

// IgnoresModel: the tokenizer does not depend on the model's shape.
func (bpeKind) IgnoresModel() {}

// Defaults: 4096 ids suit a small GPT trained on a few MB (its embedding stays a small part of the
// parameters); min_frequency 2 never spends an id on a pair seen once.
func (bpeKind) Defaults() any {
	return &bpeOptions{VocabSize: 4096, Pattern: string(tokenizer.PatternGPT2), MinFrequency: 2,
		SpecialTokens: slices.Clone(tokenizer.DefaultSpecialTokens)}
}

// maxVocab keeps ids well inside int32, which the tokenizer uses internally.
const maxVocab = 1 << 24

func (bpeKind) Validate(opts any, run *pipeline.Config, report func(key, msg string)) {
	o := opts.(*bpeOptions)
	corpusHoldsText(run, report, "corpus", o.Corpus)
	if least := 256 + len(o.SpecialTokens); o.VocabSize < least || o.VocabSize > maxVocab {
		report("vocab_size", fmt.Sprintf("must be in [%d, %d] (256 byte tokens + %d special tokens at least), got %d",
			least, maxVocab, len(o.SpecialTokens), o.VocabSize))
	}
	if _, err := tokenizer.Pattern(o.Pattern).Regex(); err != nil {
		report("pattern", fmt.Sprintf("must be gpt2 or gpt4, got %q", o.Pattern))
	}
	if o.MinFrequency < 0 {
		report("min_frequency", fmt.Sprintf("must not be negative, got %d", o.MinFrequency))
	}
	for i, s := range o.SpecialTokens {
		if s == "" {
			report(fmt.Sprintf("special_tokens[%d]", i), "must not be empty")
		} else if slices.Contains(o.SpecialTokens[:i], s) {
			report(fmt.Sprintf("special_tokens[%d]", i), fmt.Sprintf("%q is listed twice", s))
		}
	}
}

// selfCheckBytes is how much of each corpus file the self-check encodes.
const selfCheckBytes = 1 << 20

func (bpeKind) Run(ctx context.Context, env *pipeline.Env, opts any) error {
	o := opts.(*bpeOptions)

	// 1. The corpus, whole, in memory.
	files, err := env.Stage.Files(env.Config)
	if err != nil {
		return err
	}
	texts := make([]string, len(files))
	size := 0
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		texts[i] = string(data)
		size += len(data)
	}
	env.Logf("training on %d files, %d bytes: vocab_size %d, pattern %s, split_digits %v, min_frequency %d",
		len(files), size, o.VocabSize, o.Pattern, o.SplitDigits, o.MinFrequency)

	// 2. Train (a fraction of a second for a few MB: not worth checkpointing) and save.
	bar := env.Progress(o.VocabSize-256-len(o.SpecialTokens), "merges")
	tok, err := tokenizer.Train(texts, tokenizer.TrainOptions{
		VocabSize: o.VocabSize, Pattern: tokenizer.Pattern(o.Pattern), SplitDigits: o.SplitDigits,
		MinFrequency: o.MinFrequency, SpecialTokens: o.SpecialTokens,
		Progress: func(done, _ int) { bar.Set(done) },
	})
	bar.Finish()
	if err != nil {
		return err
	}
	if tok.VocabSize() < o.VocabSize {
		env.Logf("stopped early: no pair occurs %d times; vocabulary %d of %d", max(o.MinFrequency, 1),
			tok.VocabSize(), o.VocabSize)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := tok.Save(env.Dir); err != nil {
		return err
	}

	// 3. Self-check: the saved tokenizer, loaded back, encodes the start of every file as the trained one
	// does and decodes it back to the same bytes.
	saved, err := tokenizer.Load(env.Dir)
	if err != nil {
		return err
	}
	bytes, tokens := 0, 0
	for i, text := range texts {
		sample := text[:min(len(text), selfCheckBytes)]
		ids := saved.Encode(sample)
		if !slices.Equal(ids, tok.Encode(sample)) {
			return fmt.Errorf("self-check: the saved tokenizer encodes %s differently from the trained one", files[i])
		}
		if string(saved.Decode(ids)) != sample {
			return fmt.Errorf("self-check: %s does not decode back to itself", files[i])
		}
		bytes, tokens = bytes+len(sample), tokens+len(ids)
	}
	ratio := float64(bytes) / float64(max(tokens, 1))
	env.Logf("vocabulary %d (%d merges, %d special); self-check round trip of %d bytes ok: %.2f bytes/token",
		tok.VocabSize(), tok.NumMerges(), len(tok.SpecialTokens()), bytes, ratio)
	env.SetSummary("vocab_size", tok.VocabSize())
	env.SetSummary("merges", tok.NumMerges())
	env.SetSummary("bytes_per_token", ratio)
	return nil
}
