package pipeline

import (
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress returns a progress bar for a loop of total steps. It draws on stderr when stderr is a terminal
// and is silent otherwise, so logs and CI output stay clean.
func (e *Env) Progress(total int, description string) *progressbar.ProgressBar {
	return NewProgress(total, "["+e.Stage.Name+"] "+description)
}

// NewProgress is Progress for code that runs outside a stage (commands such as tokenize).
func NewProgress(total int, description string) *progressbar.ProgressBar {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return progressbar.DefaultSilent(int64(total), description)
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(description),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionThrottle(100_000_000), // redraw at most every 0.1 s
		progressbar.OptionOnCompletion(func() { os.Stderr.WriteString("\n") }),
	)
}
