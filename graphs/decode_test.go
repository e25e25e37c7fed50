package graphs

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"pipeline/sample"
)

// fullForward runs Model.Forward on one sequence and returns a copy of its
// logits [len(ids), V].
func fullForward(t *testing.T, cfg *Config, p *Params, ids []int) []float32 {
	t.Helper()
	m, err := NewModel(cfg, p, 1, len(ids), false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	logits, err := m.Forward(ids)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Clone(logits)
}

func newDecoder(t testing.TB, cfg *Config, p *Params) *Decoder {
	t.Helper()
	d, err := NewDecoder(cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// decodeTol bounds |decoder - full forward| relative to the row's largest
// |logit| when the BLAS is OpenBLAS. Its sgemm rounds a row differently
// depending on where the row falls in its kernel blocking, so a row computed
// alone (a decoded token) and the same row inside a [T, C] product differ in
// the last bits; so do two full forwards of different lengths. For this
// test's model the worst over 29 sequences of 80 tokens was 2.4e-6. With the
// pure-Go BLAS every row is the same sequential dot product and the logits
// are bit-identical, which checkSame then demands.
const decodeTol = 5e-6

// checkSame compares one row of logits with the full forward's: bit for bit
// under the pure-Go BLAS, within decodeTol under OpenBLAS. It returns the
// worst difference relative to the row's largest |logit|.
func checkSame(t *testing.T, what string, got, want []float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d logits, want %d", what, len(got), len(want))
	}
	var differ int
	var worst, scale float64
	for i, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
		if math.Float32bits(got[i]) != math.Float32bits(w) {
			differ++
			worst = math.Max(worst, math.Abs(float64(got[i])-float64(w)))
		}
	}
	worst /= scale
	if (BLASName == "gonum" && differ > 0) || worst > decodeTol {
		t.Errorf("%s (%s): %d of %d logits differ from the full forward, worst by %.3g of the row's max |logit| %.3g",
			what, BLASName, differ, len(want), worst, scale)
	}
	return worst
}

// feedOneByOne feeds ids one at a time, checks each position's logits
// against want [len(ids), V] and returns the worst relative difference.
func feedOneByOne(t *testing.T, what string, d *Decoder, ids []int, want []float32) float64 {
	t.Helper()
	V := len(want) / len(ids)
	worst := 0.0
	for i, id := range ids {
		got, err := d.Feed([]int{id})
		if err != nil {
			t.Fatalf("%s: Feed at position %d: %v", what, i, err)
		}
		worst = math.Max(worst, checkSame(t, what+": position "+strconv.Itoa(i), got, want[i*V:(i+1)*V]))
	}
	if d.Len() != len(ids) {
		t.Errorf("%s: Len %d after %d tokens", what, d.Len(), len(ids))
	}
	return worst
}

// TestDecoderMatchesGolden: on the golden checkpoint, feeding the
// reference's ids one token at a time gives at every position the full
// forward pass's logits (see checkSame), and PyTorch's (forward.json) within
// 1e-5, the bound the full forward meets.
func TestDecoderMatchesGolden(t *testing.T) {
	cfg, p, err := Load(goldenDir(t))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, ref := golden(t)
	d := newDecoder(t, cfg, p)
	V := cfg.VocabSize
	for b, row := range rows {
		worstFull := feedOneByOne(t, "golden row "+strconv.Itoa(b), d, row, fullForward(t, cfg, p, row))
		d.Reset()
		worstRef := 0.0
		for i, id := range row {
			got, err := d.Feed([]int{id})
			if err != nil {
				t.Fatal(err)
			}
			for v := 0; v < V; v++ {
				worstRef = math.Max(worstRef, math.Abs(float64(got[v])-ref[b][i][v]))
			}
		}
		if worstRef > 1e-5 {
			t.Errorf("row %d: worst difference from the reference's logits %.3g > 1e-5", b, worstRef)
		}
		t.Logf("row %d (%s): worst difference from the full forward %.3g of the row's max |logit|, from PyTorch %.3g",
			b, BLASName, worstFull, worstRef)
		d.Reset()
	}
}

// randomModel is an untied model whose context (80) is longer than
// decodeChunk, with weights large enough that every layer matters.
func randomModel(t testing.TB) (*Config, *Params) {
	t.Helper()
	cfg := NewConfig(97, 80, 48, 3, 4)
	cfg.TieWordEmbeddings = false
	p := NewParams(cfg)
	p.Init(7, 0.3)
	return cfg, p
}

func randomIDs(n, vocab int, seed uint64) []int {
	ids := make([]int, n)
	x := seed
	for i := range ids {
		x = x*6364136223846793005 + 1442695040888963407
		ids[i] = int(x>>33) % vocab
	}
	return ids
}

// TestDecoderRandomModel: one token at a time over the whole context, the
// whole context in one Feed (two chunks inside), and uneven pieces all give
// the full forward's logits (see checkSame); a Feed past the context fails.
func TestDecoderRandomModel(t *testing.T) {
	cfg, p := randomModel(t)
	T, V := cfg.NPositions, cfg.VocabSize
	ids := randomIDs(T, V, 3)
	want := fullForward(t, cfg, p, ids)
	d := newDecoder(t, cfg, p)
	worst := feedOneByOne(t, "one by one", d, ids, want)
	t.Logf("%s: worst difference from the full forward over %d positions: %.3g of the row's max |logit|", BLASName, T, worst)
	if _, err := d.Feed([]int{1}); err == nil {
		t.Error("Feed past the context succeeded")
	}
	if d.Len() != T {
		t.Errorf("a failed Feed changed Len to %d", d.Len())
	}

	d.Reset()
	got, err := d.Feed(ids)
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, "whole context in one Feed", got, want[(T-1)*V:])

	d.Reset()
	for _, end := range []int{5, 35, 36, T} {
		got, err := d.Feed(ids[d.Len():end])
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, "pieces: position "+strconv.Itoa(end-1), got, want[(end-1)*V:end*V])
	}
}

