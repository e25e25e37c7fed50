package textdata

import (
	"slices"
	"testing"
)

// TestPadBatchPadIsEOT is Batch's doc example with pad = <eot> = 9, plus a second row whose prompt holds
// a 9 too: the real <eot> target is trained, the pad targets are not, and Last comes from the mask
// (the first 9 of row 1 is at position 0, its last real token at 3).
func TestPadBatchPadIsEOT(t *testing.T) {
	const eot = 9
	seqs := []Sequence{
		{IDs: []int{1, 2, 3, eot}, Loss: []bool{false, false, true, true}},
		{IDs: []int{eot, 5, 6, eot}, Loss: []bool{false, false, true, true}},
	}
	b, err := PadBatch(seqs, 6, eot)
	if err != nil {
		t.Fatal(err)
	}
	checkSlice(t, "IDs", b.IDs, []int{1, 2, 3, eot, eot, eot, eot, 5, 6, eot, eot, eot})
	checkSlice(t, "Targets", b.Targets, []int{2, 3, eot, eot, eot, eot, 5, 6, eot, eot, eot, eot})
	checkSlice(t, "Weights", b.Weights, []float32{0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0})
	checkSlice(t, "Mask", b.Mask, []int{1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0})
	checkSlice(t, "Last", b.Last, []int{3, 3})
	if b.B != 2 || b.T != 6 || b.TargetCount() != 4 {
		t.Errorf("B %d T %d TargetCount %d, want 2 6 4", b.B, b.T, b.TargetCount())
	}
}

// TestPadBatchFullRow: a sequence of T+1 tokens fills the row; its last token is only a target.
func TestPadBatchFullRow(t *testing.T) {
	b, err := PadBatch([]Sequence{{IDs: []int{1, 2, 3, 4}, Loss: []bool{false, true, true, true}}}, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.IDs, []int{1, 2, 3}) || !slices.Equal(b.Targets, []int{2, 3, 4}) ||
		!slices.Equal(b.Weights, []float32{1, 1, 1}) || !slices.Equal(b.Mask, []int{1, 1, 1}) || b.Last[0] != 2 {
		t.Errorf("batch %+v", b)
	}
}

// TestBatchNoTargets: a batch whose sequences carry no loss has TargetCount 0, for the trainer to skip.
func TestBatchNoTargets(t *testing.T) {
	b, err := PadBatch([]Sequence{{IDs: []int{1, 2}, Loss: []bool{true, false}}}, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := b.TargetCount(); n != 0 {
		t.Errorf("TargetCount = %d, want 0 (a loss flag on the first token is never a target)", n)
	}
}

// TestPadBatchLengths: rows take 1 to T+1 tokens.
func TestPadBatchLengths(t *testing.T) {
	long := Sequence{IDs: []int{1, 2, 3, 4, 5}, Loss: make([]bool, 5)}
	_, err := PadBatch([]Sequence{{IDs: []int{1}, Loss: []bool{false}}, long}, 3, 0)
	if want := "sequence 1 has 5 tokens and 5 loss flags; a row of 3 positions takes 1 to 4 tokens"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	if _, err := PadBatch([]Sequence{{}}, 3, 0); err == nil {
		t.Error("an empty sequence was laid out")
	}
}

func checkSlice[T comparable](t *testing.T, name string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}
