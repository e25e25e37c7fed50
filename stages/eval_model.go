package stages

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
	return &checkpointModel{ctx: ctx, cfg: cfg, context: p.context(), tok: tok, dec: dec, greedy: greedy, eot: eot}, nil
}

// tokens is how scoring turns request strings into this model's ids.
func (m *checkpointModel) tokens() evaluate.Tokens { return evaluate.Tokens{Enc: m.tok, Prefix: m.eot} }

// LogLikelihood feeds context, then the continuation one token at a time, summing
//
//	log p(c_i | context, c_<i) = z[c_i] - log sum_v exp(z[v])   (z: the logits before c_i, in float64)
//
// and noting whether each c_i is the argmax (lowest id among ties, as greedy decoding picks). The model
// reads len(context) + len(continuation) - 1 positions; when that exceeds m.context the context keeps
// only its last tokens.
func (m *checkpointModel) LogLikelihood(context, continuation []int) (float64, bool, error) {
	if err := m.ctx.Err(); err != nil {
		return 0, false, err
	}
	if len(context) == 0 || len(continuation) == 0 {
		return 0, false, errors.New("loglikelihood: empty context or continuation")
	}
	T := m.context
	if len(continuation) > T {
		return 0, false, fmt.Errorf("loglikelihood: a continuation of %d tokens exceeds the context of %d", len(continuation), T)
	}
	if keep := T + 1 - len(continuation); len(context) > keep {
		context = context[len(context)-keep:]
		m.truncated++
	}
	m.dec.Reset()
	logits, err := m.dec.Feed(context)
	if err != nil {
		return 0, false, err
	}
	sum, greedy := 0.0, true
	for i, y := range continuation {
		if y < 0 || y >= len(logits) {
			return 0, false, fmt.Errorf("loglikelihood: continuation id %d outside [0, %d)", y, len(logits))
		}
		lp, top := logSoftmaxAt(logits, y)
		sum += lp
		greedy = greedy && top
		if i+1 < len(continuation) {
			if logits, err = m.dec.Feed(continuation[i : i+1]); err != nil {
				return 0, false, err
			}
		}
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
	g, err := graphs.Generate(m.ctx, m.dec, ids, graphs.GenerateOptions{
		MaxNew: maxNew, Sampler: m.greedy, StopIDs: []int{m.eot}, StopStrings: stops, Decode: m.tok.Decode,
	})
	if err != nil {
		return "", err
	}
	return string(g.Text), nil
}
