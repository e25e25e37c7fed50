package textdata

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// File is a data file read by ReadFile: its records in file order, all of one format.
type File struct {
	Name   string
	Format Format
	// Conversational is true when the text fields are lists of messages (always so for Conversation).
	Conversational bool
	Records        []Record
}

// LineError is a fault in one line of a data file. Its text names the file, the line and the field:
//
//	data/sft.jsonl:17: field "completion": want a string, got a number
//	data/chat.jsonl:3: field "messages[2].role": want "system", "user" or "assistant", got "tool"
//	data/sft.jsonl:9: not a JSON object: key "prompt" given twice
type LineError struct {
	File  string
	Line  int
	Field string // "" when the fault is in the line as a whole
	Msg   string
}

func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: field %q: %s", e.File, e.Line, e.Field, e.Msg)
}

// LineErrors is every bad line of a data file, up to MaxLineErrors of them, so that one run lists what a
// person has to fix:
//
//	data/sft.jsonl:17: field "completion": want a string, got a number
//	data/sft.jsonl:20: field "prompt": missing
//	...
//	and 31 more bad lines in data/sft.jsonl
//
// errors.As finds the first *LineError in it.
type LineErrors struct {
	File   string
	Errors []*LineError // the first MaxLineErrors bad lines, in file order
	More   int          // bad lines after those
}

// MaxLineErrors is how many bad lines a LineErrors lists before it only counts them.
const MaxLineErrors = 10

func (e *LineErrors) Error() string { return strings.Join(e.Lines(), "\n") }

// Lines is the error's text line by line: each listed bad line, then "and N more bad lines in FILE"
// when there are more.
func (e *LineErrors) Lines() []string {
	lines := make([]string, len(e.Errors), len(e.Errors)+1)
	for i, le := range e.Errors {
		lines[i] = le.Error()
	}
	if e.More > 0 {
		lines = append(lines, fmt.Sprintf("and %d more bad line%s in %s", e.More, plural(e.More), e.File))
	}
	return lines
}

// Add records one more bad line: listed while fewer than MaxLineErrors are, only counted after.
func (e *LineErrors) Add(le *LineError) {
	if len(e.Errors) < MaxLineErrors {
		e.Errors = append(e.Errors, le)
		return
	}
	e.More++
}

// Unwrap gives the listed errors to errors.Is and errors.As.
func (e *LineErrors) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, le := range e.Errors {
		out[i] = le
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// ReadFile reads a JSONL data file. The first record decides the file's format and whether its texts
// are plain strings or message lists:
//
//	"messages"                   Conversation
//	"chosen" and "rejected"      Preference (with "prompt"; TRL's implicit-prompt pairs are refused)
//	"completion"                 PromptCompletion (with "prompt")
//
// Every record must then have that format's fields with the first record's types. Other fields are
// ignored, as TRL ignores extra columns. Each line must be one JSON object in valid UTF-8 with no key
// twice; a blank line, a missing field, a wrong type, an empty completion or assistant message, and a
// role other than system (first message only), user or assistant are errors (*LineError). Reading goes on
// past a bad line: the error is a *LineErrors listing the first MaxLineErrors bad lines and counting the rest.
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path)
}

// Read is ReadFile on a reader; name is the file name its errors give.
func Read(r io.Reader, name string) (*File, error) {
	out := &File{Name: name}
	bad := &LineErrors{File: name}
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		text, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(text) == 0 && err != nil {
			break
		}
		rec, perr := out.parseLine(line{file: name, n: n}, bytes.TrimRight(text, "\r\n"))
		var le *LineError
		switch {
		case perr == nil:
			out.Records = append(out.Records, rec)
		case !errors.As(perr, &le):
			return nil, perr
		default:
			bad.Add(le)
		}
		if err != nil {
			break
		}
	}
	if len(bad.Errors) > 0 {
		return nil, bad
	}
	if len(out.Records) == 0 {
		return nil, fmt.Errorf("%s: no records", name)
	}
	return out, nil
}

// line is one line being parsed: where it is, and its fields' undecoded values.
type line struct {
	file   string
	n      int
	fields map[string]json.RawMessage
}