// TestDecoderSeesParamUpdates: the decoder's weights are views of the slab,
// so after changing Params.Data a fresh sequence matches the new model.
func TestDecoderSeesParamUpdates(t *testing.T) {
	cfg, p := randomModel(t)
	ids := randomIDs(6, cfg.VocabSize, 4)
	d := newDecoder(t, cfg, p)
	before, err := d.Feed(ids)
	if err != nil {
		t.Fatal(err)
	}
	before = slices.Clone(before)
	for i := range p.Data {
		p.Data[i] *= 1.01
	}
	want := fullForward(t, cfg, p, ids)
	d.Reset()
	got, err := d.Feed(ids)
	if err != nil {
		t.Fatal(err)
	}
	V := cfg.VocabSize
	checkSame(t, "after the update", got, want[5*V:])
	if slices.Equal(got, before) {
		t.Error("logits did not change with the weights")
	}
}

func TestDecoderErrors(t *testing.T) {
	cfg, p := randomModel(t)
	d := newDecoder(t, cfg, p)
	for _, ids := range [][]int{nil, {1, 97}, {-1}} {
		if _, err := d.Feed(ids); err == nil {
			t.Errorf("Feed(%v) succeeded", ids)
		}
	}
	if d.Len() != 0 {
		t.Errorf("failed Feeds left Len %d", d.Len())
	}
	other := *cfg
	other.NLayer = 2
	if _, err := NewDecoder(&other, p); err == nil {
		t.Error("NewDecoder accepted params of a 3-layer model for a 2-layer config")
	}
	bad := *cfg
	bad.NHead = 5
	if _, err := NewDecoder(&bad, p); err == nil {
		t.Error("NewDecoder accepted n_embd 48 with 5 heads")
	}
}

// argmaxChain is greedy decoding done the slow way: a full forward pass
// over the whole context for every token (ids padded with 0 to T; causality
// makes the padding irrelevant to the positions before it).
func argmaxChain(t *testing.T, cfg *Config, p *Params, prompt []int, n int) []int {
	t.Helper()
	T, V := cfg.NPositions, cfg.VocabSize
	m, err := NewModel(cfg, p, 1, T, false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	seq := slices.Clone(prompt)
	for len(seq) < len(prompt)+n {
		padded := make([]int, T)
		copy(padded, seq)
		logits, err := m.Forward(padded)
		if err != nil {
			t.Fatal(err)
		}
		id, err := sample.Greedy(logits[(len(seq)-1)*V : len(seq)*V])
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, id)
	}
	return seq[len(prompt):]
}

