package losses

import "testing"

// (1 + 3) / 2 = 2: the pad's 100 is neither summed nor counted.
func TestMaskedMean(t *testing.T) {
	got, err := MaskedMean([]float32{1, 100, 3}, []bool{true, false, true})
	if err != nil || got != 2 {
		t.Errorf("MaskedMean = %g, %v; want 2", got, err)
	}
	if _, err := MaskedMean([]float64{1}, []bool{false}); err == nil {
		t.Error("a mask without a real position must be refused")
	}
	if _, err := MaskedMean([]float64{1, 2}, []bool{true}); err == nil {
		t.Error("a mask of the wrong length must be refused")
	}
}
