package tokenizer

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// TrainOptions configures Train.
type TrainOptions struct {
	// VocabSize is the total number of ids: 256 byte tokens, the merges, then the special tokens.
	// Training stops earlier when no pair is left that occurs at least MinFrequency times.
	VocabSize int
	// Pattern is the pre-tokenization pattern; "" means PatternGPT2.
	Pattern Pattern
	// SplitDigits makes every number character a pre-token of its own, so numbers are spelled digit by digit.
	SplitDigits bool
	// MinFrequency is the fewest occurrences a pair needs to be merged (Hugging Face's min_frequency);
	// 0 and 1 both mean any pair that occurs.
	MinFrequency int
	// SpecialTokens get the ids after the merges, in this order.
	SpecialTokens []string
	// Progress, if set, is called after each merge with the merges done and the merges wanted.
	Progress func(done, total int)
}

// Train learns a tokenizer from texts. Byte tokens get ids 0..255 (id = byte value); then, one merge at a
// time, the most frequent adjacent pair of tokens inside pre-tokens becomes a new token with the next id.
//
// Ties between equally frequent pairs go to the pair (a, b) with the smallest id a, then the smallest id b:
// among byte tokens that is byte order, and among merged tokens the older one. The result depends only on
// the texts and options, never on goroutine scheduling or map order: the same inputs give the same bytes.
//
// Should a merge produce a byte string that is already a token (two different pairs can spell the same
// bytes), the merge is kept and reuses that token's id, as Hugging Face's trainer does.
func Train(texts []string, opts TrainOptions) (*Tokenizer, error) {
	if opts.Pattern == "" {
		opts.Pattern = PatternGPT2
	}
	pre, err := newPreTokenizer(opts.Pattern, opts.SplitDigits)
	if err != nil {
		return nil, err
	}
	if err := checkSpecials(opts.SpecialTokens); err != nil {
		return nil, err
	}
	wantTokens := opts.VocabSize - len(opts.SpecialTokens)
	if wantTokens < 256 {
		return nil, fmt.Errorf("tokenizer: vocab_size %d leaves no room for 256 byte tokens and %d special tokens",
			opts.VocabSize, len(opts.SpecialTokens))
	}
	words, counts := countWords(pre, texts)
	m := learnMerges(words, counts, wantTokens, int64(max(opts.MinFrequency, 1)), opts.Progress)
	m.pattern, m.splitDigits = opts.Pattern, opts.SplitDigits
	for _, s := range opts.SpecialTokens {
		m.specials[len(m.vocab)] = s
		m.vocab = append(m.vocab, nil)
	}
	return newTokenizer(m)
}

// checkSpecials refuses empty and repeated special tokens.
func checkSpecials(specials []string) error {
	for i, s := range specials {
		if s == "" {
			return fmt.Errorf("tokenizer: special token %d is empty", i)
		}
		if slices.Contains(specials[:i], s) {
			return fmt.Errorf("tokenizer: special token %q is listed twice", s)
		}
	}
	return nil
}

// countWords counts the pre-tokens of all texts, in parallel over the CPUs, and returns the distinct
// pre-tokens in byte order with their counts. Each goroutine counts its own chunks into its own map;
// the maps are summed, and sums do not depend on the order of adding.
func countWords(pre preTokenizer, texts []string) ([]string, []int64) {
	var chunks []string
	for _, text := range texts {
		cuts := chunkCuts(text, 4*runtime.GOMAXPROCS(0))
		for k := 0; k+1 < len(cuts); k++ {
			chunks = append(chunks, text[cuts[k]:cuts[k+1]])
		}
	}
	workers := min(runtime.GOMAXPROCS(0), max(len(chunks), 1))
	maps := make([]map[string]int64, workers)
	var wg sync.WaitGroup
	for w := range maps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts := make(map[string]int64)
			for k := w; k < len(chunks); k += workers {
				chunk := chunks[k]
				pre.each(chunk, func(i, j int) { counts[chunk[i:j]]++ })
			}
			maps[w] = counts
		}()
	}
	wg.Wait()
	total := maps[0]
	for _, m := range maps[1:] {
		for word, n := range m {
			total[word] += n
		}
	}
	words := make([]string, 0, len(total))
	for word := range total {
		words = append(words, word)
	}
	slices.Sort(words)
	counts := make([]int64, len(words))
	for i, w := range words {
		counts[i] = total[w]
	}
	return words, counts
}
