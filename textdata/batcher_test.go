package textdata

import (
	"reflect"
	"testing"
)

// TestBatcherPacks: one sequence of 3 tokens packs three times into a row of T = 8 (9 slots). A loss
// flag on a sequence's first token is never trained, so no weight crosses from one copy to the next.
func TestBatcherPacks(t *testing.T) {
	seq := Sequence{IDs: []int{1, 2, 3}, Loss: []bool{true, true, true}}
	b, err := NewBatcher([]Sequence{seq}, BatchOptions{B: 1, T: 8, Pad: 0, Pack: true, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	got := b.Next()
	checkSlice(t, "IDs", got.IDs, []int{1, 2, 3, 1, 2, 3, 1, 2})
	checkSlice(t, "Targets", got.Targets, []int{2, 3, 1, 2, 3, 1, 2, 3})
	checkSlice(t, "Weights", got.Weights, []float32{1, 1, 0, 1, 1, 0, 1, 1})
	checkSlice(t, "Mask", got.Mask, []int{1, 1, 1, 1, 1, 1, 1, 1})
	checkSlice(t, "Last", got.Last, []int{7})
	if b.Epoch() != 3 {
		t.Errorf("Epoch = %d after three copies of one sequence, want 3", b.Epoch())
	}

	padded, _ := NewBatcher([]Sequence{seq}, BatchOptions{B: 1, T: 8, Pad: 0, Seed: 5})
	checkSlice(t, "padded IDs", padded.Next().IDs, []int{1, 2, 3, 0, 0, 0, 0, 0})
}

// TestBatcherResume: batches dealt after restoring a saved position equal those of the run never
// stopped, packing sequences of different lengths.
func TestBatcherResume(t *testing.T) {
	var seqs []Sequence
	for n := 1; n <= 7; n++ {
		s := Sequence{}
		for i := range n {
			s.IDs = append(s.IDs, 10*n+i)
			s.Loss = append(s.Loss, i%2 == 1)
		}
		seqs = append(seqs, s)
	}
	opts := BatchOptions{B: 2, T: 6, Pad: 0, Pack: true, Seed: 9}
	a, err := NewBatcher(seqs, opts)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		a.Next()
	}
	saved, _ := a.MarshalBinary()
	b, _ := NewBatcher(seqs, opts)
	if err := b.UnmarshalBinary(saved); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if x, y := a.Next(), b.Next(); !reflect.DeepEqual(x, y) {
			t.Fatalf("batch %d after resume:\n%+v\nwant\n%+v", i, y, x)
		}
	}
	if _, err := NewBatcher(seqs, BatchOptions{B: 2, T: 5, Pack: true}); err == nil {
		t.Error("a sequence of 7 tokens accepted for rows of 5")
	}
}

// TestPairBatcher: B pairs give 2B rows, chosen then rejected; the position resumes; packing is refused.
func TestPairBatcher(t *testing.T) {
	pairs := []Pair{
		{Chosen: Sequence{IDs: []int{1, 2}, Loss: []bool{false, true}}, Rejected: Sequence{IDs: []int{1, 3}, Loss: []bool{false, true}}},
		{Chosen: Sequence{IDs: []int{4, 5}, Loss: []bool{false, true}}, Rejected: Sequence{IDs: []int{4, 6}, Loss: []bool{false, true}}},
		{Chosen: Sequence{IDs: []int{7, 8}, Loss: []bool{false, true}}, Rejected: Sequence{IDs: []int{7, 9}, Loss: []bool{false, true}}},
	}
	opts := BatchOptions{B: 2, T: 3, Pad: 0, Seed: 1}
	p, err := NewPairBatcher(pairs, opts)
	if err != nil {
		t.Fatal(err)
	}
	first := p.Next()
	if first.B != 4 {
		t.Fatalf("B = %d, want 4", first.B)
	}
	for r := range 2 { // row r and row r+2 are the same pair: same prompt token, then 2,5,8 vs 3,6,9
		c, j := first.IDs[r*3:r*3+3], first.IDs[(r+2)*3:(r+2)*3+3]
		if c[0] != j[0] || j[1] != c[1]+1 {
			t.Errorf("rows %d and %d are not one pair's chosen and rejected: %v %v", r, r+2, c, j)
		}
	}
	saved, _ := p.MarshalBinary()
	q, _ := NewPairBatcher(pairs, opts)
	if err := q.UnmarshalBinary(saved); err != nil {
		t.Fatal(err)
	}
	if x, y := p.Next(), q.Next(); !reflect.DeepEqual(x, y) {
		t.Errorf("after resume %+v, want %+v", y, x)
	}
	if _, err := NewPairBatcher(pairs, BatchOptions{B: 2, T: 3, Pack: true}); err == nil {
		t.Error("packed pairs accepted")
	}
}
