package objective

import (
	"reflect"
	"testing"
)

// Two rows collated from two windows: each row's targets are its own window shifted once; no target of
// row 0 comes from row 1's window.
func TestCausalShiftsOnceWithinEachRow(t *testing.T) {
	o, err := New("causal")
	if err != nil {
		t.Fatal(err)
	}
	const T = 4
	windows := [][]uint32{{10, 11, 12, 13, 14}, {20, 21, 22, 23, 24}}
	ids, targets, weights := make([]int, 2*T), make([]int, 2*T), make([]float32, 2*T)
	for r, w := range windows {
		if len(w) != o.Window(T) {
			t.Fatalf("window of %d tokens, objective wants %d", len(w), o.Window(T))
		}
		o.Collate(w, ids[r*T:(r+1)*T], targets[r*T:(r+1)*T], weights[r*T:(r+1)*T])
	}
	if want := []int{10, 11, 12, 13, 20, 21, 22, 23}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	if want := []int{11, 12, 13, 14, 21, 22, 23, 24}; !reflect.DeepEqual(targets, want) {
		t.Errorf("targets %v, want %v", targets, want)
	}
	if want := []float32{1, 1, 1, 1, 1, 1, 1, 1}; !reflect.DeepEqual(weights, want) {
		t.Errorf("weights %v", weights)
	}
	if _, err := New("mlm"); err == nil {
		t.Error("an objective not built yet must be refused")
	}
}
