package stages

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"pipeline/evaluate"
	"pipeline/graphs"
	"pipeline/sample"
	"pipeline/tokenizer"
)

// checkpointModel is a policy directory (a full checkpoint or an adapter over one, see loadPolicy) as an
// evaluate.Model: the weights run on the KV-cache decoder, text goes through the tokenizer.json beside
// them. Requests that do not fit the context (n_positions, less a prefix or prompt adapter's virtual
// positions) lose tokens from the left, as lm-evaluation-harness truncates; truncated counts them.
//
// evaluate's interfaces carry no context, so the stage's ctx lives here: a cancelled run fails the next
// request with ctx.Err().
type checkpointModel struct {
	ctx       context.Context
	cfg       *graphs.Config
	context   int // real tokens a sequence may hold
	tok       *tokenizer.Tokenizer
	dec       *graphs.Decoder
	greedy    *sample.Sampler
	eot       int // <|endoftext|>: the prefix of an empty context and a stop of every generation
	truncated int // requests cut from the left to fit the context

	// LogLikelihood's reuse of the KV cache: dec holds virtual adapter positions, then the tokens fed.
	// Generate resets dec and so empties fed; nothing else may feed dec. The weights must not change
	// while fed is non-empty (the cache holds keys and values of the weights they were fed with).
	virtual int       // the adapter's virtual positions at the front of dec's cache
	fed     []int     // the tokens in dec's cache after them, in order
	logits  []float32 // FeedAll's [M, V] output, grown as needed
	lps     []float64 // each continuation token's log-prob, grown as needed
	tops    []bool    // whether each continuation token is the argmax
}

// loadCheckpointModel opens dir, which must hold tokenizer.json with <|endoftext|> and either a full
// checkpoint or an adapter over one (loadPolicy).
func loadCheckpointModel(ctx context.Context, dir string) (*checkpointModel, error) {
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
		return nil, fmt.Errorf("%s is not a model checkpoint (tokenizer.json, and config.json with %s or an adapter's %s): %w",
			dir, graphs.ModelFile, graphs.AdapterConfigFile, err)
	}
	p, err := loadPolicy(dir)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return nil, err
	}
	return newCheckpointModel(ctx, p, tok)
}

func newCheckpointModel(ctx context.Context, p *policy, tok *tokenizer.Tokenizer) (*checkpointModel, error) {
	cfg := p.cfg
	if tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("the tokenizer has %d ids, the model only %d", tok.VocabSize(), cfg.VocabSize)
	}
	eot, ok := tok.SpecialID(tokenizer.EndOfText)
	if !ok {
		return nil, fmt.Errorf("the tokenizer has no %s", tokenizer.EndOfText)
	}
	dec, err := p.decoder()
	if err != nil {
		return nil, err
	}
	greedy, err := sample.New(0, sample.Options{})
	if err != nil {
		return nil, err
	}
	return &checkpointModel{ctx: ctx, cfg: cfg, context: p.context(), tok: tok, dec: dec, greedy: greedy, eot: eot,
		virtual: dec.Len()}, nil
}

// tokens is how scoring turns request strings into this model's ids.
func (m *checkpointModel) tokens() evaluate.Tokens { return evaluate.Tokens{Enc: m.tok, Prefix: m.eot} }

