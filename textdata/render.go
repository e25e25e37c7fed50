package textdata

import (
	"fmt"
	"strings"

	"pipeline/tokenizer"
)

// Rendered is a record as text, before tokenization.
type Rendered struct {
	Text string
	// Specials are the [start, end) byte ranges of Text that are the template's special tokens, in order.
	// Only these become special ids; the same characters anywhere else are ordinary text.
	Specials [][2]int
	// Loss are the [start, end) byte ranges of Text whose tokens carry loss, in order and apart
	// (adjacent ranges are joined).
	Loss [][2]int
}

// Render renders an SFT record (PromptCompletion or Conversation).
//
// A plain prompt/completion record is prompt + completion + "<|endoftext|>" with no template, TRL's
// standard prompt-completion format with the end-of-text appended; the completion and the end-of-text
// carry loss. {"prompt": "Question: What is 2+2?\nAnswer:", "completion": " 4"} renders as
//
//	Question: What is 2+2?\nAnswer:⟨ 4<|endoftext|>⟩
//
// A Conversation record is its messages through the chat template, every assistant message and its
// <|endoftext|> carrying loss (TRL's assistant_only_loss; TRL's default would train on every token). A
// conversational prompt/completion record is prompt messages + completion messages through the
// template, only the completion's assistant messages carrying loss (TRL's completion_only_loss); since
// the completion starts with an assistant message, the prompt part ends with GenerationPrompt.
func Render(r Record) (Rendered, error) {
	var b builder
	switch r.Format {
	case Conversation:
		b.messages(r.Messages, true)
	case PromptCompletion:
		b.completion(r.Prompt, r.Completion)
	default:
		return Rendered{}, fmt.Errorf("line %d: Render takes SFT records, not %s (see RenderPair)", r.Line, r.Format)
	}
	return b.r, nil
}

// RenderPair renders a Preference record as two texts, prompt + chosen and prompt + rejected, each as
// Render renders a prompt/completion record: the chosen or rejected side and its <|endoftext|> carry loss.
func RenderPair(r Record) (chosen, rejected Rendered, err error) {
	if r.Format != Preference {
		return Rendered{}, Rendered{}, fmt.Errorf("line %d: RenderPair takes preference records, not %s", r.Line, r.Format)
	}
	var c, j builder
	c.completion(r.Prompt, r.Chosen)
	j.completion(r.Prompt, r.Rejected)
	return c.r, j.r, nil
}

// builder appends pieces of text, recording which are special tokens and which carry loss.
type builder struct {
	sb strings.Builder
	r  Rendered
}

// completion renders prompt + completion, the completion and its closing <|endoftext|> carrying loss.
func (b *builder) completion(prompt, completion Text) {
	if completion.Conversational() {
		b.messages(prompt.Messages, false)
		b.messages(completion.Messages, true)
		return
	}
	b.text(prompt.Plain, false)
	b.text(completion.Plain, true)
	b.special(tokenizer.EndOfText, true)
}

// text appends ordinary text.
func (b *builder) text(s string, loss bool) { b.add(s, false, loss) }

// special appends a special token's text.
func (b *builder) special(s string, loss bool) { b.add(s, true, loss) }

func (b *builder) add(s string, special, loss bool) {
	start := b.sb.Len()
	b.sb.WriteString(s)
	end := b.sb.Len()
	b.r.Text = b.sb.String()
	if special {
		b.r.Specials = append(b.r.Specials, [2]int{start, end})
	}
	if !loss || start == end {
		return
	}
	if n := len(b.r.Loss); n > 0 && b.r.Loss[n-1][1] == start {
		b.r.Loss[n-1][1] = end
		return
	}
	b.r.Loss = append(b.r.Loss, [2]int{start, end})
}
