package plots

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestCurvesWritesAPNG(t *testing.T) {
	dir := t.TempDir()
	metrics := filepath.Join(dir, "metrics.jsonl")
	os.WriteFile(metrics, []byte(`{"step":1,"loss":5.5}
{"step":2,"loss":4.0,"val_loss":4.5}
{"step":3,"loss":3.0}
`), 0o644)
	series, err := Series(metrics, "loss", "val_loss")
	if err != nil {
		t.Fatal(err)
	}
	if len(series["loss"]) != 3 || series["loss"][2].Y != 3.0 || len(series["val_loss"]) != 1 || series["val_loss"][0].X != 2 {
		t.Fatalf("series %v", series)
	}
	out := filepath.Join(dir, "loss.png")
	if err := Curves(metrics, out, "pretrain", "loss (nats/token)", "loss", "val_loss"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 768 || b.Dy() != 480 { // 8 x 5 inches at 96 dpi
		t.Fatalf("image %v", b)
	}
}
