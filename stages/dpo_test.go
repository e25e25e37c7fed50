package stages

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pipeline/graphs"
	"pipeline/losses"
	"pipeline/pipeline"
	"pipeline/safetensors"
	"pipeline/textdata"
	"pipeline/tokenizer"
)

// toyPairs makes n preference pairs over a vocabulary of V ids (pad = V-1 closes every side): a shared
// prompt of 2 to 5 tokens, then completions of 1 to 4 tokens that differ in their first token.
func toyPairs(rng *rand.Rand, n, V int) []textdata.Pair {
	eot := V - 1
	side := func(prompt []int) textdata.Sequence {
		s := textdata.Sequence{IDs: append([]int{}, prompt...), Loss: make([]bool, len(prompt))}
		for range 1 + rng.IntN(4) {
			s.IDs, s.Loss = append(s.IDs, rng.IntN(V-1)), append(s.Loss, true)
		}
		s.IDs, s.Loss = append(s.IDs, eot), append(s.Loss, true)
		return s
	}
	out := make([]textdata.Pair, n)
	for i := range out {
		prompt := make([]int, 2+rng.IntN(4))
		for j := range prompt {
			prompt[j] = rng.IntN(V - 1)
		}
		p := textdata.Pair{Chosen: side(prompt), Rejected: side(prompt)}
		for p.Rejected.IDs[len(prompt)] == p.Chosen.IDs[len(prompt)] {
			p.Rejected.IDs[len(prompt)] = rng.IntN(V - 1)
		}
		out[i] = p
	}
	return out
}

// toyObjective is a 1-layer policy of 2B rows over random weights (std 0.3, so that the logits are far
// from uniform) with β and loss type cfg.
func toyObjective(t *testing.T, cfg losses.DPOConfig, V, B, T int) *dpoObjective {
	t.Helper()
	mc := graphs.NewConfig(V, T, 16, 1, 2)
	params := graphs.NewParams(mc)
	params.Init(7, 0.3)
	fwd, err := graphs.NewModel(mc, params, 2*B, T, false)
	if err != nil {
		t.Fatal(err)
	}
	net, err := graphs.NewModel(mc, params, 2*B, T, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fwd.Close(); net.Close() })
	return &dpoObjective{cfg: cfg, forward: fwd, policy: net, pad: V - 1}
}

// The CPU log-softmax of completionLogps agrees with the graph's own cross-entropy op: summed over the
// batch, sum_r S_r = -sum_t w_t CE_t (Model.Eval with the completion weights and norm 1).
func TestCompletionLogpsMatchCrossEntropy(t *testing.T) {
	const V, B, T = 41, 3, 12
	obj := toyObjective(t, losses.DPOConfig{Beta: 0.1, LossType: losses.DPOSigmoid}, V, B, T)
	b, err := textdata.PairBatch(toyPairs(rand.New(rand.NewPCG(3, 4)), B, V), T, V-1)
	if err != nil {
		t.Fatal(err)
	}
	sums, _, err := completionLogps(obj.forward, b)
	if err != nil {
		t.Fatal(err)
	}
	ce, err := obj.forward.Eval(b.IDs, b.Targets, b.Weights, 1)
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, s := range sums {
		total += s
	}
	if math.Abs(total+float64(ce)) > 1e-5*math.Abs(total) {
		t.Errorf("sum of completion log-probs %.7f, graph cross-entropy %.7f", total, ce)
	}
	if total > -float64(b.TargetCount())*0.5 {
		t.Errorf("log-probs %.3f over %d tokens look like no scoring at all", total, b.TargetCount())
	}
}

