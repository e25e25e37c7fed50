package evaluate

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Window is one request of a rolling log-likelihood: the tokens to score and the context before them.
type Window struct{ Context, Continuation []int }

// Windows cuts tokens into lm-eval's rolling windows for a model that reads at most maxLen tokens
// (get_rolling_token_windows with context_len 1, then make_disjoint_window). Every token is scored
// exactly once; a window's context and continuation, less the continuation's last token, are at most
// maxLen tokens:
//
//	first window:  context [prefix], continuation tokens[:m], m = min(maxLen, n)
//	then, for the next w = min(n - done, maxLen) tokens:
//	               context tokens[done-(maxLen-w)-1 : done], continuation tokens[done : done+w]
//
// so every window after the first has at least one token of context, and the last, when short, fills
// the model's length with more. For n = 5, maxLen = 3: [P]|[t0 t1 t2], [t1 t2]|[t3 t4].
func Windows(tokens []int, prefix, maxLen int) ([]Window, error) {
	if maxLen < 1 {
		return nil, fmt.Errorf("evaluate: rolling windows of %d tokens", maxLen)
	}
	if len(tokens) == 0 {
		return nil, nil
	}
	m := min(maxLen, len(tokens))
	out := []Window{{Context: []int{prefix}, Continuation: tokens[:m]}}
	for done := m; done < len(tokens); {
		w := min(len(tokens)-done, maxLen)
		out = append(out, Window{Context: tokens[done-(maxLen-w)-1 : done], Continuation: tokens[done : done+w]})
		done += w
	}
	return out, nil
}

// TextScore is the log-likelihood of held-out documents (lm-eval's loglikelihood_rolling tasks, such as
// wikitext), summed over all of them before the ratios are taken:
//
//	NLL               = -sum over every token of log p(token | what precedes it in its document), nats
//	token perplexity  = exp(NLL / tokens)
//	word perplexity   = exp(NLL / words), words separated by whitespace
//	byte perplexity   = exp(NLL / bytes), UTF-8 bytes
//	bits per byte     = NLL / (ln 2 · bytes)
//
// Bits per byte does not depend on the tokenizer, so models with different vocabularies compare on it.
type TextScore struct {
	Docs            int     `json:"docs"`
	Tokens          int     `json:"tokens"`
	Words           int     `json:"words"`
	Bytes           int     `json:"bytes"`
	NLL             float64 `json:"nll"`
	TokenPerplexity float64 `json:"token_perplexity"`
	WordPerplexity  float64 `json:"word_perplexity"`
	BytePerplexity  float64 `json:"byte_perplexity"`
	BitsPerByte     float64 `json:"bits_per_byte"`
}

// Perplexity scores docs, each encoded on its own and scored in rolling windows of at most maxLen tokens,
// the first token of each predicted after t.Prefix.
func Perplexity(s Scorer, t Tokens, maxLen int, docs []string) (TextScore, error) {
	var r TextScore
	for i, doc := range docs {
		ids := t.Enc.Encode(doc)
		windows, err := Windows(ids, t.Prefix, maxLen)
		if err != nil {
			return TextScore{}, err
		}
		for _, w := range windows {
			ll, _, err := s.LogLikelihood(w.Context, w.Continuation)
			if err != nil {
				return TextScore{}, fmt.Errorf("document %d: %w", i, err)
			}
			r.NLL -= ll
		}
		r.Docs++
		r.Tokens += len(ids)
		r.Words += len(strings.Fields(doc))
		r.Bytes += len(doc)
	}
	if r.Tokens == 0 || r.Words == 0 {
		return TextScore{}, errors.New("evaluate: perplexity of no text")
	}
	r.TokenPerplexity = math.Exp(r.NLL / float64(r.Tokens))
	r.WordPerplexity = math.Exp(r.NLL / float64(r.Words))
	r.BytePerplexity = math.Exp(r.NLL / float64(r.Bytes))
	r.BitsPerByte = r.NLL / (math.Ln2 * float64(r.Bytes))
	return r, nil
}
