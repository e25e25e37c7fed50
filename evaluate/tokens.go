package evaluate

import (
	"errors"
	"slices"
	"strings"
	"unicode"
)

// Tokens turns the strings of a loglikelihood request into the token ids a Scorer reads.
type Tokens struct {
	Enc Encoder
	// Prefix stands in for a context with no tokens (lm-eval's prefix_token_id, <|endoftext|> for GPT-2),
	// so that the first token of a text is still predicted from something.
	Prefix int
}

// Split returns the context and continuation ids of one request, as lm-eval's _encode_pair does:
//
//  1. Trailing whitespace of the context moves to the front of the continuation, where a BPE tokenizer
//     puts it: ("Answer: ", "936") is scored as ("Answer:", " 936").
//  2. whole = encode(context + continuation), ctx = encode(context).
//  3. If ctx is a prefix of whole, the continuation is whole[len(ctx):].
//  4. Otherwise a token of whole spans the join: ("The cat", "s") encodes as ["The", " cats"] while the
//     context alone is ["The", " cat"]. Then the continuation starts at the first token of whole that ends
//     after the context's bytes, so that its tokens cover every byte of the continuation, and the context
//     is the tokens before it: (["The"], [" cats"]). The continuation's log-likelihood then also counts
//     the bytes " cat". lm-eval slices whole at len(encode(context)) regardless, which here leaves it no
//     continuation token at all.
//
// The continuation always has at least one token: the last token of whole ends after the context. A
// context left with no tokens becomes [Prefix]. An empty continuation is an error.
func (t Tokens) Split(context, continuation string) (ctx, cont []int, err error) {
	trimmed := strings.TrimRightFunc(context, unicode.IsSpace)
	context, continuation = trimmed, context[len(trimmed):]+continuation
	if continuation == "" {
		return nil, nil, errors.New("evaluate: empty continuation")
	}
	whole, spans := t.Enc.EncodeOffsets(context+continuation, false)
	ctx = t.Enc.Encode(context)
	if len(ctx) >= len(whole) || !slices.Equal(ctx, whole[:len(ctx)]) {
		k := 0
		for spans[k][1] <= len(context) {
			k++
		}
		ctx = whole[:k]
	}
	cont = whole[len(ctx):]
	if len(ctx) == 0 {
		ctx = []int{t.Prefix}
	}
	return ctx, cont, nil
}
