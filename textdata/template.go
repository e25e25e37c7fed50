package textdata

import "pipeline/tokenizer"

// The chat template renders a list of messages with the tokenizer's special tokens. Each message is
//
//	system      "<|system|>\n" + content + "\n"
//	user        "<|user|>\n" + content + "\n"
//	assistant   "<|assistant|>\n" + content + "<|endoftext|>"
//
// and a prompt for generation ends with GenerationPrompt, "<|assistant|>\n": the model writes the
// content and closes it with <|endoftext|>, where sampling stops. Nothing follows the <|endoftext|>
// (no "\n"), so the next turn's marker comes straight after it and the prompt never needs a token that
// the model did not write. The markers are special tokens; contents are ordinary text, so a content
// that spells "<|endoftext|>" is just those 13 characters (see Tokenize).
//
// For example
//
//	[{system, "Be brief."}, {user, "2+2?"}, {assistant, "4"}, {user, "And 3+3?"}, {assistant, "6"}]
//
// renders as (⟨…⟩ marking the bytes that carry loss)
//
//	<|system|>\nBe brief.\n<|user|>\n2+2?\n<|assistant|>\n⟨4<|endoftext|>⟩<|user|>\nAnd 3+3?\n<|assistant|>\n⟨6<|endoftext|>⟩
//
// ChatTemplate is the same template as Hugging Face Jinja, for tokenizer_config.json's "chat_template".
// Its {% generation %} block marks exactly the bytes that carry loss here, so transformers'
// apply_chat_template(..., return_assistant_tokens_mask=True) and TRL's assistant_only_loss agree with
// this package. It raises on a role other than system, user and assistant and on a system message after
// the first.
const ChatTemplate = `{% for message in messages %}` +
	`{% if message['role'] == 'system' %}` +
	`{% if not loop.first %}{{ raise_exception('a system message may only come first') }}{% endif %}` +
	`{{ '<|system|>\n' + message['content'] + '\n' }}` +
	`{% elif message['role'] == 'user' %}` +
	`{{ '<|user|>\n' + message['content'] + '\n' }}` +
	`{% elif message['role'] == 'assistant' %}` +
	`{{ '<|assistant|>\n' }}{% generation %}{{ message['content'] + '<|endoftext|>' }}{% endgeneration %}` +
	`{% else %}{{ raise_exception('unknown role: ' + message['role']) }}{% endif %}` +
	`{% endfor %}` +
	`{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}`

// GenerationPrompt is what a rendered prompt ends with when the model is to answer.
const GenerationPrompt = tokenizer.Assistant + "\n"

// messages renders msgs with the chat template; when train is set the assistant contents and their
// <|endoftext|> carry loss.
func (b *builder) messages(msgs []Message, train bool) {
	for _, m := range msgs {
		switch m.Role {
		case RoleSystem:
			b.special(tokenizer.System, false)
			b.text("\n"+m.Content+"\n", false)
		case RoleUser:
			b.special(tokenizer.User, false)
			b.text("\n"+m.Content+"\n", false)
		case RoleAssistant:
			b.special(tokenizer.Assistant, false)
			b.text("\n", false)
			b.text(m.Content, train)
			b.special(tokenizer.EndOfText, train)
		}
	}
}
