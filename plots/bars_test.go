package plots

import (
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotutil"
)

// TestBarsHeights draws one group with bars 0.8 and 0.4 high and counts each series' colour in the PNG:
// the first bar must cover about twice the pixels of the second (their legend swatches are equal). Then
// the second is NaN and must leave no bar.
func TestBarsHeights(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bars.png")
	series := []BarSeries{
		{Name: "sft", Value: []float64{0.8}, Low: []float64{0.7}, High: []float64{0.9}},
		{Name: "dpo", Value: []float64{0.4}, Low: []float64{0.3}, High: []float64{0.5}},
	}
	if err := Bars(out, "eval", "accuracy", []string{"arithmetic 0-shot"}, series); err != nil {
		t.Fatal(err)
	}
	counts := colorCounts(t, out)
	if counts[1] == 0 || float64(counts[0])/float64(counts[1]) < 1.7 || float64(counts[0])/float64(counts[1]) > 2.1 {
		t.Fatalf("pixels of the 0.8 bar %d, of the 0.4 bar %d; want a ratio near 2", counts[0], counts[1])
	}
	// Not measured: the second series keeps only its legend swatch, and its error bar may be anything.
	series[1] = BarSeries{Name: "dpo", Value: []float64{math.NaN()}, Low: []float64{5}, High: []float64{-5}}
	if err := Bars(out, "eval", "accuracy", []string{"arithmetic 0-shot"}, series); err != nil {
		t.Fatal(err)
	}
	if missing := colorCounts(t, out); missing[1]*10 > counts[1] {
		t.Fatalf("a NaN bar left %d pixels of its colour, the 0.4 bar had %d", missing[1], counts[1])
	}
}

// colorCounts counts the pixels of the first two series' colours in a 768x480 PNG.
func colorCounts(t *testing.T, path string) [2]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() != 768 || b.Dy() != 480 {
		t.Fatalf("image %v", b)
	}
	var counts [2]int
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			for j := range counts {
				if sameColor(img.At(x, y), plotutil.Color(j)) {
					counts[j]++
				}
			}
		}
	}
	return counts
}

func sameColor(a, b color.Color) bool {
	r1, g1, b1, _ := a.RGBA()
	r2, g2, b2, _ := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2
}

func TestBarsRejects(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bars.png")
	for _, c := range []struct {
		name   string
		groups []string
		s      BarSeries
		want   string
	}{
		{"short", []string{"a", "b"}, BarSeries{Name: "x", Value: []float64{1}, Low: []float64{1}, High: []float64{1}}, "1 values"},
		{"outside", []string{"a"}, BarSeries{Name: "x", Value: []float64{0.5}, Low: []float64{0.6}, High: []float64{0.9}}, "outside its error bar"},
		{"empty", nil, BarSeries{Name: "x"}, "0 groups"},
	} {
		err := Bars(out, "t", "y", c.groups, []BarSeries{c.s})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a rejected chart left a file: %v", err)
	}
}