func newSampler(t *testing.T, seed uint64, o sample.Options) *sample.Sampler {
	t.Helper()
	s, err := sample.New(seed, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// letters decodes id i as the letter 'a' + i%26, so texts are easy to read.
func letters(ids []int) []byte {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte('a' + id%26)
	}
	return b
}

func TestGenerateGreedyAndStops(t *testing.T) {
	cfg, p := randomModel(t)
	d := newDecoder(t, cfg, p)
	prompt := randomIDs(7, cfg.VocabSize, 5)
	want := argmaxChain(t, cfg, p, prompt, 20)
	greedy := func() *sample.Sampler { return newSampler(t, 1, sample.Options{}) }
	ctx := context.Background()

	g, err := Generate(ctx, d, prompt, GenerateOptions{MaxNew: 20, Sampler: greedy(), Decode: letters})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.IDs, want) || g.Stop != StopMaxNew || string(g.Text) != string(letters(want)) {
		t.Fatalf("greedy: %v %q (%s), want %v %q (max_new_tokens)", g.IDs, g.Text, g.Stop, want, letters(want))
	}

	// Stop at the id generated 6th: it is kept in IDs, left out of Text.
	stop := want[5]
	k := slices.Index(want, stop) // an earlier occurrence stops first
	g, err = Generate(ctx, d, prompt, GenerateOptions{MaxNew: 20, Sampler: greedy(), StopIDs: []int{stop}, Decode: letters})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.IDs, want[:k+1]) || g.Stop != StopID || string(g.Text) != string(letters(want[:k])) {
		t.Errorf("stop id %d: %v %q (%s), want %v %q (stop_id)", stop, g.IDs, g.Text, g.Stop, want[:k+1], letters(want[:k]))
	}

	// Stop at the text of tokens 8 and 9: generation ends with token 9 and
	// the text is cut before the stop string's first occurrence.
	s := string(letters(want[8:10]))
	full := string(letters(want))
	first := strings.Index(full, s)
	g, err = Generate(ctx, d, prompt, GenerateOptions{MaxNew: 20, Sampler: greedy(), StopStrings: []string{"zzzz", s}, Decode: letters})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.IDs, want[:first+2]) || g.Stop != StopString || string(g.Text) != full[:first] {
		t.Errorf("stop string %q: %v %q (%s), want %v %q (stop_string)", s, g.IDs, g.Text, g.Stop, want[:first+2], full[:first])
	}

	// A prompt 3 short of the context: 3 tokens fill it, a 4th is still
	// predicted from the last position.
	long := randomIDs(cfg.NPositions-3, cfg.VocabSize, 6)
	g, err = Generate(ctx, d, long, GenerateOptions{MaxNew: 10, Sampler: greedy()})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.IDs) != 4 || g.Stop != StopContext || g.Text != nil {
		t.Errorf("near the context end: %d tokens (%s), text %q; want 4 (context), no text", len(g.IDs), g.Stop, g.Text)
	}
	if wantLong := argmaxChain(t, cfg, p, long, 3); !slices.Equal(g.IDs[:3], wantLong) {
		t.Errorf("near the context end: %v, full forwards give %v", g.IDs[:3], wantLong)
	}
}

// TestGenerateSampled: seeded sampling through the cache draws exactly the
// tokens the same sampler draws from full forward passes, and a different
// seed draws others.
func TestGenerateSampled(t *testing.T) {
	cfg, p := randomModel(t)
	T, V := cfg.NPositions, cfg.VocabSize
	o := sample.Options{Temperature: 1.3, TopK: 40, TopP: 0.95}
	prompt := randomIDs(4, V, 8)
	d := newDecoder(t, cfg, p)
	gen := func(seed uint64) []int {
		g, err := Generate(context.Background(), d, prompt, GenerateOptions{MaxNew: 30, Sampler: newSampler(t, seed, o)})
		if err != nil {
			t.Fatal(err)
		}
		return g.IDs
	}
	a := gen(11)

	m, err := NewModel(cfg, p, 1, T, false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s := newSampler(t, 11, o)
	seq := slices.Clone(prompt)
	for len(seq) < len(prompt)+30 {
		padded := make([]int, T)
		copy(padded, seq)
		logits, err := m.Forward(padded)
		if err != nil {
			t.Fatal(err)
		}
		id, err := s.Next(logits[(len(seq)-1)*V : len(seq)*V])
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, id)
	}
	if !slices.Equal(a, seq[len(prompt):]) {
		t.Errorf("seed 11 through the cache drew %v, through full forwards %v", a, seq[len(prompt):])
	}
	if b := gen(11); !slices.Equal(a, b) {
		t.Errorf("seed 11 drew %v, then %v", a, b)
	}
	if c := gen(12); slices.Equal(a, c) {
		t.Errorf("seeds 11 and 12 drew the same %v", a)
	}
}

