package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/urfave/cli/v2"

	"pipeline/graphs"
)

func forwardCommand() *cli.Command {
	return &cli.Command{
		Name:  "forward",
		Usage: "run a checkpoint on token ids and print the loss and logits as JSON",
		Description: "Prints {\"loss\": L, \"shape\": [B,T,V], \"logits\": [[[...]]]}, the JSON a PyTorch GPT-2 reference\n" +
			"prints for the same ids: L is the mean next-token cross-entropy over all rows.\n" +
			"With one id per row there is no next token and L is null (the reference prints NaN, which JSON\n" +
			"cannot hold).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "checkpoint", Usage: "model `DIR` (config.json + model.safetensors)", Required: true},
			&cli.StringFlag{Name: "ids", Usage: "token ids: rows separated by ';', ids by ',' (`\"1,2,3;4,5,6\"`)", Required: true},
		},
		Action: func(c *cli.Context) error {
			return runForward(c.Context, forwardOptions{Checkpoint: c.String("checkpoint"), IDs: c.String("ids")}, c.App.Writer)
		},
	}
}

type forwardOptions struct {
	Checkpoint string // checkpoint directory
	IDs        string // rows of ids, as gpt2_ref.py's --ids
}

func runForward(_ context.Context, o forwardOptions, stdout io.Writer) error {
	rows, err := graphs.ParseIDs(o.IDs)
	if err != nil {
		return fmt.Errorf("%w: --ids: %v", errUsage, err)
	}
	cfg, params, err := graphs.Load(o.Checkpoint)
	if err != nil {
		return err
	}
	B, T, V := len(rows), len(rows[0]), cfg.VocabSize
	if T > cfg.NPositions {
		return fmt.Errorf("%w: --ids rows have %d ids, the model's context is %d", errUsage, T, cfg.NPositions)
	}
	m, err := graphs.NewModel(cfg, params, B, T, false)
	if err != nil {
		return err
	}
	defer m.Close()
	// The reference's loss: mean cross-entropy of each next token.
	ids, targets, weights := make([]int, 0, B*T), make([]int, B*T), make([]float32, B*T)
	for b, r := range rows {
		ids = append(ids, r...)
		for t := 0; t+1 < T; t++ {
			targets[b*T+t], weights[b*T+t] = r[t+1], 1
		}
	}
	loss := math.NaN()
	if T > 1 {
		l, err := m.Eval(ids, targets, weights, float32(B*(T-1)))
		if err != nil {
			return err
		}
		loss = float64(l)
	} else if _, err := m.Forward(ids); err != nil {
		return err
	}
	return writeForwardJSON(stdout, loss, B, T, V, m.Logits())
}

// writeForwardJSON prints the result in gpt2_ref.py's layout and number
// format (each float32 as the shortest decimal of its float64 value, as
// Python's json prints a tensor's .tolist()); a NaN loss is null.
func writeForwardJSON(stdout io.Writer, loss float64, B, T, V int, logits []float32) error {
	w := bufio.NewWriter(stdout)
	num := func(x float64) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			w.WriteString("null")
			return
		}
		w.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	}
	w.WriteString(`{"loss": `)
	num(loss)
	fmt.Fprintf(w, `, "shape": [%d, %d, %d], "logits": [`, B, T, V)
	for b := 0; b < B; b++ {
		if b > 0 {
			w.WriteString(", ")
		}
		w.WriteByte('[')
		for t := 0; t < T; t++ {
			if t > 0 {
				w.WriteString(", ")
			}
			w.WriteByte('[')
			for v, x := range logits[(b*T+t)*V : (b*T+t+1)*V] {
				if v > 0 {
					w.WriteString(", ")
				}
				num(float64(x))
			}
			w.WriteByte(']')
		}
		w.WriteByte(']')
	}
	w.WriteString("]}\n")
	return w.Flush()
}
