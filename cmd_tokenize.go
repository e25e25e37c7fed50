package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"pipeline/tokenizer"
)

func tokenizeCommand() *cli.Command {
	return &cli.Command{
		Name:  "tokenize",
		Usage: "encode stdin to token ids, or decode ids on stdin to text, with a trained tokenizer",
		Description: "DIR is a bpe stage's output (tokenizer.json) or a directory holding GPT-2's encoder.json and\n" +
			"vocab.bpe. By default stdin is text and the ids are printed space-separated on one line; with --text\n" +
			"stdin is ids (separated by any whitespace) and their bytes are written as they are.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "tokenizer", Usage: "tokenizer `DIR`", Required: true},
			&cli.BoolFlag{Name: "ids", Usage: "encode: read text, print ids (what happens without --text too)"},
			&cli.BoolFlag{Name: "text", Usage: "decode: read ids, print text"},
			&cli.BoolFlag{Name: "special", Usage: "when encoding, turn special tokens' text (<|endoftext|>, ...) into their ids"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("ids") && c.Bool("text") {
				return fmt.Errorf("%w: --ids and --text cannot be used together", errUsage)
			}
			o := tokenizeOptions{Tokenizer: c.String("tokenizer"), Decode: c.Bool("text"), Special: c.Bool("special")}
			return runTokenize(c.Context, o, os.Stdin, c.App.Writer)
		},
	}
}

type tokenizeOptions struct {
	Tokenizer string // directory with tokenizer.json, or with GPT-2's encoder.json + vocab.bpe
	Decode    bool   // read ids and write text, instead of the other way round
	Special   bool   // encode special tokens' text as their ids
}

func runTokenize(_ context.Context, o tokenizeOptions, stdin io.Reader, stdout io.Writer) error {
	tok, err := loadTokenizerDir(o.Tokenizer)
	if err != nil {
		return err
	}
	in, err := io.ReadAll(stdin)
	if err != nil {
		return err
	}
	if o.Decode {
		fields := strings.Fields(string(in))
		ids := make([]int, len(fields))
		for i, f := range fields {
			id, err := strconv.Atoi(f)
			if err != nil || id < 0 || id >= tok.VocabSize() {
				return fmt.Errorf("%w: input word %d, %q, is not an id in [0, %d)", errUsage, i+1, f, tok.VocabSize())
			}
			ids[i] = id
		}
		_, err := stdout.Write(tok.Decode(ids))
		return err
	}
	ids := tok.Encode(string(in))
	if o.Special {
		ids = tok.EncodeSpecial(string(in))
	}
	w := bufio.NewWriter(stdout)
	buf := make([]byte, 0, 16)
	for i, id := range ids {
		buf = buf[:0]
		if i > 0 {
			buf = append(buf, ' ')
		}
		w.Write(strconv.AppendInt(buf, int64(id), 10))
	}
	w.WriteString("\n")
	return w.Flush()
}

// loadTokenizerDir loads dir/tokenizer.json, or GPT-2's dir/encoder.json + dir/vocab.bpe when there is
// no tokenizer.json.
func loadTokenizerDir(dir string) (*tokenizer.Tokenizer, error) {
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err == nil {
		return tokenizer.Load(dir)
	}
	enc, bpe := filepath.Join(dir, "encoder.json"), filepath.Join(dir, "vocab.bpe")
	if _, err := os.Stat(enc); err != nil {
		return nil, fmt.Errorf("%s holds neither tokenizer.json nor GPT-2's encoder.json + vocab.bpe", dir)
	}
	return tokenizer.LoadGPT2(enc, bpe)
}
