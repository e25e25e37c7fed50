package evaluate

import (
	"math"
	"strings"

	"pipeline/plots"
)

// Chart draws the report as a grouped bar chart: one group per column of report.md (task, prompting,
// metric, one word a line), one bar per checkpoint in row order, each with its 95% interval as an error bar. A checkpoint
// not scored in a column has no bar there.
func (r *Report) Chart(pngPath string) error {
	cols := r.columns()
	groups := make([]string, len(cols))
	for i, c := range cols {
		groups[i] = strings.ReplaceAll(c.String(), " ", "\n")
	}
	series := make([]plots.BarSeries, len(r.Checkpoints))
	for j, ck := range r.Checkpoints {
		s := plots.BarSeries{Name: ck, Value: make([]float64, len(cols)), Low: make([]float64, len(cols)), High: make([]float64, len(cols))}
		for i, c := range cols {
			s.Value[i] = math.NaN()
			if sc, ok := r.score(ck, c); ok {
				s.Value[i], s.Low[i], s.High[i] = sc.Acc, sc.CILow, sc.CIHigh
			}
		}
		series[j] = s
	}
	return plots.Bars(pngPath, "accuracy by task and prompting (95% Wilson interval)", "accuracy", groups, series)
}
