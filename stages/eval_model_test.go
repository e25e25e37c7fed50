package stages

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"pipeline/graphs"
)

// tokenByToken is LogLikelihood as it was before the cache: reset the decoder, feed the context (cut from
// the left to fit T), then the continuation one token at a time, each Feed's logits scoring the next token.
// It is the reference the cached LogLikelihood is checked and timed against.
func tokenByToken(d *graphs.Decoder, T int, context, continuation []int) (float64, bool, error) {
	if keep := T + 1 - len(continuation); len(context) > keep {
		context = context[len(context)-keep:]
	}
	d.Reset()
	logits, err := d.Feed(context)
	if err != nil {
		return 0, false, err
	}
	sum, greedy := 0.0, true
	for i, y := range continuation {
		lp, top := logSoftmaxAt(logits, y)
		sum += lp
		greedy = greedy && top
		if i+1 < len(continuation) {
			if logits, err = d.Feed(continuation[i : i+1]); err != nil {
				return 0, false, err
			}
		}
	}
	return sum, greedy, nil
}

// llRequest is one LogLikelihood request of a sequence, or a Generate call when prompt is set.
type llRequest struct {
	context, continuation []int
	prompt                string
}

// cacheRequests is a sequence of requests sharing prefixes in every way the cache must handle, for a
// model of context T over ids [0, V): four choices of one context (one a prefix of another), the same
// request twice (everything cached: the last context token is fed again), a context extending the last
// one, one that is a prefix of what is cached, a context cut from the left (shifted positions), a
// Generate in between, the first requests again after it, and a fresh context.
func cacheRequests(T, V int) []llRequest {
	rng := rand.New(rand.NewPCG(5, 6))
	ids := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = rng.IntN(V)
		}
		return out
	}
	ctx := ids(T / 2)
	choices := [][]int{ids(3), ids(1), ids(4), nil}
	choices[3] = append(append([]int{}, choices[0]...), ids(2)...) // choice 0 and then more
	var rs []llRequest
	for _, c := range choices {
		rs = append(rs, llRequest{context: ctx, continuation: c})
	}
	rs = append(rs,
		llRequest{context: ctx, continuation: choices[2]},                                            // the same request again
		llRequest{context: append(append([]int{}, ctx...), choices[2][:2]...), continuation: ids(2)}, // extends it
		llRequest{context: ctx[:3], continuation: ctx[3:6]},                                          // a prefix of the cache
		llRequest{context: ctx[:1], continuation: ctx[1:4]},                                          // a one-token context
		llRequest{context: ids(2 * T), continuation: ids(4)},                                         // cut from the left
		llRequest{context: ctx, continuation: choices[1]},
		llRequest{prompt: "the lord said"},                // overwrites the cache's first positions
		llRequest{context: ctx, continuation: choices[0]}, // after Generate
		llRequest{context: ctx, continuation: choices[1]},
		llRequest{context: ids(T - 5), continuation: ids(6)}, // fills the context
		llRequest{context: ids(3), continuation: ids(T)},     // the longest continuation
	)
	return rs
}

