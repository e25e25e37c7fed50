package graphs

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"pipeline/sample"
)

// Decoder runs the GPT for inference on one sequence, without a Gorgonia
// graph: it calls the same plain-slice kernels the graph's ops call, in the
// same order and with the same per-row arithmetic. With the pure-Go BLAS the
// logits of every position equal those of a full forward pass (Model.Forward)
// bit for bit. OpenBLAS's sgemm rounds a row differently depending on where
// it falls in its kernel blocking, so there a row alone and the same row in a
// [T, C] product (like two full forwards of different lengths) agree to a
// few 1e-6 of the largest logit, not in every bit.
//
// It keeps every layer's keys and values of the positions seen so far (the
// KV cache), so a new token costs one position: its query attends the cached
// keys instead of the whole prefix being run again. FeedAll gives the logits
// of every position fed (scoring a continuation in one pass), and Truncate
// drops the positions after a prefix worth keeping. All buffers are
// allocated by NewDecoder; Feed and FeedAll allocate no slices.
//
// The weights are views of the Params slab, so a Decoder sees in-place
// updates of Params.Data (an optimizer step) from its next Feed on; the
// cache then still holds keys and values of the old weights until Reset.
// Not safe for concurrent use: give each goroutine its own Decoder.
//
// A prefix or prompt adapter (NewDecoderWith) occupies the first P
// positions of the cache: Reset puts the prefix's keys and values there, or
// runs the prompt through the model; the tokens then sit at positions P on,
// as in Model. LoRA adapters are merged into the weights instead (MergeLoRA).
type Decoder struct {
	cfg     *Config
	virtual int       // the adapter's virtual positions at the front of every sequence
	prefix  []float32 // prefix tuning: [P, 2*L*C], a view of the adapter's slab
	prompt  []float32 // prompt tuning: [P, C], a view of the adapter's slab
	layers  []layerWeights
	wte     []float32 // [V, C]
	wpe     []float32 // [T, C]
	lnfW    []float32 // [C]
	lnfB    []float32 // [C]
	head    []float32 // [V, C]: wte when tied, else lm_head

	n     int       // positions in the cache
	cache []float32 // [L, 2, T, C]: layer l's keys at (2l)*T*C, its values at (2l+1)*T*C

	// Scratch for one chunk of up to rows positions.
	rows          int
	x, xb         []float32 // [rows, C] the residual stream, and the next one (ping-pong)
	h, y          []float32 // [rows, C] LayerNorm output; attention output
	qkv           []float32 // [rows, 3C]
	pre, sig, act []float32 // [rows, 4C] c_fc output, GELU's sigmoid cache, GELU output
	mean, rstd    []float32 // [rows]
	att           []float32 // [NH, rows, T] attention probabilities
	logits        []float32 // [V] of the last position fed
}

// layerWeights are one block's parameters, as views of the slab.
type layerWeights struct {
	ln1W, ln1B     []float32 // [C]
	attnW, attnB   []float32 // [C, 3C], [3C]
	projW, projB   []float32 // [C, C], [C]
	ln2W, ln2B     []float32 // [C]
	fcW, fcB       []float32 // [C, 4C], [4C]
	fcOutW, fcOutB []float32 // [4C, C], [C]
}

// decodeChunk is the most positions Feed runs through the model at once. A
// prompt longer than this is fed in pieces; it bounds the scratch (the
// attention probabilities are [NH, decodeChunk, T]) while keeping the
// products large enough for the BLAS to be efficient.
const decodeChunk = 64

