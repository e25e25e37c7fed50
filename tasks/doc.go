// Package tasks generates the offline task data the post-training stages learn from and the eval stage
// scores: arithmetic with direct and worked answers, and two tasks grounded in the King James Bible.
//
// One Build gives, per task, three disjoint splits of Items: train, eval, and fewshot, the split k-shot
// prompts take their examples from. Data.Write turns them into files in Hugging Face TRL's field names:
// SFT rows {"prompt","completion"}, preference pairs {"prompt","chosen","rejected"} whose rejected side is
// a plausible wrong answer, and PPO prompts {"prompt","answer","pattern"} whose pattern extracts the
// answer from a rollout (see Write for the layout).
//
// Prompt and Completion are the one place that turns an Item into text. The SFT data is written with them
// and the eval stage builds its prompts with them too (FewShot for k-shot), so training and scoring see
// the same format:
//
//	Prompt(arithmetic item, Direct)     "Question: What is 347 + 589?\nAnswer:"
//	Completion(arithmetic item, Direct) " 936"
//	Prompt(arithmetic item, Worked)     "Question: What is 347 + 589?\nAnswer: Let's think step by step."
//	Completion(arithmetic item, Worked) " 7+9=16, write 6 carry 1. 4+8+1=13, write 3 carry 1. 3+5+1=9. The answer is 936."
//
// Scoring follows lm-evaluation-harness. Arithmetic and verse_continue are generation tasks scored by
// exact match after extraction (AnswerPattern, Extractor): the leading number of a direct answer, the
// number after "The answer is" of a worked one, the first words of a verse continuation.
// verse_choice is multiple choice: the passage is the context, each choice a continuation that starts
// with the space joining it to the context, scored by its log-likelihood; Gold is the right one.
// The verse tasks use the raw passage as the prompt, as LAMBADA and HellaSwag do.
//
// The splits share no question; the verse tasks' splits share no chapter either. The pretraining corpus
// holds the whole KJV, eval chapters included, so the verse tasks measure recall of text the model has
// read, not generalisation to unseen text.
package tasks
