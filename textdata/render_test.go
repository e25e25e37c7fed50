package textdata

import (
	"reflect"
	"strings"
	"testing"
)

// TestRenderConversation renders the chat template's doc example: markers as specials, the assistant
// contents and their <|endoftext|> as the loss ranges.
func TestRenderConversation(t *testing.T) {
	r, err := Render(Record{Format: Conversation, Messages: []Message{
		{RoleSystem, "Be brief."}, {RoleUser, "2+2?"}, {RoleAssistant, "4"}, {RoleUser, "And 3+3?"}, {RoleAssistant, "6"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := Rendered{
		Text: "<|system|>\nBe brief.\n<|user|>\n2+2?\n<|assistant|>\n4<|endoftext|>" +
			"<|user|>\nAnd 3+3?\n<|assistant|>\n6<|endoftext|>",
		Specials: [][2]int{{0, 10}, {21, 29}, {35, 48}, {50, 63}, {63, 71}, {81, 94}, {96, 109}},
		Loss:     [][2]int{{49, 63}, {95, 109}},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("Render =\n%+v\nwant\n%+v", r, want)
	}
}

// TestRenderPromptCompletion: plain text, no template, the completion and an appended <|endoftext|>
// trained.
func TestRenderPromptCompletion(t *testing.T) {
	r, err := Render(Record{Format: PromptCompletion, Prompt: Text{Plain: "Q: 2+2?\nA:"}, Completion: Text{Plain: " 4"}})
	if err != nil {
		t.Fatal(err)
	}
	want := Rendered{Text: "Q: 2+2?\nA: 4<|endoftext|>", Specials: [][2]int{{12, 25}}, Loss: [][2]int{{10, 25}}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("Render = %+v, want %+v", r, want)
	}
}

// TestRenderConversationalCompletion: an assistant turn inside the prompt (a few-shot example) is not
// trained; only the completion's is, and the prompt part ends with the generation prompt.
func TestRenderConversationalCompletion(t *testing.T) {
	r, err := Render(Record{Format: PromptCompletion,
		Prompt:     Text{Messages: []Message{{RoleUser, "1+1?"}, {RoleAssistant, "2"}, {RoleUser, "2+2?"}}},
		Completion: Text{Messages: []Message{{RoleAssistant, "4"}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := Rendered{
		Text:     "<|user|>\n1+1?\n<|assistant|>\n2<|endoftext|><|user|>\n2+2?\n<|assistant|>\n4<|endoftext|>",
		Specials: [][2]int{{0, 8}, {14, 27}, {29, 42}, {42, 50}, {56, 69}, {71, 84}},
		Loss:     [][2]int{{70, 84}},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("Render =\n%+v\nwant\n%+v", r, want)
	}
	if prompt := r.Text[:70]; !strings.HasSuffix(prompt, GenerationPrompt) {
		t.Errorf("prompt part %q does not end with the generation prompt", prompt)
	}
}

// TestRenderPair: the two sides share the prompt; each side's completion and <|endoftext|> carry loss.
func TestRenderPair(t *testing.T) {
	rec := Record{Format: Preference, Prompt: Text{Plain: "P:"}, Chosen: Text{Plain: " yes"}, Rejected: Text{Plain: " no"}}
	c, j, err := RenderPair(rec)
	if err != nil {
		t.Fatal(err)
	}
	wantC := Rendered{Text: "P: yes<|endoftext|>", Specials: [][2]int{{6, 19}}, Loss: [][2]int{{2, 19}}}
	wantJ := Rendered{Text: "P: no<|endoftext|>", Specials: [][2]int{{5, 18}}, Loss: [][2]int{{2, 18}}}
	if !reflect.DeepEqual(c, wantC) || !reflect.DeepEqual(j, wantJ) {
		t.Fatalf("RenderPair = %+v, %+v", c, j)
	}
	if _, err := Render(rec); err == nil {
		t.Error("Render took a preference record")
	}
	if _, _, err := RenderPair(Record{Line: 3, Format: Conversation}); err == nil || err.Error() != "line 3: RenderPair takes preference records, not messages" {
		t.Errorf("RenderPair(conversation) error %v", err)
	}
}

// TestRenderConversationalPair: message-list sides render through the template after the prompt's
// messages, so each side's text starts with the generation prompt; only the side's content and
// <|endoftext|> carry loss.
func TestRenderConversationalPair(t *testing.T) {
	c, j, err := RenderPair(Record{Format: Preference, Prompt: Text{Messages: []Message{{RoleUser, "2+2?"}}},
		Chosen: Text{Messages: []Message{{RoleAssistant, "4"}}}, Rejected: Text{Messages: []Message{{RoleAssistant, "5"}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := Rendered{Text: "<|user|>\n2+2?\n<|assistant|>\n4<|endoftext|>",
		Specials: [][2]int{{0, 8}, {14, 27}, {29, 42}}, Loss: [][2]int{{28, 42}}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("chosen %+v, want %+v", c, want)
	}
	want.Text = strings.Replace(want.Text, "4", "5", 1)
	if !reflect.DeepEqual(j, want) {
		t.Errorf("rejected %+v, want %+v", j, want)
	}
}
