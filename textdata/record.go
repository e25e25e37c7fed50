package textdata

import "fmt"

// Format is the kind of records a data file holds, in TRL's terms.
type Format int

const (
	// PromptCompletion records are {"prompt", "completion"}: SFT where only the completion is trained.
	PromptCompletion Format = iota + 1
	// Conversation records are {"messages": [...]}: SFT where only the assistant messages are trained.
	Conversation
	// Preference records are {"prompt", "chosen", "rejected"}: pairs for a reward model or DPO.
	Preference
)

// String names the format by its fields.
func (f Format) String() string {
	switch f {
	case PromptCompletion:
		return "prompt/completion"
	case Conversation:
		return "messages"
	case Preference:
		return "prompt/chosen/rejected"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// The roles a message may have. A system message may only come first.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string
	Content string
}

// Text is a field that TRL allows in two forms: a plain string (its "standard" format) or a list of
// messages (its "conversational" format). Exactly one is set: Messages is non-empty for the second.
type Text struct {
	Plain    string
	Messages []Message
}

// Conversational reports whether the text is a list of messages.
func (t Text) Conversational() bool { return len(t.Messages) > 0 }

// Record is one line of a data file. Which fields are set depends on Format:
//
//	PromptCompletion  Prompt, Completion
//	Conversation      Messages
//	Preference        Prompt, Chosen, Rejected
//
// In a conversational record the completion, chosen and rejected sides hold only assistant messages.
type Record struct {
	Line     int // 1-based line number in the file
	Format   Format
	Messages []Message
	Prompt   Text
	// Completion, Chosen and Rejected are the texts that carry loss.
	Completion, Chosen, Rejected Text
}
