package textdata

import (
	"testing"
)

// TestLoadPairs: of four pairs with T = 24, one is identical in the file and one differs only past
// token 24; both are dropped and counted. Sides are truncated to T tokens, not T+1.
func TestLoadPairs(t *testing.T) {
	tok := testTokenizer(t)
	path := writeFile(t, "prefs.jsonl", `{"prompt": "Q<|endoftext|>:", "chosen": " yes", "rejected": " no"}
{"prompt": "Q:", "chosen": " same", "rejected": " same"}
{"prompt": "Q: abcdefghijklmnopqrs", "chosen": "tu", "rejected": "tv"}
{"prompt": "Q: abcdefghijklmnopqrs", "chosen": "tuv", "rejected": "tuw"}
`)
	pairs, st, err := LoadPairs(path, tok, 24)
	if err != nil {
		t.Fatal(err)
	}
	// The prompt of lines 3 and 4 is 22 tokens: their sides of 25 and 26 tokens lose 1 and 2 each.
	want := Stats{Records: 4, Kept: 2, Truncated: 4, TokensCut: 1 + 1 + 2 + 2, Identical: 2}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	if len(pairs) != 2 {
		t.Fatalf("%d pairs", len(pairs))
	}
	checkSlice(t, "line 1 chosen", pairs[0].Chosen.IDs, concat(bytesIDs("Q<|endoftext|>: yes"), []int{idEOT}))
	checkSlice(t, "line 3 rejected", pairs[1].Rejected.IDs, bytesIDs("Q: abcdefghijklmnopqrstv"))
}

// TestPairBatch: chosen rows first, then rejected rows; weights cover each completion and its
// <|endoftext|>; Last is the closing <|endoftext|>, though pad = <|endoftext|> and the prompt holds one.
func TestPairBatch(t *testing.T) {
	const eot = 9
	pairs := []Pair{
		{Chosen: Sequence{IDs: []int{eot, 1, 2, eot}, Loss: []bool{false, false, true, true}},
			Rejected: Sequence{IDs: []int{eot, 1, 3, 3, eot}, Loss: []bool{false, false, true, true, true}}},
		{Chosen: Sequence{IDs: []int{4, 5}, Loss: []bool{false, true}},
			Rejected: Sequence{IDs: []int{4, 6, eot}, Loss: []bool{false, true, true}}},
	}
	b, err := PairBatch(pairs, 5, eot)
	if err != nil {
		t.Fatal(err)
	}
	checkSlice(t, "IDs", b.IDs, []int{
		eot, 1, 2, eot, eot, // pair 0 chosen
		4, 5, eot, eot, eot, // pair 1 chosen
		eot, 1, 3, 3, eot, // pair 0 rejected
		4, 6, eot, eot, eot}) // pair 1 rejected
	checkSlice(t, "Weights", b.Weights, []float32{
		0, 1, 1, 0, 0,
		1, 0, 0, 0, 0,
		0, 1, 1, 1, 0,
		1, 1, 0, 0, 0})
	checkSlice(t, "Last", b.Last, []int{3, 1, 4, 2})
	if b.B != 4 {
		t.Errorf("B = %d, want 4", b.B)
	}
	if _, err := PairBatch(pairs, 4, eot); err == nil || err.Error() != "pair 0 has a side of 5 tokens and 5 loss flags; a row of 4 positions takes 1 to 4 tokens" {
		t.Errorf("a side of T+1 tokens: error %v", err)
	}
}
