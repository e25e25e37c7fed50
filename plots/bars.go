package plots

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// BarSeries is one bar in every group: its height there and the ends of its error bar (absolute values,
// Low <= Value <= High). A NaN Value means not measured: no bar and no error bar in that group.
type BarSeries struct {
	Name             string
	Value, Low, High []float64
}

// Bars draws a grouped bar chart and saves it as a PNG: one group of bars per name in groups along the x
// axis (a name may hold "\n" to break its label), one bar per series in each group (left to right in
// series order, one colour per series, named in the legend), each with a vertical error bar from Low to
// High. The y axis runs from 0 (or the lowest Low) to 1.2 times the highest High (1.2 when that is not
// positive), leaving the legend room.
//
// Group g spans x in [g-0.4, g+0.4]; with m series, bar j of it is centred at g - 0.4 + (j+0.5)·0.8/m.
// Bar widths are in points, so they are set to that share of the 8-inch canvas less about an inch of axis.
func Bars(pngPath, title, ylabel string, groups []string, series []BarSeries) error {
	if len(groups) == 0 || len(series) == 0 {
		return fmt.Errorf("bar chart %s: %d groups, %d series; need at least one of each", pngPath, len(groups), len(series))
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	p.NominalX(groups...)
	p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5
	p.Legend.Top = true
	bottom, top := 0.0, 0.0
	step := 0.8 / float64(len(series))
	width := vg.Length(step) * 7 * vg.Inch / vg.Length(len(groups))
	for j, s := range series {
		if len(s.Value) != len(groups) || len(s.Low) != len(groups) || len(s.High) != len(groups) {
			return fmt.Errorf("bar chart %s: series %q has %d values, %d lows, %d highs for %d groups",
				pngPath, s.Name, len(s.Value), len(s.Low), len(s.High), len(groups))
		}
		shift := -0.4 + (float64(j)+0.5)*step
		heights := make(plotter.Values, len(groups))
		var errs errorPoints
		for g := range groups {
			if math.IsNaN(s.Value[g]) {
				continue
			}
			if !(s.Low[g] <= s.Value[g] && s.Value[g] <= s.High[g]) {
				return fmt.Errorf("bar chart %s: series %q, group %q: value %g outside its error bar [%g, %g]",
					pngPath, s.Name, groups[g], s.Value[g], s.Low[g], s.High[g])
			}
			heights[g] = s.Value[g]
			errs.XYs = append(errs.XYs, plotter.XY{X: float64(g) + shift, Y: s.Value[g]})
			errs.YErrors = append(errs.YErrors, struct{ Low, High float64 }{s.Value[g] - s.Low[g], s.High[g] - s.Value[g]})
			top = max(top, s.High[g])
			bottom = min(bottom, s.Low[g])
		}
		bars, err := plotter.NewBarChart(heights, width)
		if err != nil {
			return err
		}
		bars.XMin = shift
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(j)
		p.Add(bars)
		p.Legend.Add(s.Name, bars)
		if len(errs.XYs) > 0 {
			ebars, err := plotter.NewYErrorBars(errs)
			if err != nil {
				return err
			}
			p.Add(ebars)
		}
	}
	if top <= 0 {
		top = 1 // nothing above zero: show 0 to 1.2
	}
	p.Y.Min, p.Y.Max = bottom, 1.2*top
	return savePNG(p, pngPath)
}

// errorPoints is the bar centres and the distances from them to the ends of their error bars.
type errorPoints struct {
	plotter.XYs
	plotter.YErrors
}
