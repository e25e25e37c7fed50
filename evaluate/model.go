package evaluate

// Scorer is a language model asked for lm-eval's loglikelihood request.
type Scorer interface {
	// LogLikelihood returns sum_i log p(continuation[i] | context, continuation[:i]) in nats, and
	// greedyMatch: whether every continuation token is the model's argmax at its position. The model reads
	// context followed by all but the last continuation token; context is never empty.
	LogLikelihood(context, continuation []int) (sum float64, greedyMatch bool, err error)
}

// Generator is a language model that continues a prompt greedily.
type Generator interface {
	// Generate returns the text greedy decoding appends to prompt: at most maxNew tokens, cut before the
	// first occurrence of any of stops (the stop string itself not included).
	Generate(prompt string, maxNew int, stops []string) (string, error)
}

// Encoder is the part of a tokenizer scoring needs; *tokenizer.Tokenizer is one.
type Encoder interface {
	// Encode returns the ids of text, special tokens' text encoded as ordinary text.
	Encode(text string) []int
	// EncodeOffsets returns the ids of text and the [start, end) byte span of text each stands for.
	EncodeOffsets(text string, allowSpecial bool) (ids []int, spans [][2]int)
}