// NewDecoder makes a decoder for the model (cfg, p). p must have cfg's
// layout (NewParams(cfg) or Load).
func NewDecoder(cfg *Config, p *Params) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	want := ParamLayout(cfg)
	if len(p.Layout) != len(want) {
		return nil, fmt.Errorf("decoder: params have %d tensors, config %d", len(p.Layout), len(want))
	}
	for i, info := range want {
		if got := p.Layout[i]; got.Name != info.Name || !slices.Equal(got.Shape, info.Shape) {
			return nil, fmt.Errorf("decoder: params hold %s %v where the config wants %s %v", got.Name, got.Shape, info.Name, info.Shape)
		}
	}
	V, T, C, L, NH := cfg.VocabSize, cfg.NPositions, cfg.NEmbd, cfg.NLayer, cfg.NHead
	rows := min(T, decodeChunk)
	d := &Decoder{
		cfg: cfg, wte: p.Tensor("wte.weight"), wpe: p.Tensor("wpe.weight"),
		lnfW: p.Tensor("ln_f.weight"), lnfB: p.Tensor("ln_f.bias"), head: p.Tensor("wte.weight"),
		cache: make([]float32, L*2*T*C), rows: rows,
		x: make([]float32, rows*C), xb: make([]float32, rows*C), h: make([]float32, rows*C), y: make([]float32, rows*C),
		qkv: make([]float32, rows*3*C),
		pre: make([]float32, rows*4*C), sig: make([]float32, rows*4*C), act: make([]float32, rows*4*C),
		mean: make([]float32, rows), rstd: make([]float32, rows),
		att: make([]float32, NH*rows*T), logits: make([]float32, V),
	}
	if !cfg.TieWordEmbeddings {
		d.head = p.Tensor("lm_head.weight")
	}
	for l := 0; l < L; l++ {
		w := func(s string) []float32 { return p.Tensor(fmt.Sprintf("h.%d.%s", l, s)) }
		d.layers = append(d.layers, layerWeights{
			ln1W: w("ln_1.weight"), ln1B: w("ln_1.bias"),
			attnW: w("attn.c_attn.weight"), attnB: w("attn.c_attn.bias"),
			projW: w("attn.c_proj.weight"), projB: w("attn.c_proj.bias"),
			ln2W: w("ln_2.weight"), ln2B: w("ln_2.bias"),
			fcW: w("mlp.c_fc.weight"), fcB: w("mlp.c_fc.bias"),
			fcOutW: w("mlp.c_proj.weight"), fcOutB: w("mlp.c_proj.bias"),
		})
	}
	return d, nil
}

// NewDecoderWith makes a decoder for the base model (cfg, p) with a prefix
// or prompt adapter (nil: none, as NewDecoder). It refuses a LoRA adapter:
// decode MergeLoRA's weights, which compute the same logits at no extra cost
// per token.
func NewDecoderWith(cfg *Config, p *Params, a *Adapter) (*Decoder, error) {
	d, err := NewDecoder(cfg, p)
	if err != nil || a == nil {
		return d, err
	}
	if a.Config.PeftType == LoRA {
		return nil, errors.New("decoder: a LoRA adapter is not run by the decoder: decode MergeLoRA(cfg, p, adapter) instead")
	}
	if err := a.check(cfg); err != nil {
		return nil, err
	}
	d.virtual = a.Virtual()
	if a.Config.PeftType == Prefix {
		d.prefix = a.Params.Tensor(promptEmbeddings)
	} else {
		d.prompt = a.Params.Tensor(promptEmbeddings)
	}
	d.Reset()
	return d, nil
}

// Reset empties the cache: the next Feed starts a new sequence at position
// 0, or after the adapter's P virtual positions, which Reset fills (from the
// adapter's current values).
func (d *Decoder) Reset() {
	d.n = 0
	C, T := d.cfg.NEmbd, d.cfg.NPositions
	switch {
	case d.prefix != nil: // layer l's prefix keys and values, PEFT's columns 2l*C and (2l+1)*C
		W := len(d.prefix) / d.virtual
		for l := range d.layers {
			k, v := d.cache[(2*l)*T*C:(2*l+1)*T*C], d.cache[(2*l+1)*T*C:(2*l+2)*T*C]
			for s := 0; s < d.virtual; s++ {
				copy(k[s*C:(s+1)*C], d.prefix[s*W+2*l*C:s*W+(2*l+1)*C])
				copy(v[s*C:(s+1)*C], d.prefix[s*W+(2*l+1)*C:s*W+(2*l+2)*C])
			}
		}
		d.n = d.virtual
	case d.prompt != nil: // the prompt's rows through the model, a chunk at a time
		for d.n < d.virtual {
			M := min(d.virtual-d.n, d.rows)
			x := d.x[:M*C]
			for s := 0; s < M; s++ {
				o, pr, pe := x[s*C:(s+1)*C], d.prompt[(d.n+s)*C:(d.n+s+1)*C], d.wpe[(d.n+s)*C:(d.n+s+1)*C]
				for i := range o {
					o[i] = pr[i] + pe[i]
				}
			}
			d.run(M)
		}
	}
}

