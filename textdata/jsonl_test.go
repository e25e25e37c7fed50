package textdata

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestReadFormats: the first record decides the format; records come back field by field, extra
// fields ignored, CRLF endings and a missing final newline accepted.
func TestReadFormats(t *testing.T) {
	cases := []struct {
		name, data     string
		format         Format
		conversational bool
		want           []Record
	}{
		{"prompt/completion", "{\"prompt\": \"Q:\", \"completion\": \" 4\", \"id\": 7}\r\n{\"completion\": \"b\", \"prompt\": \"\"}",
			PromptCompletion, false, []Record{
				{Line: 1, Format: PromptCompletion, Prompt: Text{Plain: "Q:"}, Completion: Text{Plain: " 4"}},
				{Line: 2, Format: PromptCompletion, Prompt: Text{Plain: ""}, Completion: Text{Plain: "b"}},
			}},
		{"messages", `{"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": ""}, {"role": "assistant", "content": "A", "name": "x"}]}` + "\n",
			Conversation, true, []Record{{Line: 1, Format: Conversation, Messages: []Message{
				{RoleSystem, "S"}, {RoleUser, ""}, {RoleAssistant, "A"}}}}},
		{"conversational prompt/completion", `{"prompt": [{"role": "user", "content": "Hi"}], "completion": [{"role": "assistant", "content": "Yo"}]}` + "\n",
			PromptCompletion, true, []Record{{Line: 1, Format: PromptCompletion,
				Prompt:     Text{Messages: []Message{{RoleUser, "Hi"}}},
				Completion: Text{Messages: []Message{{RoleAssistant, "Yo"}}}}}},
		{"preference", `{"prompt": "P", "chosen": " a", "rejected": " b"}` + "\n",
			Preference, false, []Record{{Line: 1, Format: Preference, Prompt: Text{Plain: "P"},
				Chosen: Text{Plain: " a"}, Rejected: Text{Plain: " b"}}}},
		{"conversational preference", `{"prompt": [{"role": "user", "content": "Q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}` + "\n",
			Preference, true, []Record{{Line: 1, Format: Preference, Prompt: Text{Messages: []Message{{RoleUser, "Q"}}},
				Chosen: Text{Messages: []Message{{RoleAssistant, "a"}}}, Rejected: Text{Messages: []Message{{RoleAssistant, "b"}}}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Read(strings.NewReader(c.data), "d.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			if f.Format != c.format || f.Conversational != c.conversational {
				t.Errorf("format %v conversational %v, want %v %v", f.Format, f.Conversational, c.format, c.conversational)
			}
			if !reflect.DeepEqual(f.Records, c.want) {
				t.Errorf("records\n%+v\nwant\n%+v", f.Records, c.want)
			}
		})
	}
}

// TestReadErrors: each malformed file fails with the file, the line and the field.
func TestReadErrors(t *testing.T) {
	const ok = `{"prompt": "p", "completion": "c"}` + "\n"
	const chat = `{"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}` + "\n"
	cases := []struct{ data, want string }{
		{ok + `{"prompt": "p", "completion": 17}`, `d.jsonl:2: field "completion": want a string, got a number`},
		{ok + ok + `{"prompt": "p"}`, `d.jsonl:3: field "completion": missing`},
		{`{"prompt": null, "completion": "c"}`, `d.jsonl:1: field "prompt": want a string, got null`},
		{ok + `{"prompt": "p", "completion": ""}`, `d.jsonl:2: field "completion": empty`},
		{ok + `{"prompt": [{"role": "user", "content": "u"}], "completion": "c"}`, `d.jsonl:2: field "prompt": want a string, got an array`},
		{ok + "\n" + ok, `d.jsonl:2: empty line`},
		{ok + `{"prompt": "p", "completion": "c"} x`, `d.jsonl:2: not a JSON object: text after the object: "x"`},
		{`{"prompt": "p", "prompt": "q", "completion": "c"}`, `d.jsonl:1: not a JSON object: key "prompt" given twice`},
		{`["prompt"]`, `d.jsonl:1: not a JSON object: want an object, got an array`},
		{"{\"prompt\": \"p\xff\", \"completion\": \"c\"}", `d.jsonl:1: not valid UTF-8`},
		{chat + `{"messages": [{"role": "user", "content": "u"}, {"role": "tool", "content": "t"}]}`,
			`d.jsonl:2: field "messages[1].role": want "system", "user" or "assistant", got "tool"`},
		{`{"messages": [{"role": "user", "content": "u"}, {"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]}`,
			`d.jsonl:1: field "messages[1].role": "system" only as the first message`},
		{`{"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": ""}]}`,
			`d.jsonl:1: field "messages[1].content": empty assistant message`},
		{`{"messages": [{"role": "user", "content": 5}]}`, `d.jsonl:1: field "messages[0].content": want a string, got a number`},
		{`{"messages": [{"content": "u"}]}`, `d.jsonl:1: field "messages[0].role": missing`},
		{`{"messages": ["hi"]}`, `d.jsonl:1: field "messages[0]": want an object, got a string`},
		{`{"messages": []}`, `d.jsonl:1: field "messages": no messages`},
		{`{"messages": [{"role": "user", "content": "u"}]}`, `d.jsonl:1: field "messages": no assistant message: nothing to train on`},
		{`{"messages": [], "prompt": "p"}`, `d.jsonl:1: field "messages": a record has "messages" or "prompt", not both`},
		{`{"prompt": [{"role": "user", "content": "u"}], "completion": [{"role": "user", "content": "c"}]}`,
			`d.jsonl:1: field "completion[0].role": want "assistant", got "user"`},
		{`{"prompt": "p", "chosen": " a", "rejected": ""}`, `d.jsonl:1: field "rejected": empty`},
		{`{"chosen": " a", "rejected": " b"}`, `d.jsonl:1: field "prompt": missing (preference pairs without a prompt are not supported)`},
		{`{"prompt": "p", "answer": "4"}`, `d.jsonl:1: field "completion": missing (a file of prompts alone is neither SFT nor preference data)`},
		{`{"text": "t"}`, `d.jsonl:1: no "prompt" or "messages" field: not SFT or preference data in TRL's field names`},
		{``, `d.jsonl: no records`},
	}
	for _, c := range cases {
		_, err := Read(strings.NewReader(c.data), "d.jsonl")
		if err == nil || err.Error() != c.want {
			t.Errorf("Read(%q)\n  error %v\n  want  %s", c.data, err, c.want)
		}
	}
}

// TestReadFileLineError: errors about a file on disk carry its path and unwrap to a *LineError.
func TestReadFileLineError(t *testing.T) {
	path := writeFile(t, "sft.jsonl", `{"prompt": "p", "completion": "c"}`+"\n"+`{"prompt": "p", "completion": true}`+"\n")
	_, err := ReadFile(path)
	var le *LineError
	if !errors.As(err, &le) || le.File != path || le.Line != 2 || le.Field != "completion" || le.Msg != "want a string, got a boolean" {
		t.Fatalf("error %#v", err)
	}
}

// TestReadListsManyBadLines: reading goes on past a bad line, so one error lists the first MaxLineErrors
// bad lines (each file:line: field: problem) and counts the rest; errors.As still finds the first.
func TestReadListsManyBadLines(t *testing.T) {
	const ok = `{"prompt": "p", "completion": "c"}` + "\n"
	var data strings.Builder
	var want []string
	for i := 1; i <= 30; i++ {
		switch {
		case i%2 == 1:
			data.WriteString(ok)
		case i%4 == 0:
			data.WriteString(`{"prompt": "p", "completion": 3}` + "\n")
			want = append(want, fmt.Sprintf(`d.jsonl:%d: field "completion": want a string, got a number`, i))
		default:
			data.WriteString(`{"prompt": "p", "completion": "c"` + "\n")
			want = append(want, fmt.Sprintf(`d.jsonl:%d: not a JSON object: the line ends inside the object (a record must be one whole line)`, i))
		}
	}
	// 15 bad lines: 10 listed, 5 counted.
	_, err := Read(strings.NewReader(data.String()), "d.jsonl")
	wantText := strings.Join(want[:MaxLineErrors], "\n") + "\nand 5 more bad lines in d.jsonl"
	if err == nil || err.Error() != wantText {
		t.Fatalf("error\n%v\nwant\n%s", err, wantText)
	}
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 {
		t.Errorf("errors.As gives %#v, want line 2's error", le)
	}
	var all *LineErrors
	if !errors.As(err, &all) {
		t.Fatalf("error %T, want a *LineErrors", err)
	}
	if !reflect.DeepEqual(all.Lines(), strings.Split(wantText, "\n")) {
		t.Errorf("Lines gives %q, want the error's lines", all.Lines())
	}
	// A bad first line does not stop the format being decided by the next; 11 bad lines say "1 more".
	data.Reset()
	data.WriteString("not json\n")
	for i := 2; i <= 12; i++ {
		data.WriteString(`{"prompt": "p"}` + "\n")
	}
	data.WriteString(ok)
	_, err = Read(strings.NewReader(data.String()), "d.jsonl")
	lines := strings.Split(fmt.Sprint(err), "\n")
	if len(lines) != MaxLineErrors+1 || !strings.HasPrefix(lines[0], "d.jsonl:1: not a JSON object") ||
		lines[1] != `d.jsonl:2: field "completion": missing (a file of prompts alone is neither SFT nor preference data)` ||
		lines[MaxLineErrors] != "and 2 more bad lines in d.jsonl" {
		t.Errorf("error\n%v", err)
	}
}