// The gradient that step back-propagates through the weighted cross-entropy equals a central finite
// difference of the DPO loss computed from forward passes alone, on the parameter with the largest
// gradient in each of several tensors. The reference is offset from the policy by a different amount per
// pair, so each pair's weight σ(-βh) differs; two micro-batches check the accumulation.
//
// Step sizes and tolerance: the loss is evaluated from float32 logits, a rounding noise of ~1e-6 in the
// loss, so a step of eps = 3e-3 (parameters are ~0.3) leaves ~3e-4 of noise in the derivative and a
// truncation error O(eps²) of the same order (with eps = 1e-2 it reaches 0.3% on wte, which feeds both
// the embedding and the head; at 2e-3 the two agree to 1e-4). 1% relative error on the largest
// gradients, of size 0.3 to 0.9, leaves room for both and still catches a wrong sign, a missing 1/N, a
// lost micro-batch, a swapped chosen/rejected row, label smoothing left out or a missing per-token
// average (ipo).
func TestDPOGradientMatchesFiniteDifference(t *testing.T) {
	const V, B, T = 41, 2, 12
	pairs := toyPairs(rand.New(rand.NewPCG(1, 2)), 2*B, V)
	micro := [][]int{{0, 1}, {2, 3}}
	for _, cfg := range []losses.DPOConfig{
		{Beta: 0.7, LossType: losses.DPOSigmoid, LabelSmoothing: 0.1},
		{Beta: 0.7, LossType: losses.DPOIPO},
		{Beta: 0.7, LossType: losses.DPOSigmoid, RPOAlpha: 0.8}, // RPO: the NLL per chosen token over both micro-batches
		{Beta: 0.7, LossType: losses.DPOIPO, RPOAlpha: 1.5},
	} {
		obj := toyObjective(t, cfg, V, B, T)
		s, err := scorePairs(obj.forward, pairs, obj.pad)
		if err != nil {
			t.Fatal(err)
		}
		ref := pairLogps{Chosen: make([]float64, len(pairs)), Rejected: make([]float64, len(pairs))}
		for i := range pairs {
			ref.Chosen[i] = s.Chosen[i] + 0.8*float64(i) - 1
			ref.Rejected[i] = s.Rejected[i] - 0.5*float64(i)
		}
		loss := func() float64 {
			s, err := scorePairs(obj.forward, pairs, obj.pad)
			if err != nil {
				t.Fatal(err)
			}
			var pol, rf pairLogps
			var n []int
			for i, p := range pairs {
				cw, cl := obj.scale(p.Chosen), obj.scale(p.Rejected)
				pol.Chosen, pol.Rejected = append(pol.Chosen, s.Chosen[i]*cw), append(pol.Rejected, s.Rejected[i]*cl)
				rf.Chosen, rf.Rejected = append(rf.Chosen, ref.Chosen[i]*cw), append(rf.Rejected, ref.Rejected[i]*cl)
				n = append(n, p.Chosen.Targets())
			}
			m, err := losses.DPO(cfg, pol.Chosen, pol.Rejected, rf.Chosen, rf.Rejected, n, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			return m.Loss
		}
		params := obj.forward.Params
		grads := make([]float32, len(params.Data))
		res, err := obj.step(pairs, ref, micro, grads)
		if err != nil {
			t.Fatal(err)
		}
		if l := loss(); res.Loss != l {
			t.Errorf("%s: step's loss %.17g, forward-only loss %.17g", cfg.LossType, res.Loss, l)
		}
		if _, ok := res.Metrics["nll_loss"]; ok != (cfg.RPOAlpha > 0) {
			t.Errorf("%+v: nll_loss logged %v, want only with rpo_alpha", cfg, ok)
		}
		for _, name := range []string{"wte.weight", "wpe.weight", "h.0.attn.c_attn.weight", "h.0.mlp.c_proj.weight", "ln_f.bias"} {
			info, _ := params.Info(name)
			checkLargestGradient(t, string(cfg.LossType)+" "+name, params.Data, grads, info.Offset, info.Size, loss)
		}
	}
}

// At π = π_ref the loss is ln 2 for every β, and its gradient is (β/2N) d/dθ sum_i (log π_l,i - log
// π_w,i): never zero, and proportional to β.
func TestDPOStepAtReferenceIsLn2(t *testing.T) {
	const V, B, T = 41, 2, 12
	pairs := toyPairs(rand.New(rand.NewPCG(5, 6)), 2*B, V)
	var unit []float32 // gradient / β
	for _, beta := range []float64{0.1, 1, 4} {
		obj := toyObjective(t, losses.DPOConfig{Beta: beta, LossType: losses.DPOSigmoid}, V, B, T)
		s, err := scorePairs(obj.forward, pairs, obj.pad)
		if err != nil {
			t.Fatal(err)
		}
		grads := make([]float32, len(obj.forward.Params.Data))
		res, err := obj.step(pairs, s.pairLogps, [][]int{{0, 1}, {2, 3}}, grads)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(res.Loss-math.Ln2) > 1e-15 || math.Abs(res.Loss-0.693147) > 1e-6 {
			t.Errorf("β %g: loss %.17g at the reference, want ln 2", beta, res.Loss)
		}
		if res.Metrics["rewards/margins"] != 0 || res.Metrics["rewards/accuracies"] != 0 {
			t.Errorf("β %g: metrics %v, want zero rewards", beta, res.Metrics)
		}
		norm := 0.0
		for _, g := range grads {
			norm += float64(g) * float64(g)
		}
		if math.Sqrt(norm) < 1e-3*beta {
			t.Errorf("β %g: gradient norm %g at the reference", beta, math.Sqrt(norm))
		}
		if unit == nil {
			unit = make([]float32, len(grads))
			for i, g := range grads {
				unit[i] = g / float32(beta)
			}
			continue
		}
		// Compared as vectors: float32 rounding in the backward pass leaves cancelling components a
		// relative error of ~1e-4, the whole gradient ~3e-7.
		var diff, ref float64
		for i, g := range grads {
			d := float64(g)/beta - float64(unit[i])
			diff, ref = diff+d*d, ref+float64(unit[i])*float64(unit[i])
		}
		if math.Sqrt(diff/ref) > 1e-5 {
			t.Errorf("β %g: |gradient/β - gradient(0.1)/0.1| / |gradient(0.1)/0.1| = %g: not proportional to β", beta, math.Sqrt(diff/ref))
		}
	}
}

// writeToyPrefs writes preference files over the toy corpus's words with a rule that the toy model picks
// up in a few dozen steps and that carries over to held-out prompts: the chosen completion is " land"
// after a prompt whose last word is even-numbered in the list and " bread" after an odd-numbered one,
// the rejected one any other word. (A rule mapping each last word to its own answer is learnt on the
// training prompts but held-out accuracy stays near 0.7 at this size.)
func writeToyPrefs(t *testing.T, dir string) {
	t.Helper()
	words := strings.Fields("lord moses aaron land bread give forth said")
	rng := rand.New(rand.NewPCG(9, 10))
	for _, f := range []struct {
		name string
		n    int
	}{{"prefs_train.jsonl", 64}, {"prefs_eval.jsonl", 24}} {
		var b strings.Builder
		for range f.n {
			p := []int{rng.IntN(len(words)), rng.IntN(len(words)), rng.IntN(len(words))}
			good := 3 + p[2]%2 // land after even-numbered words, bread after odd
			bad := good
			for bad == good {
				bad = rng.IntN(len(words))
			}
			prompt := words[p[0]] + " " + words[p[1]] + " " + words[p[2]]
			line, _ := json.Marshal(map[string]string{"prompt": prompt, "chosen": " " + words[good], "rejected": " " + words[bad]})
			b.Write(append(line, '\n'))
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// toyDPOSteps is max_steps of toyDPOStage.
const toyDPOSteps = 32

const toyDPOStage = `  - name: dpo
    kind: dpo
    init: pretrain
    data_files: [prefs_train.jsonl]
    eval_files: [prefs_eval.jsonl]
    beta: 0.5
    batch_size: 4
    grad_accum: 2
    max_steps: 32
    lr: 1.0e-2
    warmup_steps: 2
    eval_every: 8
    checkpoint_every: 3
`

// runToyDPO runs bpe, pretrain and dpo on the toy data in dir, cancelling the run during DPO step
// stopAt+1 (none when stopAt < 0).
func runToyDPO(t *testing.T, dir string, stopAt int) error {
	t.Helper()
	writeToyCorpus(t, dir)
	writeToyPrefs(t, dir)
	_, err := runToyConfig(t, dir, toyPretrainConfig+toyDPOStage, &testHookDPOStep, stopAt)
	return err
}

// The DPO stage end to end on toy data, from a pretrain checkpoint: the loss starts at ln 2 with a
// gradient, TRL's metrics are logged, the reference's log-probabilities are those of the untouched
// reference checkpoint bit for bit after training, held-out preference accuracy rises, and a run
// stopped and resumed ends with the same bytes.
func TestDPOStage(t *testing.T) {
	straight := t.TempDir()
	if err := runToyDPO(t, straight, -1); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(straight, "out/toy/dpo")

	t.Run("metrics", func(t *testing.T) {
		recs := readMetrics(t, filepath.Join(out, "metrics.jsonl"))
		if len(recs) != toyDPOSteps+1 {
			t.Fatalf("%d metrics records, want step 0 (held-out before training) and steps 1..%d", len(recs), toyDPOSteps)
		}
		// Step 0 scores the init policy against the reference, loaded apart from it, on the same
		// batches: every log-ratio is exactly 0.
		if r := recs[0]; r["step"] != 0 || math.Abs(r["val_loss"]-math.Ln2) > 1e-15 || r["val_rewards/accuracies"] != 0 || r["val_rewards/margins"] != 0 {
			t.Errorf("step 0: %v, want val_loss ln 2 and zero rewards", r)
		}
		// Step 1 sees training batches, laid out unlike the reference's pass: equal to rounding.
		if r := recs[1]; math.Abs(r["loss"]-math.Ln2) > 1e-6 || !(r["grad_norm"] > 1e-3) {
			t.Errorf("step 1: loss %.9f, grad_norm %g; want ln 2 = 0.693147 and a gradient", r["loss"], r["grad_norm"])
		}
		for _, k := range []string{"loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected"} {
			for _, r := range recs[1:] {
				if _, ok := r[k]; !ok {
					t.Fatalf("step %v has no %q", r["step"], k)
				}
			}
		}
		last := recs[toyDPOSteps]
		if !(last["val_loss"] < 0.3 && last["val_rewards/accuracies"] > 0.85 && last["rewards/margins"] > 0) {
			t.Errorf("after %d steps: %v; want held-out loss below ln 2 and most implicit rewards right", toyDPOSteps, last)
		}
		t.Logf("held-out before: %v", recs[0])
		t.Logf("held-out after:  %v", last)
	})

	t.Run("reference unchanged", func(t *testing.T) {
		stored, err := safetensors.ReadFile(filepath.Join(out, refLogpsFile))
		if err != nil {
			t.Fatal(err)
		}
		refDir := filepath.Join(straight, "out/toy/pretrain")
		net, tok, pad := toyReference(t, refDir)
		// 32 steps of 8 draw every one of the 64 training pairs.
		var sets [2][]textdata.Pair
		for k, file := range []string{"prefs_train.jsonl", "prefs_eval.jsonl"} {
			if sets[k], _, err = textdata.LoadPairs(filepath.Join(straight, file), tok, 16); err != nil {
				t.Fatal(err)
			}
		}
		trainRef, evalRef, err := readReferenceLogps(stored, len(sets[0]), len(sets[1]))
		if err != nil {
			t.Fatal(err)
		}
		for k, stored := range []pairLogps{trainRef, evalRef} {
			s, err := scorePairs(net, sets[k], pad)
			if err != nil {
				t.Fatal(err)
			}
			name := []string{"train", "eval"}[k]
			for side, want := range map[string][]float64{"chosen": s.Chosen, "rejected": s.Rejected} {
				got := map[string][]float64{"chosen": stored.Chosen, "rejected": stored.Rejected}[side]
				for i := range want {
					if math.Float64bits(got[i]) != math.Float64bits(want[i]) || want[i] >= 0 {
						t.Fatalf("%s.%s[%d]: stored %v, recomputed from the reference %v", name, side, i, got[i], want[i])
					}
				}
			}
		}
		// And the policy did move away from it.
		a, _ := os.ReadFile(filepath.Join(refDir, "model.safetensors"))
		b, _ := os.ReadFile(filepath.Join(out, "model.safetensors"))
		if bytes.Equal(a, b) {
			t.Error("the DPO model is the reference")
		}
	})

	t.Run("outputs", func(t *testing.T) {
		if _, _, err := graphs.Load(out); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"tokenizer.json", "loss.png", "rewards.png", "heldout_before.json", "manifest.json"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Error(err)
			}
		}
		m, err := pipeline.ReadManifest(out)
		if err != nil {
			t.Fatal(err)
		}
		if m.Summary["before"] == nil || m.Summary["after"] == nil {
			t.Errorf("summary %v", m.Summary)
		}
	})

	t.Run("resume is bit-exact", func(t *testing.T) {
		want, err := os.ReadFile(filepath.Join(out, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []int{1, 7} {
			dir := t.TempDir()
			if err := runToyDPO(t, dir, k); !errors.Is(err, pipeline.ErrInterrupted) {
				t.Fatalf("k=%d: want an interrupted run, got %v", k, err)
			}
			if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("out/toy/dpo.partial/steps/%08d", k+1))); err != nil {
				t.Fatalf("k=%d: no checkpoint at the step where it stopped: %v", k, err)
			}
			if err := runToyDPO(t, dir, -1); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, "out/toy/dpo/model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("k=%d: resumed weights differ from the uninterrupted run", k)
			}
			if n := len(readMetrics(t, filepath.Join(dir, "out/toy/dpo/metrics.jsonl"))); n != toyDPOSteps+1 {
				t.Errorf("k=%d: %d metrics records after resuming, want %d", k, n, toyDPOSteps+1)
			}
		}
	})
}

// Each bad option is reported under its own key, and only there.
func TestDPOValidate(t *testing.T) {
	run := &pipeline.Config{Model: pipeline.DefaultModel()}
	for _, tc := range []struct {
		name string
		edit func(o *dpoOptions)
		want string // the one key reported; "" for none
	}{
		{"defaults", func(o *dpoOptions) {}, ""},
		{"beta", func(o *dpoOptions) { o.Beta = 0 }, "beta"},
		{"unknown loss", func(o *dpoOptions) { o.LossType, o.LabelSmoothing = "kto", 0.1 }, "loss_type"},
		{"smoothing with ipo", func(o *dpoOptions) { o.LossType, o.LabelSmoothing = "ipo", 0.1 }, "label_smoothing"},
		{"smoothing too large", func(o *dpoOptions) { o.LabelSmoothing = 0.5 }, "label_smoothing"},
		{"two data sources", func(o *dpoOptions) { o.DataFiles = []string{"a.jsonl"} }, "data"},
		{"no data", func(o *dpoOptions) { o.Data = "" }, "data"},
		{"no held-out files", func(o *dpoOptions) { o.Data, o.DataFiles = "", []string{"a.jsonl"} }, "eval_files"},
		{"seq_len", func(o *dpoOptions) { o.SeqLen = run.Model.NPositions + 1 }, "seq_len"},
		{"rpo_alpha", func(o *dpoOptions) { o.RPOAlpha = 1 }, ""},
		{"rpo_alpha with ipo", func(o *dpoOptions) { o.RPOAlpha, o.LossType = 0.5, "ipo" }, ""},
		{"negative rpo_alpha", func(o *dpoOptions) { o.RPOAlpha = -0.1 }, "rpo_alpha"},
		{"NaN rpo_alpha", func(o *dpoOptions) { o.RPOAlpha = math.NaN() }, "rpo_alpha"},
	} {
		o := dpoKind{}.Defaults().(*dpoOptions)
		o.Init, o.Data = "sft", "tasks"
		tc.edit(o)
		var keys []string
		dpoKind{}.Validate(o, run, func(key, msg string) { keys = append(keys, key+": "+msg) })
		if (tc.want == "" && len(keys) != 0) || (tc.want != "" && (len(keys) != 1 || !strings.HasPrefix(keys[0], tc.want+": "))) {
			t.Errorf("%s: reported %q, want only %q", tc.name, keys, tc.want)
		}
	}
}

// toyLoRADPO is the toy sft run as LoRA without merge, then DPO from its adapter.
const toyLoRADPO = sftFromTasks + `    method: lora
  - name: dpo
    kind: dpo
    init: sft
    data_files: [prefs_train.jsonl]
    eval_files: [prefs_eval.jsonl]
    beta: 0.5
    batch_size: 4
    max_steps: 12
    lr: 3.0e-2
    warmup_steps: 2
    eval_every: 4
    checkpoint_every: 3
`

// runToyLoRADPO runs toyLoRADPO in dir, cancelling the run during DPO step stopAt+1 (none when stopAt < 0).
func runToyLoRADPO(t *testing.T, dir string, stopAt int) error {
	t.Helper()
	writeToyCorpus(t, dir)
	writeToyPrefs(t, dir)
	_, err := runToyConfig(t, dir, toySFTConfig+toyLoRADPO, &testHookDPOStep, stopAt)
	return err
}

// DPO from a LoRA adapter trains the adapter over the frozen base, and its reference is the base, scored
// by the policy's own model with the adapter off: the stored reference log-probabilities equal the base
// checkpoint's bit for bit, with no second copy of the weights. The output is an adapter over the base,
// and a run stopped and resumed writes the same one. A named reference is loaded apart.
func TestDPOFromLoRA(t *testing.T) {
	dir := t.TempDir()
	if err := runToyLoRADPO(t, dir, -1); err != nil {
		t.Fatal(err)
	}
	out, sft, pre := filepath.Join(dir, "out/toy/dpo"), filepath.Join(dir, "out/toy/sft"), filepath.Join(dir, "out/toy/pretrain")

	stored, err := safetensors.ReadFile(filepath.Join(out, refLogpsFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg, params, err := graphs.Load(pre)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(pre)
	if err != nil {
		t.Fatal(err)
	}
	pad, _ := tok.SpecialID("<|endoftext|>")
	net, err := graphs.NewModel(cfg, params, 2*4, cfg.NPositions, false)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	sftAdapter, err := graphs.LoadAdapter(sft, cfg)
	if err != nil {
		t.Fatal(err)
	}
	withSFT, err := graphs.NewModelWith(cfg, params, 2*4, cfg.NPositions, graphs.ModelOptions{Adapter: sftAdapter})
	if err != nil {
		t.Fatal(err)
	}
	defer withSFT.Close()
	var sets [2][]textdata.Pair
	for k, file := range []string{"prefs_train.jsonl", "prefs_eval.jsonl"} {
		if sets[k], _, err = textdata.LoadPairs(filepath.Join(dir, file), tok, cfg.NPositions); err != nil {
			t.Fatal(err)
		}
	}
	trainRef, evalRef, err := readReferenceLogps(stored, len(sets[0]), len(sets[1]))
	if err != nil {
		t.Fatal(err)
	}
	for k, ref := range []pairLogps{trainRef, evalRef} {
		name, pairs := []string{"train", "eval"}[k], sets[k]
		base, err := scorePairs(net, pairs, pad)
		if err != nil {
			t.Fatal(err)
		}
		adapted, err := scorePairs(withSFT, pairs, pad)
		if err != nil {
			t.Fatal(err)
		}
		scored := 0 // 12 steps of 4 draw 48 of the 64 training pairs; the others are NaN
		for i, got := range ref.Chosen {
			if math.IsNaN(got) {
				continue
			}
			if scored++; math.Float64bits(got) != math.Float64bits(base.Chosen[i]) {
				t.Fatalf("%s.chosen[%d]: stored %v, the base checkpoint's %v", name, i, got, base.Chosen[i])
			}
		}
		if want := map[string]int{"train": 48, "eval": len(pairs)}[name]; scored != want {
			t.Errorf("%s: %d pairs scored, want %d", name, scored, want)
		}
		// The SFT adapter moved these log-probabilities, so the equality tells the adapter was off.
		if math.Abs(adapted.Chosen[0]-base.Chosen[0]) < 1e-3 {
			t.Errorf("%s.chosen[0]: %v with the SFT adapter, %v without: the check says nothing", name, adapted.Chosen[0], base.Chosen[0])
		}
	}

	// The output is a LoRA adapter over the pretrained base, moved from the SFT adapter; DPO learnt.
	var ac map[string]any
	b, _ := os.ReadFile(filepath.Join(out, graphs.AdapterConfigFile))
	if err := json.Unmarshal(b, &ac); err != nil {
		t.Fatal(err)
	}
	if ac["base_model_name_or_path"] != "../pretrain" || ac["peft_type"] != "LORA" {
		t.Errorf("adapter_config.json = %v", ac)
	}
	if _, err := os.Stat(filepath.Join(out, graphs.ModelFile)); err == nil {
		t.Errorf("dpo from an adapter wrote a full checkpoint")
	}
	a, _ := os.ReadFile(filepath.Join(sft, graphs.AdapterModelFile))
	c, _ := os.ReadFile(filepath.Join(out, graphs.AdapterModelFile))
	if len(c) == 0 || bytes.Equal(a, c) {
		t.Error("the DPO adapter is missing or the SFT adapter unchanged")
	}
	// The policy starts as the SFT model, not as the reference: step 0's loss is not ln 2; it falls.
	recs := readMetrics(t, filepath.Join(out, "metrics.jsonl"))
	if first, last := recs[0], recs[len(recs)-1]; first["step"] != 0 || first["val_loss"] == math.Ln2 || !(last["val_loss"] < first["val_loss"]) {
		t.Errorf("held-out DPO loss %v at step 0 and %v at step %v: want a fall", first["val_loss"], last["val_loss"], last["step"])
	}

	resumed := t.TempDir()
	if err := runToyLoRADPO(t, resumed, 5); !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("want an interrupted run, got %v", err)
	}
	if err := runToyLoRADPO(t, resumed, -1); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(resumed, "out/toy/dpo", graphs.AdapterModelFile)); !bytes.Equal(got, c) {
		t.Error("the resumed run's adapter differs from the uninterrupted run's")
	}

	// Named, the reference is loaded apart: reference: sft scores with the SFT adapter on.
	config := toySFTConfig + strings.Replace(toyLoRADPO, "    init: sft\n", "    init: sft\n    reference: sft\n", 1)
	if _, err := runToySFTConfig(t, dir, config, -1); err != nil {
		t.Fatal(err)
	}
	if stored, err = safetensors.ReadFile(filepath.Join(out, refLogpsFile)); err != nil {
		t.Fatal(err)
	}
	pairs, _, err := textdata.LoadPairs(filepath.Join(dir, "prefs_eval.jsonl"), tok, cfg.NPositions)
	if err != nil {
		t.Fatal(err)
	}
	want, err := scorePairs(withSFT, pairs, pad)
	if err != nil {
		t.Fatal(err)
	}
	got, err := float64s(stored, "eval.rejected", len(pairs))
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if math.Float64bits(got[i]) != math.Float64bits(want.Rejected[i]) {
			t.Fatalf("reference: sft: eval.rejected[%d] is %v, the SFT model's %v", i, got[i], want.Rejected[i])
		}
	}
	// The policy starts at this reference: step 0's held-out loss is ln 2.
	if r := readMetrics(t, filepath.Join(out, "metrics.jsonl"))[0]; math.Abs(r["val_loss"]-math.Ln2) > 1e-12 {
		t.Errorf("reference: sft: step 0's held-out loss %v, want ln 2", r["val_loss"])
	}
}