// Len is the number of positions in the cache: the adapter's virtual
// positions and the tokens fed since Reset.
func (d *Decoder) Len() int { return d.n }

// Feed appends ids to the sequence and returns the logits [V] that predict
// the token after the last of them. The slice is reused by the next Feed:
// copy it to keep it. It fails, changing nothing, when ids is empty, an id is
// outside [0, V), or the sequence would outgrow the context n_positions.
func (d *Decoder) Feed(ids []int) ([]float32, error) {
	if err := d.check(ids); err != nil {
		return nil, err
	}
	for len(ids) > 0 {
		m := min(len(ids), d.rows)
		d.forward(ids[:m])
		ids = ids[m:]
	}
	return d.logits, nil
}

// FeedAll appends ids to the sequence, as Feed does, and writes the logits
// of every one of them into logits, which must hold len(ids)*V: row i
// predicts the token after ids[i]. The ids run through the model in chunks
// of up to decodeChunk positions, and ln_f and the head take all of a
// chunk's rows in one product, so scoring M tokens costs about as much as
// feeding them, not M single-row passes.
//
// The numbers are Feed's: with the pure-Go BLAS row i equals, bit for bit,
// the logits Feed returns after ids[i] (and Model.Forward's at that
// position), however the sequence is cut into Feed and FeedAll calls. With
// OpenBLAS a row of the [M, V] head product may round differently from the
// same row alone (see Decoder), so they agree to a few 1e-6 of the row's
// largest logit. It fails, changing nothing, as Feed does, or when logits is
// not len(ids)*V long. FeedAll allocates nothing.
func (d *Decoder) FeedAll(ids []int, logits []float32) error {
	if err := d.check(ids); err != nil {
		return err
	}
	V, C := d.cfg.VocabSize, d.cfg.NEmbd
	if len(logits) != len(ids)*V {
		return fmt.Errorf("decoder: FeedAll of %d ids into %d logits, want %d", len(ids), len(logits), len(ids)*V)
	}
	for len(ids) > 0 {
		m := min(len(ids), d.rows)
		d.embed(ids[:m])
		d.blocks(m)
		d.lmHead(logits[:m*V], d.x[:m*C], m)
		d.n += m
		ids, logits = ids[m:], logits[m*V:]
	}
	return nil
}

// Truncate drops the cached positions from n on, so that the next Feed or
// FeedAll continues the sequence after its first n positions: the keys and
// values of positions before n are those of the tokens fed then, unchanged,
// so a shared prefix need not be run again. n counts the adapter's virtual
// positions, which cannot be dropped (Reset starts over): it must lie in
// [P, Len()]. Truncate(Len()) does nothing. The logits Feed returned last
// are not those of position n-1: feed at least one token for new ones.
func (d *Decoder) Truncate(n int) error {
	if n < d.virtual || n > d.n {
		return fmt.Errorf("decoder: Truncate to %d positions outside [%d, %d]", n, d.virtual, d.n)
	}
	d.n = n
	return nil
}

// check is Feed's and FeedAll's validation of ids.
func (d *Decoder) check(ids []int) error {
	if len(ids) == 0 {
		return errors.New("decoder: Feed with no ids")
	}
	if d.n+len(ids) > d.cfg.NPositions {
		return fmt.Errorf("decoder: %d positions cached + %d new exceed the context of %d", d.n, len(ids), d.cfg.NPositions)
	}
	for i, id := range ids {
		if id < 0 || id >= d.cfg.VocabSize {
			return fmt.Errorf("decoder: id %d at %d outside [0, %d)", id, i, d.cfg.VocabSize)
		}
	}
	return nil
}

