// Package textdata turns post-training data files into token rows with loss weights, ready for a causal
// language model whose batch is ids, targets and weights, each [B, T] row-major.
//
// The files are JSONL in the field names of Hugging Face TRL, one format per file, told from its first
// record (see ReadFile):
//
//	{"prompt": "Question: What is 2+2?\nAnswer:", "completion": " 4"}                 PromptCompletion
//	{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", ...}]}      Conversation
//	{"prompt": "...", "chosen": " 4", "rejected": " 5"}                                Preference
//
// prompt, completion, chosen and rejected may also be lists of messages (TRL's conversational format).
//
// From a record to a batch:
//
//	ReadFile     the records, every field checked; an error names file, line and field
//	Render       the text: plain prompt + completion + <|endoftext|>, or the chat template for messages;
//	             with the byte ranges that carry loss (the completion or assistant contents and the
//	             <|endoftext|> closing each) and the ranges that are template special tokens
//	Tokenize     ids, and per token a loss flag: the token's byte span overlaps a loss range
//	Truncate     at most T+1 tokens (SFT) or T (pairs), dropping the end
//	PadBatch, Batcher
//	             rows: ids = seq[0:T], targets = seq[1:T+1], weights[t] = loss flag of token t+1,
//	             right-padded, with an attention mask and the index of each row's last real token
//
// LoadSFT and LoadPairs do the first four steps for a whole file, and Batcher and PairBatcher deal
// batches in a seeded order, an epoch at a time, whose position can be saved and restored.
package textdata
