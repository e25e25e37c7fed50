package evaluate

import (
	"fmt"
	"math"
	"reflect"
	"testing"
)

// byteEncoder is a fake tokenizer: every byte is the token with its value.
type byteEncoder struct{}

func (byteEncoder) Encode(text string) []int {
	ids := make([]int, len(text))
	for i := range len(text) {
		ids[i] = int(text[i])
	}
	return ids
}

func (b byteEncoder) EncodeOffsets(text string, _ bool) ([]int, [][2]int) {
	spans := make([][2]int, len(text))
	for i := range spans {
		spans[i] = [2]int{i, i + 1}
	}
	return b.Encode(text), spans
}

// bigramScorer is a fake model that reads only the previous token: p(x | prev) = 1/2 when x = prev+1
// ("b" after "a") and 1/4 otherwise. It refuses windows longer than maxLen and records those it scores.
type bigramScorer struct {
	maxLen  int
	windows []Window
}

func (s *bigramScorer) LogLikelihood(context, continuation []int) (float64, bool, error) {
	if len(context) == 0 || len(context)+len(continuation)-1 > s.maxLen {
		return 0, false, fmt.Errorf("window of %d + %d tokens", len(context), len(continuation))
	}
	s.windows = append(s.windows, Window{context, continuation})
	prev, ll := context[len(context)-1], 0.0
	for _, x := range continuation {
		if x == prev+1 {
			ll += math.Log(0.5)
		} else {
			ll += math.Log(0.25)
		}
		prev = x
	}
	return ll, false, nil
}

func TestWindowsByHand(t *testing.T) {
	const P = -1
	for _, c := range []struct {
		n, maxLen int
		want      []Window
	}{
		{5, 3, []Window{{[]int{P}, []int{0, 1, 2}}, {[]int{1, 2}, []int{3, 4}}}},
		{4, 2, []Window{{[]int{P}, []int{0, 1}}, {[]int{1}, []int{2, 3}}}},
		{2, 4, []Window{{[]int{P}, []int{0, 1}}}},
		{3, 1, []Window{{[]int{P}, []int{0}}, {[]int{0}, []int{1}}, {[]int{1}, []int{2}}}},
	} {
		tokens := []int{0, 1, 2, 3, 4}[:c.n]
		got, err := Windows(tokens, P, c.maxLen)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("n=%d maxLen=%d: %v, %v; want %v", c.n, c.maxLen, got, err, c.want)
		}
	}
	if _, err := Windows([]int{1}, P, 0); err == nil {
		t.Error("maxLen 0 accepted")
	}
}

// TestPerplexityByHand: "abcd" costs p(a|prefix) p(b|a) p(c|b) p(d|c) = 1/4 · 1/2 · 1/2 · 1/2, 5 bits;
// "xyz" 1/4 · 1/2 · 1/2, 4 bits. So NLL = 9 ln 2 over 7 tokens, 7 bytes and 2 words: 9/7 bits per byte,
// token and byte perplexity 2^(9/7), word perplexity 2^(9/2). With maxLen 2, "abcd" is scored as
// [P]|[a b] and [b]|[c d]: a window that lost its one token of context would score c after the prefix
// at 1/4, and the total would be 10 bits. The short last window of "xyz" reads [x y]|[z].
func TestPerplexityByHand(t *testing.T) {
	s := &bigramScorer{maxLen: 2}
	r, err := Perplexity(s, Tokens{Enc: byteEncoder{}, Prefix: 0}, 2, []string{"abcd", "", "xyz"})
	if err != nil {
		t.Fatal(err)
	}
	bits := 9.0
	want := TextScore{Docs: 3, Tokens: 7, Words: 2, Bytes: 7, NLL: bits * math.Ln2,
		TokenPerplexity: math.Pow(2, bits/7), WordPerplexity: math.Pow(2, bits/2), BytePerplexity: math.Pow(2, bits/7),
		BitsPerByte: bits / 7}
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"nll", r.NLL, want.NLL}, {"token ppl", r.TokenPerplexity, want.TokenPerplexity},
		{"word ppl", r.WordPerplexity, want.WordPerplexity}, {"byte ppl", r.BytePerplexity, want.BytePerplexity},
		{"bits per byte", r.BitsPerByte, want.BitsPerByte},
	} {
		if math.Abs(f.got-f.want) > 1e-12 {
			t.Errorf("%s = %.15g, want %.15g", f.name, f.got, f.want)
		}
	}
	if r.Docs != 3 || r.Tokens != 7 || r.Words != 2 || r.Bytes != 7 {
		t.Errorf("counts %+v", r)
	}
	wantWindows := []Window{{[]int{0}, []int{'a', 'b'}}, {[]int{'b'}, []int{'c', 'd'}},
		{[]int{0}, []int{'x', 'y'}}, {[]int{'x', 'y'}, []int{'z'}}}
	if !reflect.DeepEqual(s.windows, wantWindows) {
		t.Errorf("windows %v, want %v", s.windows, wantWindows)
	}
	if _, err := Perplexity(s, Tokens{Enc: byteEncoder{}}, 2, []string{""}); err == nil {
		t.Error("perplexity of no text accepted")
	}
}
