package textdata

import (
	"errors"
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