// TestEvalModelLogLikelihoodCache: over a sequence of requests sharing prefixes, with Generate
// calls in between, the LogLikelihood that keeps the decoder's cache and scores continuations with
// FeedAll gives the sums and greedy flags of a fresh decoder fed token by token: equal bit for bit with
// the pure-Go BLAS, within float32 noise with OpenBLAS. For the full model and with a prefix or a prompt
// adapter (whose virtual positions the cache keeps).
func TestEvalModelLogLikelihoodCache(t *testing.T) {
	m, _, tok := adapterFixture(t)
	cfg := m.cfg
	params := graphs.NewParams(cfg)
	params.Init(3, 0.5) // the fixture's weights
	prefix, err := graphs.NewPrefix(cfg, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	prompt, err := graphs.NewPrompt(cfg, params, graphs.PromptOptions{NumVirtualTokens: 3}, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*graphs.Adapter{nil, prefix, prompt} {
		name := "full"
		if a != nil {
			name = string(a.Config.PeftType)
		}
		t.Run(name, func(t *testing.T) {
			p := &policy{cfg: cfg, base: params, adapter: a}
			m, err := newCheckpointModel(context.Background(), p, tok)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := p.decoder()
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range cacheRequests(m.context, cfg.VocabSize) {
				if r.prompt != "" {
					if _, err := m.Generate(r.prompt, 4, nil); err != nil {
						t.Fatal(err)
					}
					continue
				}
				got, greedy, err := m.LogLikelihood(r.context, r.continuation)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				want, wantGreedy, err := tokenByToken(ref, m.context, r.context, r.continuation)
				if err != nil {
					t.Fatal(err)
				}
				tol := 0.0
				if graphs.BLASName != "gonum" {
					tol = 1e-5 * math.Max(1, math.Abs(want))
				}
				if math.Abs(got-want) > tol || greedy != wantGreedy {
					t.Errorf("request %d (context %d, continuation %d; %s): %.9g, greedy %v; token by token %.9g, %v",
						i, len(r.context), len(r.continuation), graphs.BLASName, got, greedy, want, wantGreedy)
				}
			}
			// Random continuations are never greedy: the flag must also come out true, for the argmax.
			ctx := tok.Encode("the lord said")
			ref.Reset()
			z, err := ref.Feed(ctx)
			if err == nil {
				best := 0
				for v := range z {
					if z[v] > z[best] {
						best = v
					}
				}
				want, wantGreedy, _ := tokenByToken(ref, m.context, ctx, []int{best})
				got, greedy, err := m.LogLikelihood(ctx, []int{best})
				if err != nil || !wantGreedy || !greedy || math.Abs(got-want) > 1e-5 {
					t.Errorf("argmax continuation: %v, greedy %v (%v); token by token %v, %v", got, greedy, err, want, wantGreedy)
				}
			}
		})
	}
}

// BenchmarkLogLikelihood times LogLikelihood token by token (old) and with the cache and FeedAll (new) on
// a model of the main run's size (4 layers, 4 heads, n_embd 128, vocabulary 4096, context 256, random
// weights): a perplexity window of 256 tokens, and a multiple-choice item of a 150-token context and
// four 25-token choices. Every iteration starts from an empty cache, as a new window or item does.
func BenchmarkLogLikelihood(b *testing.B) {
	cfg := graphs.NewConfig(4096, 256, 128, 4, 4)
	params := graphs.NewParams(cfg)
	params.Init(1, 0.02)
	dec, err := graphs.NewDecoder(cfg, params)
	if err != nil {
		b.Fatal(err)
	}
	m := &checkpointModel{ctx: context.Background(), cfg: cfg, context: cfg.NPositions, dec: dec}
	rng := rand.New(rand.NewPCG(1, 2))
	ids := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = rng.IntN(cfg.VocabSize)
		}
		return out
	}
	window := llRequest{context: []int{0}, continuation: ids(256)}
	item := []llRequest{}
	ctx := ids(150)
	for range 4 {
		item = append(item, llRequest{context: ctx, continuation: ids(25)})
	}
	cases := []struct {
		name string
		reqs []llRequest
	}{{"perplexity_window_256", []llRequest{window}}, {"choice_150+4x25", item}}
	for _, c := range cases {
		for _, method := range []string{"old", "new"} {
			b.Run(fmt.Sprintf("%s/%s", c.name, method), func(b *testing.B) {
				for b.Loop() {
					m.fed = m.fed[:0]
					m.dec.Reset()
					for _, r := range c.reqs {
						var err error
						if method == "old" {
							_, _, err = tokenByToken(m.dec, m.context, r.context, r.continuation)
						} else {
							_, _, err = m.LogLikelihood(r.context, r.continuation)
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
