package evaluate

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// column is one column of the report: a task under a prompting, its acc or (norm) its acc_norm.
type column struct {
	task, prompting string
	norm            bool
}

func (c column) String() string {
	if c.norm {
		return c.task + " " + c.prompting + " acc_norm"
	}
	return c.task + " " + c.prompting
}

// columns lists every (task, prompting, metric) some checkpoint has, by task name, then prompting in
// natural order ("2-shot" before "10-shot"), acc before acc_norm.
func (r *Report) columns() []column {
	seen := map[column]bool{}
	for _, tasks := range r.Scores {
		for task, modes := range tasks {
			for mode, s := range modes {
				seen[column{task, mode, false}] = true
				if s.Norm != nil {
					seen[column{task, mode, true}] = true
				}
			}
		}
	}
	cols := make([]column, 0, len(seen))
	for c := range seen {
		cols = append(cols, c)
	}
	slices.SortFunc(cols, func(a, b column) int {
		if a.task != b.task {
			return strings.Compare(a.task, b.task)
		}
		if a.prompting != b.prompting {
			return naturalCompare(a.prompting, b.prompting)
		}
		if a.norm == b.norm {
			return 0
		}
		if b.norm {
			return -1
		}
		return 1
	})
	return cols
}

// score is checkpoint's acc or acc_norm in column c; ok is false where it was not scored.
func (r *Report) score(checkpoint string, c column) (s Score, ok bool) {
	s, ok = r.Scores[checkpoint][c.task][c.prompting]
	if ok && c.norm {
		if s.Norm == nil {
			return Score{}, false
		}
		s = *s.Norm
	}
	return s, ok
}

// Markdown is report.md: a table of accuracies, one row per checkpoint and one column per task and
// prompting, each cell "acc [ci_low, ci_high] (n=items)"; then, if any, a table of held-out text scores.
func (r *Report) Markdown() string {
	var b strings.Builder
	b.WriteString("# Evaluation\n")
	if cols := r.columns(); len(cols) > 0 {
		b.WriteString("\nAccuracy, its 95% Wilson score interval and the number of items. acc_norm is multiple-choice " +
			"accuracy with each choice's log-likelihood divided by its length in bytes. – means not scored.\n\n")
		header := []string{"checkpoint"}
		for _, c := range cols {
			header = append(header, c.String())
		}
		writeRow(&b, header)
		writeRow(&b, append([]string{"---"}, slices.Repeat([]string{"---:"}, len(cols))...))
		for _, ck := range r.Checkpoints {
			row := []string{ck}
			for _, c := range cols {
				s, ok := r.score(ck, c)
				if !ok {
					row = append(row, "–")
					continue
				}
				row = append(row, fmt.Sprintf("%.2f [%.2f, %.2f] (n=%d)", s.Acc, s.CILow, s.CIHigh, s.N))
			}
			writeRow(&b, row)
		}
	}
	if len(r.Text) > 0 {
		b.WriteString("\n## Held-out text\n\nNegative log-likelihood per byte in bits, and perplexity per byte, " +
			"token and word, summed over the documents.\n\n")
		writeRow(&b, []string{"checkpoint", "bits per byte", "byte perplexity", "token perplexity", "word perplexity", "tokens", "bytes"})
		writeRow(&b, []string{"---", "---:", "---:", "---:", "---:", "---:", "---:"})
		for _, ck := range r.Checkpoints {
			if t, ok := r.Text[ck]; ok {
				writeRow(&b, []string{ck, fmt.Sprintf("%.4f", t.BitsPerByte), fmt.Sprintf("%.3f", t.BytePerplexity),
					fmt.Sprintf("%.2f", t.TokenPerplexity), fmt.Sprintf("%.2f", t.WordPerplexity),
					strconv.Itoa(t.Tokens), strconv.Itoa(t.Bytes)})
			}
		}
	}
	return b.String()
}

func writeRow(b *strings.Builder, cells []string) {
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

// naturalCompare orders strings with their runs of digits compared as numbers: "2-shot" < "10-shot".
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		ra, rb := leadingRun(a), leadingRun(b)
		na, errA := strconv.Atoi(ra)
		nb, errB := strconv.Atoi(rb)
		if errA == nil && errB == nil && na != nb {
			return cmp.Compare(na, nb)
		}
		if c := strings.Compare(ra, rb); c != 0 {
			return c
		}
		a, b = a[len(ra):], b[len(rb):]
	}
	return strings.Compare(a, b)
}

// leadingRun is s's first run of digits, or of non-digits.
func leadingRun(s string) string {
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	i := 1
	for i < len(s) && digit(s[i]) == digit(s[0]) {
		i++
	}
	return s[:i]
}