// forward embeds the M = len(ids) <= d.rows tokens at positions P..P+M-1
// (P = d.n) and runs them (see run).
func (d *Decoder) forward(ids []int) {
	d.embed(ids)
	d.run(len(ids))
}

// embed writes the embeddings of the M = len(ids) <= d.rows tokens at
// positions P..P+M-1 (P = d.n) into d.x.
func (d *Decoder) embed(ids []int) {
	C := d.cfg.NEmbd
	embeddingForward(d.x[:len(ids)*C], ids, d.wte, d.wpe[d.n*C:], 1, len(ids), C) // [M, C], positions from P
}

// run takes the M embedded rows in d.x through every block as positions
// P..P+M-1 (P = d.n), appending their keys and values to the cache, and
// leaves the logits of the last one in d.logits.
func (d *Decoder) run(M int) {
	d.blocks(M)
	// Only the last position's logits are needed: ln_f and the head on one row.
	C := d.cfg.NEmbd
	d.lmHead(d.logits, d.x[(M-1)*C:M*C], 1)
	d.n += M
}

// lmHead writes into logits [M, V] the logits of the M rows x [M, C] (the
// last block's output): ln_f, then the head, each one call over the M rows.
func (d *Decoder) lmHead(logits, x []float32, M int) {
	cfg := d.cfg
	C := cfg.NEmbd
	layerNormForward(d.h[:M*C], d.mean[:M], d.rstd[:M], x, d.lnfW, d.lnfB, M, C, cfg.LayerNormEpsilon)
	matmulForward(logits, d.h[:M*C], d.head, nil, nil, M, C, cfg.VocabSize, true) // [M, V]
}

// blocks takes the M embedded rows in d.x through every block as positions
// P..P+M-1 (P = d.n), appending their keys and values to the cache and
// leaving the last block's output in d.x; d.n is left to the caller. Each
// kernel is called as the graph's op calls it (see gptForward, block,
// attention, mlp), on M rows.
func (d *Decoder) blocks(M int) {
	cfg := d.cfg
	P, T, C, NH := d.n, cfg.NPositions, cfg.NEmbd, cfg.NHead
	eps := cfg.LayerNormEpsilon
	x, xb, h, y := d.x[:M*C], d.xb[:M*C], d.h[:M*C], d.y[:M*C]
	qkv, pre, sig, act := d.qkv[:M*3*C], d.pre[:M*4*C], d.sig[:M*4*C], d.act[:M*4*C]
	mean, rstd := d.mean[:M], d.rstd[:M]

	for l, w := range d.layers {
		// x = x + c_proj(attention(c_attn(ln_1(x))))
		layerNormForward(h, mean, rstd, x, w.ln1W, w.ln1B, M, C, eps)
		matmulForward(qkv, h, w.attnW, w.attnB, nil, M, C, 3*C, false) // [M, 3C]
		// This layer's cached keys and values, [T, C] each; append the chunk's.
		k, v := d.cache[(2*l)*T*C:(2*l+1)*T*C], d.cache[(2*l+1)*T*C:(2*l+2)*T*C]
		for t := 0; t < M; t++ {
			row := qkv[t*3*C : (t+1)*3*C]
			copy(k[(P+t)*C:(P+t+1)*C], row[C:2*C])
			copy(v[(P+t)*C:(P+t+1)*C], row[2*C:])
		}
		// Queries of the M new positions attend the P cached keys and their own.
		attentionForward(y, d.att[:NH*M*(P+M)], qkv, k, v, 1, M, P, NH, C/NH, 3*C, C, C) // [M, C]
		matmulForward(xb, y, w.projW, w.projB, x, M, C, C, false)
		x, xb = xb, x
		// x = x + c_proj(gelu(c_fc(ln_2(x))))
		layerNormForward(h, mean, rstd, x, w.ln2W, w.ln2B, M, C, eps)
		matmulForward(pre, h, w.fcW, w.fcB, nil, M, C, 4*C, false) // [M, 4C]
		geluForward(act, sig, pre)
		matmulForward(xb, act, w.fcOutW, w.fcOutB, x, M, 4*C, C, false) // [M, C]
		x, xb = xb, x
	}
	// An even number of swaps per layer: the output is back in d.x.
}