// LogLikelihood reads context followed by all but the last continuation token, and sums
//
//	log p(c_i | context, c_<i) = z[c_i] - log sum_v exp(z[v])   (z: the logits before c_i, in float64)
//
// noting whether each c_i is the argmax (lowest id among ties, as greedy decoding picks). The model reads
// len(context) + len(continuation) - 1 positions; when that exceeds m.context the context keeps only its
// last tokens.
//
// The decoder's cache is kept between requests: the longest common prefix of the tokens it holds and
// the new input is kept (Truncate), at most len(context) - 1 tokens so that at least the last context
// token is fed again and its logits (those of c_0) exist, and the rest is run in one FeedAll, which
// gives the logits of every continuation position at once. Multiple-choice items share their context
// this way; perplexity windows gain from FeedAll's [M, V] head product over M single-token passes. The
// logits are those of a fresh decoder fed token by token: bit for bit with the pure-Go BLAS, within a
// few 1e-6 of the row's largest logit with OpenBLAS (graphs.Decoder.FeedAll).
func (m *checkpointModel) LogLikelihood(context, continuation []int) (float64, bool, error) {
	if err := m.ctx.Err(); err != nil {
		return 0, false, err
	}
	if len(context) == 0 || len(continuation) == 0 {
		return 0, false, errors.New("loglikelihood: empty context or continuation")
	}
	T, V := m.context, m.cfg.VocabSize
	if len(continuation) > T {
		return 0, false, fmt.Errorf("loglikelihood: a continuation of %d tokens exceeds the context of %d", len(continuation), T)
	}
	for _, y := range continuation {
		if y < 0 || y >= V {
			return 0, false, fmt.Errorf("loglikelihood: continuation id %d outside [0, %d)", y, V)
		}
	}
	if keep := T + 1 - len(continuation); len(context) > keep {
		context = context[len(context)-keep:]
		m.truncated++
	}
	input := make([]int, 0, len(context)+len(continuation)-1)
	input = append(append(input, context...), continuation[:len(continuation)-1]...)

	// Keep the cached prefix shared with input, less at least the last context token.
	keep := 0
	if m.dec.Len() == m.virtual+len(m.fed) {
		for keep < len(m.fed) && keep < len(context)-1 && m.fed[keep] == input[keep] {
			keep++
		}
		if err := m.dec.Truncate(m.virtual + keep); err != nil {
			return 0, false, err
		}
	} else { // someone else fed the decoder: start over
		m.dec.Reset()
	}
	m.fed = m.fed[:keep]
	n := len(input) - keep
	if cap(m.logits) < n*V {
		m.logits = make([]float32, n*V)
	}
	logits := m.logits[:n*V]
	if err := m.dec.FeedAll(input[keep:], logits); err != nil {
		return 0, false, err
	}
	m.fed = append(m.fed, input[keep:]...)

	// Each row's log-softmax (a float64 exp per logit: a quarter of the time of a 256-token window) on
	// its own, rows split among goroutines, then summed in order: the bytes of a sequential loop.
	n = len(continuation)
	if cap(m.lps) < n {
		m.lps, m.tops = make([]float64, n), make([]bool, n)
	}
	lps, tops := m.lps[:n], m.tops[:n]
	first := len(context) - 1 - keep // the row of the position before c_0
	score := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := first + i
			lps[i], tops[i] = logSoftmaxAt(logits[r*V:(r+1)*V], continuation[i])
		}
	}
	if workers := min(runtime.GOMAXPROCS(0), n/8); workers > 1 {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() { score(w*n/workers, (w+1)*n/workers) })
		}
		wg.Wait()
	} else {
		score(0, n)
	}
	sum, greedy := 0.0, true
	for i := range n {
		sum += lps[i]
		greedy = greedy && tops[i]
	}
	return sum, greedy, nil
}

// Generate continues prompt greedily for at most maxNew tokens, stopping at <|endoftext|> or before the
// first of stops. The prompt keeps its last m.context - maxNew tokens, so that every new token fits.
func (m *checkpointModel) Generate(prompt string, maxNew int, stops []string) (string, error) {
	keep := m.context - maxNew
	if keep < 1 {
		return "", fmt.Errorf("generate: %d new tokens leave no room for a prompt in the context of %d", maxNew, m.context)
	}
	ids := m.tok.Encode(prompt)
	if len(ids) > keep {
		ids = ids[len(ids)-keep:]
		m.truncated++
	}
	m.fed = m.fed[:0] // Generate resets the decoder: LogLikelihood's cached tokens are gone
	g, err := graphs.Generate(m.ctx, m.dec, ids, graphs.GenerateOptions{
		MaxNew: maxNew, Sampler: m.greedy, StopIDs: []int{m.eot}, StopStrings: stops, Decode: m.tok.Decode,
	})
	if err != nil {
		return "", err
	}
	return string(g.Text), nil
}