// A run shorter than an epoch scores the reference on exactly the training pairs its steps draw: the
// stored train.index is the set of indices the loop hands the objective, in ascending order, and each
// stored value is the reference's log-probability of that pair scored alone (a wrong index or an
// off-by-one in the scatter would give another pair's value).
func TestDPOReferenceScoresDrawnPairsOnly(t *testing.T) {
	dir := t.TempDir()
	writeToyCorpus(t, dir)
	writeToyPrefs(t, dir)
	const steps = 3 // x 2 micro-batches x 4 pairs = 24 of the 64 training pairs
	drawn := map[int]bool{}
	testHookDPODraws = func(micro [][]int) {
		for _, idx := range micro {
			for _, p := range idx {
				drawn[p] = true
			}
		}
	}
	defer func() { testHookDPODraws = nil }()
	stage := strings.Replace(toyDPOStage, "max_steps: 32", fmt.Sprintf("max_steps: %d", steps), 1)
	log, err := runToyConfig(t, dir, toyPretrainConfig+stage, &testHookDPOStep, -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(drawn) != steps*2*4 {
		t.Fatalf("the loop drew %d distinct pairs in %d steps, want %d", len(drawn), steps, steps*2*4)
	}
	if want := fmt.Sprintf("reference log-probs of %d of 64 training pairs and 24 held-out pairs", len(drawn)); !strings.Contains(log, want) {
		t.Errorf("the log lacks %q:\n%s", want, log)
	}

	stored, err := safetensors.ReadFile(filepath.Join(dir, "out/toy/dpo", refLogpsFile))
	if err != nil {
		t.Fatal(err)
	}
	index, err := int64s(stored, "train.index")
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for i := range 64 {
		if drawn[i] {
			want = append(want, int64(i))
		}
	}
	if fmt.Sprint(index) != fmt.Sprint(want) {
		t.Fatalf("train.index = %v, the loop drew %v", index, want)
	}

	net, tok, pad := toyReference(t, filepath.Join(dir, "out/toy/pretrain"))
	pairs, _, err := textdata.LoadPairs(filepath.Join(dir, "prefs_train.jsonl"), tok, 16)
	if err != nil {
		t.Fatal(err)
	}
	ref, _, err := readReferenceLogps(stored, len(pairs), 24)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pairs {
		if !drawn[i] {
			if !math.IsNaN(ref.Chosen[i]) || !math.IsNaN(ref.Rejected[i]) {
				t.Errorf("pair %d, never drawn, has reference log-probs %v, %v", i, ref.Chosen[i], ref.Rejected[i])
			}
			continue
		}
		alone, err := scorePairs(net, pairs[i:i+1], pad)
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(ref.Chosen[i]) != math.Float64bits(alone.Chosen[0]) || math.Float64bits(ref.Rejected[i]) != math.Float64bits(alone.Rejected[0]) {
			t.Errorf("pair %d: stored %v, %v; scored alone %v, %v", i, ref.Chosen[i], ref.Rejected[i], alone.Chosen[0], alone.Rejected[0])
		}
	}
}

// drawnPairs is the first draws of the epochs, deduplicated and sorted; referenceLogps scores those,
// reads them back bit for bit without opening the reference, and refuses a file that lacks a pair the
// run draws; the step refuses a pair with no reference value rather than feed NaN to the loss.
func TestReferenceLogpsOfDrawnPairs(t *testing.T) {
	const V, B, T, n, seed = 41, 2, 12, 10, 3
	obj := toyObjective(t, losses.DPOConfig{Beta: 0.1, LossType: losses.DPOSigmoid}, V, B, T)
	rng := rand.New(rand.NewPCG(7, 8))
	pairs, evalPairs := toyPairs(rng, n, V), toyPairs(rng, 3, V)

	order, err := textdata.NewEpochs(n, seed)
	if err != nil {
		t.Fatal(err)
	}
	first := map[int]bool{}
	for range 6 {
		first[order.Next()] = true
	}
	drawn, err := drawnPairs(n, seed, 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(drawn) != 6 {
		t.Fatalf("drawnPairs(%d, %d, 6) = %v, want 6 indices", n, seed, drawn)
	}
	for k, i := range drawn {
		if !first[i] || (k > 0 && i <= drawn[k-1]) {
			t.Fatalf("drawnPairs(%d, %d, 6) = %v, want the ascending set of %v", n, seed, drawn, first)
		}
	}
	if all, _ := drawnPairs(n, seed, 3*n+1); fmt.Sprint(all) != "[0 1 2 3 4 5 6 7 8 9]" {
		t.Errorf("drawnPairs over more than an epoch = %v, want every index", all)
	}

	opened := 0
	open := func() (*graphs.Model, func() error, error) {
		opened++
		return obj.forward, func() error { return nil }, nil
	}
	path := filepath.Join(t.TempDir(), refLogpsFile)
	trainRef, evalRef, err := referenceLogps(path, open, obj.pad, pairs, drawn, evalPairs)
	if err != nil {
		t.Fatal(err)
	}
	all, err := scorePairs(obj.forward, pairs, obj.pad)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pairs {
		got, want := trainRef.Chosen[i], all.Chosen[i]
		if !first[i] {
			want = math.NaN()
		}
		if math.IsNaN(got) != math.IsNaN(want) || math.Abs(got-want) > 1e-5*math.Abs(want) {
			t.Errorf("train.chosen of pair %d: %v, want %v", i, got, want)
		}
	}
	again, evalAgain, err := referenceLogps(path, func() (*graphs.Model, func() error, error) {
		return nil, nil, errors.New("a resumed run opened the reference")
	}, obj.pad, pairs, drawn, evalPairs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pairs {
		if math.Float64bits(again.Chosen[i]) != math.Float64bits(trainRef.Chosen[i]) || math.Float64bits(again.Rejected[i]) != math.Float64bits(trainRef.Rejected[i]) {
			t.Errorf("pair %d read back as %v, %v; written %v, %v", i, again.Chosen[i], again.Rejected[i], trainRef.Chosen[i], trainRef.Rejected[i])
		}
	}
	if fmt.Sprint(evalAgain) != fmt.Sprint(evalRef) || opened != 1 {
		t.Errorf("held-out read back as %v, written %v; the reference opened %d times", evalAgain, evalRef, opened)
	}

	// A file without train.index is refused.
	noIndex := &safetensors.File{Tensors: map[string]safetensors.Tensor{
		"train.chosen": float64Tensor(all.Chosen), "train.rejected": float64Tensor(all.Rejected),
		"eval.chosen": float64Tensor(evalRef.Chosen), "eval.rejected": float64Tensor(evalRef.Rejected),
	}}
	if _, _, err := readReferenceLogps(noIndex, n, len(evalPairs)); err == nil {
		t.Error("a file without train.index was read")
	}

	undrawn := 0
	for first[undrawn] {
		undrawn++
	}
	if _, _, err := referenceLogps(path, open, obj.pad, pairs, append([]int{undrawn}, drawn...), evalPairs); err == nil ||
		!strings.Contains(err.Error(), fmt.Sprintf("training pair %d", undrawn)) {
		t.Errorf("a file lacking drawn pair %d: err %v", undrawn, err)
	}
	grads := make([]float32, len(obj.forward.Params.Data))
	if _, err := obj.step(pairs, trainRef, [][]int{{drawn[0], undrawn}}, grads); err == nil ||
		!strings.Contains(err.Error(), fmt.Sprintf("training pair %d has no reference", undrawn)) {
		t.Errorf("a step over pair %d with no reference value: err %v", undrawn, err)
	}
}

// The toy DPO run with rpo_alpha 1 against the same run without. Only the RPO run logs nll_loss and
// val_nll_loss. At step 1 π = π_ref, so the logged loss is ln 2 + α nll_loss (a missing α term fails
// this); val_nll_loss is -val_logps/chosen (a mean over pairs of summed log-probs) times pairs / chosen
// tokens (a mean over pairs of the sums fails this), and val_loss before training is ln 2 + val_nll_loss.
// After training the held-out chosen completions are likelier with RPO than without (on the arithmetic
// pairs DPO alone lets them fall with the rejected ones; a wrong sign fails this), and the preference is
// still learnt.
func TestDPOStageRPO(t *testing.T) {
	run := func(extra string) (string, []map[string]float64) {
		dir := t.TempDir()
		writeToyCorpus(t, dir)
		writeToyPrefs(t, dir)
		if _, err := runToyConfig(t, dir, toyPretrainConfig+toyDPOStage+extra, &testHookDPOStep, -1); err != nil {
			t.Fatal(err)
		}
		return dir, readMetrics(t, filepath.Join(dir, "out/toy/dpo/metrics.jsonl"))
	}
	_, plain := run("")
	dir, rpo := run("    rpo_alpha: 1.0\n")
	if len(rpo) != toyDPOSteps+1 || len(plain) != toyDPOSteps+1 {
		t.Fatalf("%d and %d metrics records, want %d", len(rpo), len(plain), toyDPOSteps+1)
	}
	for _, r := range plain {
		if _, ok := r["nll_loss"]; ok {
			t.Fatalf("plain DPO logs nll_loss: %v", r)
		}
		if _, ok := r["val_nll_loss"]; ok {
			t.Fatalf("plain DPO logs val_nll_loss: %v", r)
		}
	}
	for _, r := range rpo[1:] {
		if !(r["nll_loss"] > 0) {
			t.Fatalf("step %v: nll_loss %v", r["step"], r["nll_loss"])
		}
	}
	// Step 1: the DPO term is ln 2 (to rounding: the batches are laid out unlike the reference's pass).
	if r := rpo[1]; math.Abs(r["loss"]-(math.Ln2+r["nll_loss"])) > 1e-6 {
		t.Errorf("step 1: loss %.9f, want ln 2 + nll_loss = %.9f", r["loss"], math.Ln2+r["nll_loss"])
	}
	// Held-out token counts, to check val_nll_loss against val_logps/chosen (a mean over pairs of sums):
	// NLL per token = -val_logps/chosen * pairs / tokens.
	tok, err := tokenizer.Load(filepath.Join(dir, "out/toy/pretrain"))
	if err != nil {
		t.Fatal(err)
	}
	evalPairs, _, err := textdata.LoadPairs(filepath.Join(dir, "prefs_eval.jsonl"), tok, 16)
	if err != nil {
		t.Fatal(err)
	}
	tokens := 0
	for _, p := range evalPairs {
		tokens += p.Chosen.Targets()
	}
	for _, r := range []map[string]float64{rpo[0], rpo[toyDPOSteps]} {
		want := -r["val_logps/chosen"] * float64(len(evalPairs)) / float64(tokens)
		if math.Abs(r["val_nll_loss"]-want) > 1e-12*want {
			t.Errorf("step %v: val_nll_loss %.15g, want -val_logps/chosen x %d pairs / %d tokens = %.15g", r["step"], r["val_nll_loss"], len(evalPairs), tokens, want)
		}
	}
	if r := rpo[0]; math.Abs(r["val_loss"]-(math.Ln2+r["val_nll_loss"])) > 1e-12 {
		t.Errorf("step 0: val_loss %.15g, want ln 2 + val_nll_loss %.15g", r["val_loss"], math.Ln2+r["val_nll_loss"])
	}
	a, b := plain[toyDPOSteps], rpo[toyDPOSteps]
	t.Logf("held-out chosen log-prob: before %.4f, DPO %.4f, DPO+RPO %.4f; rewards/accuracies %.3f vs %.3f; rewards/chosen %.4f vs %.4f",
		plain[0]["val_logps/chosen"], a["val_logps/chosen"], b["val_logps/chosen"], a["val_rewards/accuracies"], b["val_rewards/accuracies"],
		a["val_rewards/chosen"], b["val_rewards/chosen"])
	if !(b["val_logps/chosen"] > a["val_logps/chosen"]+0.1) {
		t.Errorf("held-out chosen log-prob with RPO %.4f, without %.4f: want RPO to keep the chosen answers likelier", b["val_logps/chosen"], a["val_logps/chosen"])
	}
	if !(b["val_rewards/chosen"] > a["val_rewards/chosen"]) {
		t.Errorf("held-out chosen reward with RPO %.4f, without %.4f", b["val_rewards/chosen"], a["val_rewards/chosen"])
	}
	if !(b["val_rewards/accuracies"] > 0.8) {
		t.Errorf("with RPO the preference is no longer learnt: held-out reward accuracy %.3f", b["val_rewards/accuracies"])
	}
}

// toyReference loads the toy run's reference checkpoint in refDir as the dpo stage scores it (2·4 rows of
// 16 tokens, forward only), with its tokenizer and pad id; the model is closed when the test ends.
func toyReference(t *testing.T, refDir string) (*graphs.Model, *tokenizer.Tokenizer, int) {
	t.Helper()
	cfg, params, err := graphs.Load(refDir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(refDir)
	if err != nil {
		t.Fatal(err)
	}
	pad, _ := tok.SpecialID("<|endoftext|>")
	net, err := graphs.NewModel(cfg, params, 2*4, 16, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	return net, tok, pad
}
