package pipeline

import (
	"reflect"
	"testing"
)

// Options shaped like the stages' own: an unexported struct inlined, a nested block, tagged fields in each.
type fpShared struct {
	LR       float64 `yaml:"lr"`
	KeepLast int     `yaml:"keep_last" fingerprint:"-"`
}

type fpNested struct {
	R     int `yaml:"r"`
	Every int `yaml:"every" fingerprint:"-"`
}

type fpOptions struct {
	Steps     int `yaml:"steps"`
	fpShared  `yaml:",inline"`
	EvalEvery int      `yaml:"eval_every" fingerprint:"-"`
	Nested    fpNested `yaml:"nested"`
}

// fingerprinted zeroes exactly the tagged fields, inlined and nested ones included, in a copy.
func TestFingerprintedLeavesOutTaggedFields(t *testing.T) {
	o := &fpOptions{Steps: 3, fpShared: fpShared{LR: 0.1, KeepLast: 2}, EvalEvery: 50, Nested: fpNested{R: 4, Every: 9}}
	got := fingerprinted(o).(*fpOptions)
	want := &fpOptions{Steps: 3, fpShared: fpShared{LR: 0.1}, Nested: fpNested{R: 4}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fingerprinted %+v, want %+v", got, want)
	}
	if o.KeepLast != 2 || o.EvalEvery != 50 || o.Nested.Every != 9 {
		t.Errorf("the options themselves were changed: %+v", o)
	}
	c := &countOptions{Steps: 1}
	if fingerprinted(c) == any(c) {
		t.Error("countOptions has a tagged field; want a copy")
	}
	type plain struct{ A int }
	p := &plain{1}
	if fingerprinted(p) != any(p) {
		t.Error("options without tagged fields must be hashed as they are")
	}
}

// Changing a tagged option keeps the fingerprint; changing any other changes it.
func TestTaggedOptionsKeepTheFingerprint(t *testing.T) {
	fp := func(o *fpOptions) string {
		cfg := &Config{Dir: t.TempDir()}
		st := &StageConfig{Name: "s", Kind: "count", Options: o}
		f, _, err := fingerprint(cfg, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	base := func() *fpOptions {
		return &fpOptions{Steps: 3, fpShared: fpShared{LR: 0.1, KeepLast: 2}, EvalEvery: 50, Nested: fpNested{R: 4, Every: 9}}
	}
	ref := fp(base())
	for name, change := range map[string]func(*fpOptions){
		"keep_last": func(o *fpOptions) { o.KeepLast = 5 }, "eval_every": func(o *fpOptions) { o.EvalEvery = 7 },
		"nested.every": func(o *fpOptions) { o.Nested.Every = 1 },
	} {
		o := base()
		change(o)
		if fp(o) != ref {
			t.Errorf("changing %s changed the fingerprint", name)
		}
	}
	for name, change := range map[string]func(*fpOptions){
		"lr": func(o *fpOptions) { o.LR = 0.2 }, "steps": func(o *fpOptions) { o.Steps = 4 }, "nested.r": func(o *fpOptions) { o.Nested.R = 8 },
	} {
		o := base()
		change(o)
		if fp(o) == ref {
			t.Errorf("changing %s kept the fingerprint", name)
		}
	}
}
