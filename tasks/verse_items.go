package tasks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// candidates lists, for one verse task, the places in chapter ch an item can be made from.
//
// verse_choice: a verse whose next verse is in the same chapter, both at most cfg.MaxVerseWords words,
// the verse unique in the corpus (see corpus.unique).
// verse_continue: a verse of cfg.ContinueWords+3 .. cfg.MaxVerseWords words whose opening, the verse
// less its last cfg.ContinueWords words, is unique in the corpus.
func (c *corpus) candidates(task string, ch int, cfg Config) []place {
	var out []place
	vs := c.chapters[ch]
	for i, v := range vs {
		n := wordCount(v.Text)
		switch task {
		case VerseChoice:
			if i+1 < len(vs) && n <= cfg.MaxVerseWords && wordCount(vs[i+1].Text) <= cfg.MaxVerseWords &&
				c.unique(v.Text) {
				out = append(out, place{ch, i})
			}
		case VerseContinue:
			if n >= cfg.ContinueWords+3 && n <= cfg.MaxVerseWords {
				if q, _ := splitLast(v.Text, cfg.ContinueWords); c.unique(q) {
					out = append(out, place{ch, i})
				}
			}
		}
	}
	return out
}

// spread is how many candidates the eval and fewshot chapters hold per item drawn from them, so that a
// split's items come from many chapters rather than from every verse of a few.
const spread = 4

// verseTasks are the tasks made from the corpus. They share one split of the chapters.
var verseTasks = []string{VerseChoice, VerseContinue}

// verseSets makes the sets of the verse tasks named in tasks. Chapters, in a seeded random order, go to
// eval until each verse task has spread·cfg.Eval candidates there, then to fewshot likewise, and the rest
// to train: the splits share no chapter, and since every question is unique in the corpus, no question
// string either. The split counts both verse tasks whichever are asked for, so asking for one more task
// changes no other task's items. (The pretraining corpus holds the whole KJV, eval chapters included:
// these tasks test recall of text the model has read, not generalisation to unseen text.)
func verseSets(cfg Config, c *corpus, tasks []string) ([]set, error) {
	perm := rand.New(rand.NewPCG(cfg.Seed, streamOf("verse-chapters"))).Perm(len(c.chapters))
	cands := make([][][]place, len(verseTasks)) // task -> chapter -> candidates
	for t, task := range verseTasks {
		cands[t] = make([][]place, len(c.chapters))
		for ch := range c.chapters {
			cands[t][ch] = c.candidates(task, ch, cfg)
		}
	}
	// deal takes chapters off perm until each task has n candidates in them.
	deal := func(n int) []int {
		have := make([]int, len(verseTasks))
		var chs []int
		for len(perm) > 0 && slices.Min(have) < n {
			ch := perm[0]
			perm = perm[1:]
			chs = append(chs, ch)
			for t := range verseTasks {
				have[t] += len(cands[t][ch])
			}
		}
		return chs
	}
	eval, fewshot := deal(spread*cfg.Eval), deal(spread*cfg.FewShot)
	train := perm

	pool := c.places(cfg.MaxVerseWords)
	var sets []set
	for t, task := range verseTasks {
		if !slices.Contains(tasks, task) {
			continue
		}
		g := verseGen{cfg: cfg, c: c, task: task, rng: rand.New(rand.NewPCG(cfg.Seed, streamOf(task))), pool: pool}
		s := set{task: task}
		var err error
		for _, sp := range []struct {
			name string
			n    int
			chs  []int
			dst  *[]example
		}{{SplitTrain, cfg.Train, train, &s.train}, {SplitEval, cfg.Eval, eval, &s.eval},
			{SplitFewShot, cfg.FewShot, fewshot, &s.fewshot}} {
			var ps []place
			for _, ch := range sp.chs {
				ps = append(ps, cands[t][ch]...)
			}
			if len(ps) < sp.n {
				return nil, fmt.Errorf("%s: the corpus has %d %s candidates left, %d asked (lower the count or raise max_verse_words)",
					task, len(ps), sp.name, sp.n)
			}
			g.rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
			if *sp.dst, err = g.examples(sp.name, ps[:sp.n]); err != nil {
				return nil, err
			}
		}
		sets = append(sets, s)
	}
	return sets, nil
}

// verseGen makes the examples of one verse task.
type verseGen struct {
	cfg  Config
	c    *corpus
	task string
	rng  *rand.Rand
	pool []place // where distractors and wrong answers come from
}

func (g *verseGen) examples(split string, ps []place) ([]example, error) {
	out := make([]example, len(ps))
	for i, p := range ps {
		v := g.c.verse(p)
		it := Item{ID: itemID(g.task, split, i), Task: g.task, Ref: v.Ref()}
		var err error
		if g.task == VerseChoice {
			out[i], err = g.choice(it, p)
		} else {
			out[i], err = g.continuation(it, p)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", g.task, v.Ref(), err)
		}
	}
	return out, nil
}

// choice asks which verse follows the verse at p: the next one, or one of cfg.Choices-1 verses from other
// chapters, the right one at a random position. The first distractor is the rejected completion.
func (g *verseGen) choice(it Item, p place) (example, error) {
	text, next := g.c.verse(p).Text, g.c.verse(place{p.ch, p.i + 1}).Text
	others, err := g.draw(p.ch, g.cfg.Choices-1, func(s string) string { return s }, next, text)
	if err != nil {
		return example{}, err
	}
	it.Question, it.Gold = text, g.rng.IntN(g.cfg.Choices)
	for _, s := range others {
		it.Choices = append(it.Choices, " "+s)
	}
	it.Choices = slices.Insert(it.Choices, it.Gold, " "+next)
	return example{item: it, rejected: " " + others[0], target: firstWords(next, g.cfg.ContinueWords)}, nil
}

// continuation asks for the last cfg.ContinueWords words of the verse at p; the rejected completion is
// the last words of a verse from another chapter.
func (g *verseGen) continuation(it Item, p place) (example, error) {
	it.Question, it.Answer = splitLast(g.c.verse(p).Text, g.cfg.ContinueWords)
	last := func(s string) string { _, a := splitLast(s, g.cfg.ContinueWords); return a }
	wrong, err := g.draw(p.ch, 1, last, it.Answer)
	if err != nil {
		return example{}, err
	}
	return example{item: it, rejected: " " + wrong[0], target: it.Answer}, nil
}

// draw picks n verses from the pool outside chapter ch, maps each through f, and keeps the results that
// are new and not among avoid.
func (g *verseGen) draw(ch, n int, f func(string) string, avoid ...string) ([]string, error) {
	var out []string
	for tries := 0; len(out) < n; tries++ {
		if tries == 1000 {
			return nil, fmt.Errorf("found only %d of %d distinct distractors", len(out), n)
		}
		p := g.pool[g.rng.IntN(len(g.pool))]
		s := f(g.c.verse(p).Text)
		if p.ch != ch && s != "" && !slices.Contains(avoid, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// splitLast splits s into all but its last k words and those words: ("In the beginning God", 2) gives
// "In the" and "beginning God". With fewer than k words the first part is "".
func splitLast(s string, k int) (string, string) {
	w := strings.Fields(s)
	cut := max(len(w)-k, 0)
	return strings.Join(w[:cut], " "), strings.Join(w[cut:], " ")
}

// firstWords is the first k words of s: ("In the beginning God", 2) gives "In the".
func firstWords(s string, k int) string {
	w := strings.Fields(s)
	return strings.Join(w[:min(k, len(w))], " ")
}