// StopReason says why Generate stopped.
type StopReason string

// The reasons Generate stops, checked in this order after each token.
const (
	StopID      StopReason = "stop_id"        // a token of StopIDs was generated
	StopString  StopReason = "stop_string"    // the text reached one of StopStrings
	StopContext StopReason = "context"        // the context n_positions is full
	StopMaxNew  StopReason = "max_new_tokens" // MaxNew tokens were generated
)

// GenerateOptions configure Generate.
type GenerateOptions struct {
	// MaxNew is the most tokens to generate.
	MaxNew int
	// Sampler picks each token from the logits (greedy or seeded sampling).
	Sampler *sample.Sampler
	// StopIDs end the generation when generated (end-of-text, a chat marker).
	StopIDs []int
	// StopStrings end the generation when the generated text contains one;
	// they need Decode.
	StopStrings []string
	// Decode turns ids into text. When set, Generation.Text holds the text.
	Decode func(ids []int) []byte
}

// Generation is what Generate produced.
type Generation struct {
	// IDs are the generated tokens, without the prompt. A stop id or the
	// tokens that completed a stop string are included (a policy's log-probs
	// need them).
	IDs []int
	// Text is Decode(IDs) without a final stop id and cut before the first
	// stop string; nil when no Decode was given.
	Text []byte
	// Stop says why the generation ended.
	Stop StopReason
}

// Generate resets d, feeds the prompt, then draws tokens one at a time with
// o.Sampler, each new token costing one position of the cache, until
// o.MaxNew tokens, a stop id, a stop string or a full context. ctx is checked
// before each token.
func Generate(ctx context.Context, d *Decoder, prompt []int, o GenerateOptions) (Generation, error) {
	switch {
	case len(prompt) == 0:
		return Generation{}, errors.New("generate: empty prompt (GPT-2 starts unconditioned text with <|endoftext|>)")
	case o.MaxNew < 0:
		return Generation{}, fmt.Errorf("generate: MaxNew %d < 0", o.MaxNew)
	case o.Sampler == nil:
		return Generation{}, errors.New("generate: no Sampler")
	case len(o.StopStrings) > 0 && o.Decode == nil:
		return Generation{}, errors.New("generate: stop strings need Decode")
	}
	d.Reset()
	logits, err := d.Feed(prompt)
	if err != nil {
		return Generation{}, fmt.Errorf("generate: prompt of %d tokens: %w", len(prompt), err)
	}
	g := Generation{Stop: StopMaxNew}
	for len(g.IDs) < o.MaxNew {
		if err := ctx.Err(); err != nil {
			return g, err
		}
		id, err := o.Sampler.Next(logits)
		if err != nil {
			return g, fmt.Errorf("generate: token %d: %w", len(g.IDs), err)
		}
		g.IDs = append(g.IDs, id)
		if slices.Contains(o.StopIDs, id) {
			g.Stop = StopID
			break
		}
		if len(o.StopStrings) > 0 {
			// The whole text again: a stop string may span tokens, and a
			// token may end inside a multi-byte character.
			if _, stopped := sample.StopAt(o.Decode(g.IDs), o.StopStrings); stopped {
				g.Stop = StopString
				break
			}
		}
		if d.Len() == d.cfg.NPositions {
			g.Stop = StopContext
			break
		}
		if logits, err = d.Feed(g.IDs[len(g.IDs)-1:]); err != nil {
			return g, err
		}
	}
	if o.Decode != nil {
		ids := g.IDs
		if g.Stop == StopID {
			ids = ids[:len(ids)-1]
		}
		g.Text = o.Decode(ids)
		cut, _ := sample.StopAt(g.Text, o.StopStrings)
		g.Text = g.Text[:cut]
	}
	return g, nil
}
