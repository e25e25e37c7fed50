package textdata

import (
	"slices"
	"testing"
)

// TestEpochsOrder pins the order for n = 5, seed 1: each epoch a permutation, a different one each
// epoch, and the same on every machine and Go release.
func TestEpochsOrder(t *testing.T) {
	e, err := NewEpochs(5, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for range 10 {
		got = append(got, e.Next())
	}
	checkSlice(t, "two epochs", got, []int{4, 0, 3, 2, 1, 2, 4, 1, 3, 0})
	if e.Epoch() != 2 {
		t.Errorf("Epoch = %d after 10 of 5, want 2", e.Epoch())
	}
	if _, err := NewEpochs(0, 1); err == nil {
		t.Error("epochs over no examples")
	}
}

// TestEpochsResume: a position saved mid-epoch and restored into fresh Epochs deals what the original
// goes on to deal, across the epoch boundary.
func TestEpochsResume(t *testing.T) {
	a, _ := NewEpochs(7, 42)
	for range 5 {
		a.Next()
	}
	saved, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewEpochs(7, 42)
	if err := b.UnmarshalBinary(saved); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if x, y := a.Next(), b.Next(); x != y {
			t.Fatalf("index %d after resume: %d, want %d", i, y, x)
		}
	}
	if a.Epoch() != 3 || b.Epoch() != 3 {
		t.Errorf("epochs %d %d after 25 of 7, want 3", a.Epoch(), b.Epoch())
	}
}

// TestEpochsUnmarshalErrors: a position for other data, or bytes that are no position, are refused.
func TestEpochsUnmarshalErrors(t *testing.T) {
	a, _ := NewEpochs(7, 42)
	saved, _ := a.MarshalBinary()
	other, _ := NewEpochs(8, 42)
	if err := other.UnmarshalBinary(saved); err == nil ||
		err.Error() != "saved epoch position is for 7 examples with seed 42, not 8 with seed 42" {
		t.Errorf("other n: error %v", err)
	}
	if err := a.UnmarshalBinary(saved[:20]); err == nil {
		t.Error("short state accepted")
	}
	bad := slices.Clone(saved)
	bad[len(bad)-1] = 7 // pos 7 of 7
	if err := a.UnmarshalBinary(bad); err == nil {
		t.Error("position past the end accepted")
	}
}