func TestGenerateErrors(t *testing.T) {
	cfg, p := randomModel(t)
	d := newDecoder(t, cfg, p)
	s := newSampler(t, 1, sample.Options{})
	ctx := context.Background()
	cases := map[string]struct {
		prompt []int
		o      GenerateOptions
	}{
		"empty prompt":          {nil, GenerateOptions{MaxNew: 1, Sampler: s}},
		"no sampler":            {[]int{1}, GenerateOptions{MaxNew: 1}},
		"negative MaxNew":       {[]int{1}, GenerateOptions{MaxNew: -1, Sampler: s}},
		"stop without Decode":   {[]int{1}, GenerateOptions{MaxNew: 1, Sampler: s, StopStrings: []string{"a"}}},
		"prompt past context":   {make([]int, cfg.NPositions+1), GenerateOptions{MaxNew: 1, Sampler: s}},
		"prompt id outside [V)": {[]int{cfg.VocabSize}, GenerateOptions{MaxNew: 1, Sampler: s}},
	}
	for name, c := range cases {
		if _, err := Generate(ctx, d, c.prompt, c.o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Generate(cancelled, d, []int{1}, GenerateOptions{MaxNew: 5, Sampler: s}); err != context.Canceled {
		t.Errorf("cancelled context: %v, want context.Canceled", err)
	}
}

// BenchmarkDecodeToken reports tokens/s of generating one token with the
// cache half full, at the sizes of the -gpt.* flags (the bench
// config by default).
func BenchmarkDecodeToken(b *testing.B) {
	cfg := NewConfig(*benchVocab, *benchCtx, *benchD, *benchLayers, *benchHeads)
	p := NewParams(cfg)
	p.Init(0, 0.02)
	d := newDecoder(b, cfg, p)
	prefix := randomIDs(cfg.NPositions/2, cfg.VocabSize, 1)
	if _, err := d.Feed(prefix); err != nil {
		b.Fatal(err)
	}
	next := []int{1}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.n = len(prefix) // the same position every time, so every token costs the same
		if _, err := d.Feed(next); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// TestDecoderFeedAll: FeedAll's row i is, at every position, the logits Feed
// returns after the same token and the full forward's (see checkSame), for
// the whole context in one call (two chunks inside) and for uneven pieces
// mixed with Feed; a failing FeedAll changes nothing.
func TestDecoderFeedAll(t *testing.T) {
	cfg, p := randomModel(t)
	T, V := cfg.NPositions, cfg.VocabSize
	ids := randomIDs(T, V, 13)
	want := fullForward(t, cfg, p, ids)
	d := newDecoder(t, cfg, p)
	fed := make([]float32, T*V) // Feed's logits, one token at a time
	for i, id := range ids {
		got, err := d.Feed([]int{id})
		if err != nil {
			t.Fatal(err)
		}
		copy(fed[i*V:], got)
	}

	d.Reset()
	all := make([]float32, T*V)
	if err := d.FeedAll(ids, all); err != nil {
		t.Fatal(err)
	}
	if d.Len() != T {
		t.Errorf("Len %d after FeedAll of %d", d.Len(), T)
	}
	worst, worstFeed := 0.0, 0.0
	for i := range ids {
		row := all[i*V : (i+1)*V]
		worst = math.Max(worst, checkSame(t, "FeedAll vs full forward: position "+strconv.Itoa(i), row, want[i*V:(i+1)*V]))
		worstFeed = math.Max(worstFeed, checkSame(t, "FeedAll vs Feed: position "+strconv.Itoa(i), row, fed[i*V:(i+1)*V]))
	}
	t.Logf("%s: FeedAll's worst difference from the full forward %.3g, from Feed %.3g of the row's max |logit|", BLASName, worst, worstFeed)

	// Pieces: FeedAll, Feed, FeedAll across the chunk boundary, one token.
	d.Reset()
	for _, end := range []int{5, 9, 70, T - 1, T} {
		start := d.Len()
		if end == 9 {
			got, err := d.Feed(ids[start:end])
			if err != nil {
				t.Fatal(err)
			}
			checkSame(t, "pieces: Feed at "+strconv.Itoa(end-1), got, want[(end-1)*V:end*V])
			continue
		}
		out := make([]float32, (end-start)*V)
		if err := d.FeedAll(ids[start:end], out); err != nil {
			t.Fatal(err)
		}
		for i := start; i < end; i++ {
			checkSame(t, "pieces: FeedAll at "+strconv.Itoa(i), out[(i-start)*V:(i-start+1)*V], want[i*V:(i+1)*V])
		}
	}

	// Failures change nothing: past the context, a bad id, no ids, a logits
	// slice of the wrong length.
	d.Reset()
	if err := d.FeedAll(ids[:3], make([]float32, 3*V)); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		ids    []int
		logits []float32
	}{
		"past the context": {make([]int, T-2), make([]float32, (T-2)*V)},
		"id outside [V)":   {[]int{1, V}, make([]float32, 2*V)},
		"no ids":           {nil, nil},
		"short logits":     {[]int{1, 2}, make([]float32, 2*V-1)},
	} {
		if err := d.FeedAll(c.ids, c.logits); err == nil {
			t.Errorf("FeedAll %s succeeded", name)
		}
	}
	if d.Len() != 3 {
		t.Errorf("failed FeedAlls left Len %d, want 3", d.Len())
	}
	got, err := d.Feed(ids[3:4])
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, "after failed FeedAlls", got, want[3*V:4*V])
}

// TestDecoderTruncate: truncating to a shared prefix and feeding another
// continuation gives the logits of a fresh Reset and the whole new sequence
// (see checkSame), through Feed and FeedAll; Truncate refuses positions past
// Len or inside an adapter's virtual positions, and with a prefix or prompt
// adapter Truncate(P) starts over as Reset does.
func TestDecoderTruncate(t *testing.T) {
	cfg, p := randomModel(t)
	T, V := cfg.NPositions, cfg.VocabSize
	first, second := randomIDs(T, V, 21), randomIDs(T, V, 22)
	d := newDecoder(t, cfg, p)
	fresh := newDecoder(t, cfg, p)
	for _, keep := range []int{0, 1, 20, 64, 70, T - 1} {
		seq := append(slices.Clone(first[:keep]), second[keep:]...)
		want := make([]float32, T*V)
		fresh.Reset()
		if err := fresh.FeedAll(seq, want); err != nil {
			t.Fatal(err)
		}
		d.Reset()
		if _, err := d.Feed(first[:min(keep+10, T)]); err != nil {
			t.Fatal(err)
		}
		if err := d.Truncate(keep); err != nil {
			t.Fatal(err)
		}
		if d.Len() != keep {
			t.Errorf("Len %d after Truncate(%d)", d.Len(), keep)
		}
		got := make([]float32, (T-keep)*V)
		if err := d.FeedAll(seq[keep:], got); err != nil {
			t.Fatal(err)
		}
		for i := keep; i < T; i++ {
			checkSame(t, "truncated to "+strconv.Itoa(keep)+": position "+strconv.Itoa(i), got[(i-keep)*V:(i-keep+1)*V], want[i*V:(i+1)*V])
		}
		// Feed after a Truncate: one token past the kept prefix.
		if err := d.Truncate(keep); err != nil {
			t.Fatal(err)
		}
		one, err := d.Feed(seq[keep : keep+1])
		if err != nil {
			t.Fatal(err)
		}
		checkSame(t, "Feed after Truncate("+strconv.Itoa(keep)+")", one, want[keep*V:(keep+1)*V])
	}
	d.Reset()
	if _, err := d.Feed(first[:5]); err != nil {
		t.Fatal(err)
	}
	if err := d.Truncate(6); err == nil {
		t.Error("Truncate past Len succeeded")
	}
	if err := d.Truncate(-1); err == nil {
		t.Error("Truncate(-1) succeeded")
	}
	if d.Len() != 5 {
		t.Errorf("failed Truncates left Len %d", d.Len())
	}

	ids := randomIDs(8, V, 23)
	prefix, err := NewPrefix(cfg, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	prompt, err := NewPrompt(cfg, p, PromptOptions{NumVirtualTokens: 5}, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*Adapter{prefix, prompt} {
		P := a.Virtual()
		d, err := NewDecoderWith(cfg, p, a)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(ids)*V)
		if err := d.FeedAll(ids, want); err != nil {
			t.Fatal(err)
		}
		if err := d.Truncate(P - 1); err == nil {
			t.Errorf("%s: Truncate into the virtual positions succeeded", a.Config.PeftType)
		}
		for _, keep := range []int{P, P + 3} {
			if err := d.Truncate(keep); err != nil {
				t.Fatal(err)
			}
			got := make([]float32, (len(ids)-(keep-P))*V)
			if err := d.FeedAll(ids[keep-P:], got); err != nil {
				t.Fatal(err)
			}
			checkSame(t, string(a.Config.PeftType)+" after Truncate("+strconv.Itoa(keep)+")", got, want[(keep-P)*V:])
		}
	}
}