func (l line) errorf(field, format string, args ...any) error {
	return &LineError{File: l.file, Line: l.n, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// parseLine decodes one line into a record of the file's format, deciding the format on the first line.
func (f *File) parseLine(l line, text []byte) (Record, error) {
	if len(bytes.TrimSpace(text)) == 0 {
		return Record{}, l.errorf("", "empty line")
	}
	if !utf8.Valid(text) {
		return Record{}, l.errorf("", "not valid UTF-8")
	}
	fields, err := decodeObject(text)
	if err != nil {
		return Record{}, l.errorf("", "not a JSON object: %v", err)
	}
	l.fields = fields
	if f.Format == 0 {
		if f.Format, f.Conversational, err = detectFormat(l); err != nil {
			return Record{}, err
		}
	}
	rec := Record{Line: l.n, Format: f.Format}
	switch f.Format {
	case Conversation:
		rec.Messages, err = l.conversation("messages")
	case PromptCompletion:
		if rec.Prompt, err = l.text("prompt", f.Conversational, false); err == nil {
			rec.Completion, err = l.text("completion", f.Conversational, true)
		}
	case Preference:
		if rec.Prompt, err = l.text("prompt", f.Conversational, false); err == nil {
			if rec.Chosen, err = l.text("chosen", f.Conversational, true); err == nil {
				rec.Rejected, err = l.text("rejected", f.Conversational, true)
			}
		}
	}
	return rec, err
}

// detectFormat tells the format from the fields of a file's first record.
func detectFormat(l line) (Format, bool, error) {
	has := func(k string) bool { _, ok := l.fields[k]; return ok }
	switch {
	case has("messages"):
		if has("prompt") {
			return 0, false, l.errorf("messages", "a record has \"messages\" or \"prompt\", not both")
		}
		return Conversation, true, nil
	case has("chosen") || has("rejected"):
		if !has("prompt") {
			return 0, false, l.errorf("prompt", "missing (preference pairs without a prompt are not supported)")
		}
		return Preference, kindOf(l.fields["prompt"]) == "an array", nil
	case has("completion"):
		return PromptCompletion, kindOf(l.fields["prompt"]) == "an array", nil
	case has("prompt"):
		return 0, false, l.errorf("completion", "missing (a file of prompts alone is neither SFT nor preference data)")
	}
	return 0, false, l.errorf("", `no "prompt" or "messages" field: not SFT or preference data in TRL's field names`)
}

// text reads a required field as a plain string, or as a list of messages when conversational. A
// completion side (completion, chosen, rejected) must be non-empty and, as messages, all assistant.
func (l line) text(field string, conversational, completion bool) (Text, error) {
	if conversational {
		msgs, err := l.messages(field, completion)
		return Text{Messages: msgs}, err
	}
	s, err := l.str(field)
	if err == nil && completion && s == "" {
		err = l.errorf(field, "empty")
	}
	return Text{Plain: s}, err
}

// str reads a required string field.
func (l line) str(field string) (string, error) {
	s, problem := stringField(l.fields, field)
	if problem != "" {
		return "", l.errorf(field, "%s", problem)
	}
	return s, nil
}

// stringField returns fields[key] as a string, or what is wrong with it.
func stringField(fields map[string]json.RawMessage, key string) (s, problem string) {
	raw, ok := fields[key]
	if !ok {
		return "", "missing"
	}
	if k := kindOf(raw); k != "a string" {
		return "", "want a string, got " + k
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err.Error()
	}
	return s, ""
}

// conversation reads the messages of a Conversation record: at least one must be the assistant's.
func (l line) conversation(field string) ([]Message, error) {
	msgs, err := l.messages(field, false)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if m.Role == RoleAssistant {
			return msgs, nil
		}
	}
	return nil, l.errorf(field, "no assistant message: nothing to train on")
}

// messages reads a non-empty list of {"role", "content"} objects (other keys ignored). Roles are system
// (first message only), user and assistant; assistantOnly allows only assistant. An assistant message
// may not be empty.
func (l line) messages(field string, assistantOnly bool) ([]Message, error) {
	raw, ok := l.fields[field]
	if !ok {
		return nil, l.errorf(field, "missing")
	}
	if k := kindOf(raw); k != "an array" {
		return nil, l.errorf(field, "want an array of messages, got %s", k)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, l.errorf(field, "%v", err)
	}
	if len(items) == 0 {
		return nil, l.errorf(field, "no messages")
	}
	msgs := make([]Message, len(items))
	for i, item := range items {
		at := fmt.Sprintf("%s[%d]", field, i)
		if k := kindOf(item); k != "an object" {
			return nil, l.errorf(at, "want an object, got %s", k)
		}
		obj, err := decodeObject(item)
		if err != nil {
			return nil, l.errorf(at, "%v", err)
		}
		var problem string
		if msgs[i].Role, problem = stringField(obj, "role"); problem != "" {
			return nil, l.errorf(at+".role", "%s", problem)
		}
		if msgs[i].Content, problem = stringField(obj, "content"); problem != "" {
			return nil, l.errorf(at+".content", "%s", problem)
		}
		switch role := msgs[i].Role; {
		case assistantOnly && role != RoleAssistant:
			return nil, l.errorf(at+".role", "want %q, got %q", RoleAssistant, role)
		case role == RoleSystem && i > 0:
			return nil, l.errorf(at+".role", "%q only as the first message", RoleSystem)
		case role != RoleSystem && role != RoleUser && role != RoleAssistant:
			return nil, l.errorf(at+".role", "want %q, %q or %q, got %q", RoleSystem, RoleUser, RoleAssistant, role)
		case role == RoleAssistant && msgs[i].Content == "":
			return nil, l.errorf(at+".content", "empty assistant message")
		}
	}
	return msgs, nil
}

// decodeObject decodes one JSON object into its fields' undecoded values, refusing a key given twice
// and anything after the object.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	fields, err := decodeObjectRaw(data)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// encoding/json says just "EOF" or "unexpected EOF".
		err = errors.New("the line ends inside the object (a record must be one whole line)")
	}
	return fields, err
}

func decodeObjectRaw(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil {
		return nil, err
	} else if tok != json.Delim('{') {
		return nil, fmt.Errorf("want an object, got %s", kindOf(data))
	}
	fields := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string) // inside an object the decoder yields only string keys
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if _, dup := fields[key]; dup {
			return nil, fmt.Errorf("key %q given twice", key)
		}
		fields[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		return nil, fmt.Errorf("text after the object: %q", rest)
	}
	return fields, nil
}

// kindOf names the JSON type of a value for error messages: "a string", "a number", "an array", ...
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '[':
		return "an array"
	case '{':
		return "an object"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
