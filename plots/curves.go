// Package plots draws the PNG charts stages leave beside their checkpoints: training curves from
// metrics.jsonl and bar charts of evaluation results.
package plots

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"pipeline/atomicfile"
)

// Series reads metrics.jsonl and returns, for each requested key, the (step, value) points of the
// records that have it.
func Series(metricsPath string, keys ...string) (map[string]plotter.XYs, error) {
	f, err := os.Open(metricsPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]plotter.XYs{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	line := 0
	for sc.Scan() {
		line++
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", metricsPath, line, err)
		}
		step, ok := rec["step"].(float64)
		if !ok {
			continue
		}
		for _, k := range keys {
			if v, ok := rec[k].(float64); ok {
				out[k] = append(out[k], plotter.XY{X: step, Y: v})
			}
		}
	}
	return out, sc.Err()
}

// Curves draws one line per key of metrics.jsonl against the step and saves it as a PNG.
func Curves(metricsPath, pngPath, title, ylabel string, keys ...string) error {
	series, err := Series(metricsPath, keys...)
	if err != nil {
		return err
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "step"
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	var args []any
	names := make([]string, 0, len(series))
	for k := range series {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		args = append(args, k, series[k])
	}
	if len(args) == 0 {
		return fmt.Errorf("%s has none of %v to plot", metricsPath, keys)
	}
	if err := plotutil.AddLines(p, args...); err != nil {
		return err
	}
	return savePNG(p, pngPath)
}

func savePNG(p *plot.Plot, path string) error {
	w, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, func(f io.Writer) error {
		_, err := w.WriteTo(f)
		return err
	})
}
