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
	"slices"
	"strings"
	"testing"

	"pipeline/graphs"
	"pipeline/losses"
	"pipeline/pipeline"
	"pipeline/rlhf"
	"pipeline/tokenizer"
)

// writePPOPrompts writes prompts.jsonl: two words of the toy corpus each, the answer being the word the
// toy reward model rewards (writeRewardPrefs), found anywhere in the response.
func writePPOPrompts(t *testing.T, dir string) {
	t.Helper()
	words := strings.Fields("lord moses aaron land give forth said unto")
	rng := rand.New(rand.NewPCG(31, 32))
	var b strings.Builder
	for range 40 {
		line, _ := json.Marshal(map[string]string{"prompt": words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))],
			"answer": "bread", "pattern": `(bread)`})
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, "prompts.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

const toyPPOStage = `  - name: ppo
    kind: ppo
    init: pretrain
    reward_model: reward
    prompt_files: [prompts.jsonl]
    eval_prompts: 8
    max_new_tokens: 6
    missing_eos_penalty: 1.0
    kl_coef: 0.05
    batch_size: 16
    num_minibatches: 2
    ppo_epochs: 2
    max_steps: 30
    lr: 1.0e-2
    checkpoint_every: 2
`

// The TRL metrics every record must hold.
var ppoMetricKeys = []string{"objective/kl", "objective/entropy", "objective/scores", "objective/rlhf_reward",
	"objective/non_score_reward", "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg",
	"val/ratio", "val/num_eos_tokens"}

// runToyPPO runs bpe, pretrain, reward and ppo on the toy data in dir, cancelling the run during PPO
// update stopAt+1 (none when stopAt < 0).
func runToyPPO(t *testing.T, dir string, stopAt int) error {
	t.Helper()
	writeToyCorpus(t, dir)
	writeRewardPrefs(t, dir)
	writePPOPrompts(t, dir)
	_, err := runToyConfig(t, dir, toyPretrainConfig+toyRewardStage+toyPPOStage, &testHookPPOStep, stopAt)
	return err
}

// checkRolloutRewards recomputes each row's rewards from the rollout's own numbers: -β k1 at every
// response token, plus the score less the penalty (no <|endoftext|> among the real tokens) at the last
// real one, 0 at the prompt and the pads. It returns how many rows ended with and without EOS.
func checkRolloutRewards(t *testing.T, ro *ppoRollout, T, eot int, beta, penalty float64) (withEOS, withoutEOS int) {
	t.Helper()
	for b := range len(ro.Scores) {
		row := b * T
		last, eos := -1, false
		for i := row; i < row+T; i++ {
			if ro.Mask[i] {
				if last >= 0 && last != i-1 {
					t.Fatalf("row %d: the response is not contiguous", b)
				}
				last, eos = i, eos || ro.IDs[i] == eot
			}
		}
		if last < 0 {
			t.Fatalf("row %d has no response token", b)
		}
		if eos != (ro.IDs[last] == eot) {
			t.Errorf("row %d: an <|endoftext|> before the last response token", b)
		}
		score := ro.Scores[b]
		if eos {
			withEOS++
		} else {
			withoutEOS++
			score -= penalty
		}
		for i := row; i < row+T; i++ {
			want := 0.0
			if ro.Mask[i] {
				want = -beta * (ro.Logp[i] - ro.RefLogp[i])
			}
			if i == last {
				want += score
			}
			if math.Abs(ro.Rewards[i]-want) > 1e-12 {
				t.Errorf("row %d position %d: reward %v, want %v", b, i-row, ro.Rewards[i], want)
			}
		}
	}
	return withEOS, withoutEOS
}

// The PPO stage end to end on toy data: a pretrained policy, a reward model that rewards " bread", and
// prompts of two words. The value model starts as the reward model, rewards sit on the last real
// response token with the missing-EOS penalty, every record has TRL's metrics, the mean score rises,
// and a run stopped mid-iteration resumes to the same bytes.
func TestPPOStage(t *testing.T) {
	straight := t.TempDir()
	rollouts := 0
	withEOS, withoutEOS := 0, 0
	testHookPPORollout = func(ro *ppoRollout, r *ppoRunner) {
		if ro.Iteration != rollouts {
			t.Errorf("rollout of iteration %d, want %d", ro.Iteration, rollouts)
		}
		if rollouts == 0 && !slices.Equal(r.m.value.Data, r.m.reward.Data) {
			t.Error("the value model does not start as the reward model")
		}
		rollouts++
		e, n := checkRolloutRewards(t, ro, r.T, r.eot, ro.Metrics["kl_coef"], r.o.MissingEOSPenalty)
		withEOS, withoutEOS = withEOS+e, withoutEOS+n
		if float64(e) != ro.Metrics["val/num_eos_tokens"] {
			t.Errorf("val/num_eos_tokens %v, counted %d", ro.Metrics["val/num_eos_tokens"], e)
		}
	}
	defer func() { testHookPPORollout = nil }()
	if err := runToyPPO(t, straight, -1); err != nil {
		t.Fatal(err)
	}
	testHookPPORollout = nil
	if rollouts != 30 {
		t.Errorf("%d rollouts, want 30", rollouts)
	}
	if withoutEOS == 0 {
		t.Error("no response ran out of tokens: the missing-EOS penalty went untested")
	}
	t.Logf("responses with <|endoftext|>: %d, without: %d", withEOS, withoutEOS)

	out := filepath.Join(straight, "out/toy/ppo")
	recs := readMetrics(t, filepath.Join(out, "metrics.jsonl"))
	if len(recs) != 120 {
		t.Fatalf("%d metrics records, want 30 iterations x 2 epochs x 2 minibatches = 120", len(recs))
	}
	for i, rec := range recs {
		for _, k := range ppoMetricKeys {
			if _, ok := rec[k]; !ok {
				t.Errorf("record %d lacks %s", i, k)
			}
		}
	}
	// The first update of the first iteration starts from the rollout's policy: ratio 1, nothing clipped.
	if r := recs[0]; math.Abs(r["val/ratio"]-1) > 1e-5 || r["policy/clipfrac_avg"] != 0 {
		t.Errorf("first update: ratio %v, clipfrac %v; want 1 and 0", r["val/ratio"], r["policy/clipfrac_avg"])
	}
	mean := func(recs []map[string]float64, k string) float64 {
		s := 0.0
		for _, r := range recs {
			s += r[k]
		}
		return s / float64(len(recs))
	}
	head, tail := recs[:20], recs[100:] // the first and the last 5 iterations
	firstScores, lastScores := mean(head, "objective/scores"), mean(tail, "objective/scores")
	t.Logf("first -> last 5 iterations: mean score %.4f -> %.4f, KL %.4f -> %.4f, EOS %.1f -> %.1f of 16", firstScores, lastScores,
		mean(head, "objective/kl"), mean(tail, "objective/kl"), mean(head, "val/num_eos_tokens"), mean(tail, "val/num_eos_tokens"))
	if lastScores <= firstScores {
		t.Errorf("mean score did not rise: %.4f -> %.4f", firstScores, lastScores)
	}
	m, err := pipeline.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held-out exact match %v -> %v", m.Summary["exact_match_before"], m.Summary["exact_match_after"])
	if _, _, err := graphs.Load(out); err != nil {
		t.Fatal(err)
	}
	if _, _, err := graphs.LoadReward(filepath.Join(out, valueDir)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tokenizer.json", "ppo.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	// Stopped during update 14 (iteration 4, its second minibatch), resumed: the same bytes.
	resumed := t.TempDir()
	const k = 13
	if err := runToyPPO(t, resumed, k); !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("want an interrupted run, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(resumed, fmt.Sprintf("out/toy/ppo.partial/steps/%08d", k+1))); err != nil {
		t.Fatalf("no checkpoint at the update where it stopped: %v", err)
	}
	// `pipeline status` counts PPO iterations, as max_steps does: update 14 is inside the 4th of 30.
	cfg, err := pipeline.Load(filepath.Join(resumed, "run.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	plans, err := pipeline.Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p := plans[len(plans)-1]; p.Stage.Name != "ppo" || p.Describe() != "partial (iteration 3 of 30)" {
		t.Errorf("status of %s: %q, want %q", p.Stage.Name, p.Describe(), "partial (iteration 3 of 30)")
	}
	if err := runToyPPO(t, resumed, -1); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{graphs.ModelFile, filepath.Join(valueDir, graphs.ModelFile)} {
		want, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(resumed, "out/toy/ppo", f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: resumed weights differ from the uninterrupted run", f)
		}
	}
	got := readMetrics(t, filepath.Join(resumed, "out/toy/ppo/metrics.jsonl"))
	if len(got) != len(recs) {
		t.Fatalf("resumed metrics.jsonl has %d records, the straight run %d", len(got), len(recs))
	}
	for i := range recs {
		for _, k := range ppoMetricKeys {
			if got[i][k] != recs[i][k] {
				t.Errorf("record %d: %s %v resumed, %v straight", i, k, got[i][k], recs[i][k])
			}
		}
	}
}

// target_kl turns the fixed β of kl_coef into an adaptive one starting there.
func TestPPOKLController(t *testing.T) {
	o := ppoKind{}.Defaults().(*ppoOptions)
	o.TargetKL, o.KLCoef = 6, 0.1
	c, err := o.klController()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*rlhf.AdaptiveKLController); !ok {
		t.Errorf("target_kl 6 gives %T, want an adaptive controller", c)
	}
	o.TargetKL = 0
	if c, _ := o.klController(); c.KLCoef() != 0.1 {
		t.Errorf("fixed β %v, want 0.1", c.KLCoef())
	}
}

func TestPPOValidate(t *testing.T) {
	run := &pipeline.Config{Model: pipeline.ModelConfig{NPositions: 16}}
	for name, tc := range map[string]struct {
		edit func(o *ppoOptions)
		key  string
	}{
		"no prompts":       {func(o *ppoOptions) { o.Prompts = "" }, "prompts"},
		"both prompts":     {func(o *ppoOptions) { o.PromptFiles = []string{"p.jsonl"} }, "prompts"},
		"minibatches":      {func(o *ppoOptions) { o.NumMinibatches = 3 }, "num_minibatches"},
		"estimator":        {func(o *ppoOptions) { o.KLEstimator = "k2" }, "kl_estimator"},
		"lam":              {func(o *ppoOptions) { o.Lam = 1.5 }, "lam"},
		"cliprange":        {func(o *ppoOptions) { o.ClipRange = -0.1 }, "cliprange"},
		"adaptive":         {func(o *ppoOptions) { o.TargetKL, o.KLHorizon = 6, 0 }, "kl_coef"},
		"temperature":      {func(o *ppoOptions) { o.Temperature = -1 }, "temperature"},
		"max new tokens":   {func(o *ppoOptions) { o.MaxNewTokens = 0 }, "max_new_tokens"},
		"negative penalty": {func(o *ppoOptions) { o.MissingEOSPenalty = -1 }, "missing_eos_penalty"},
	} {
		o := ppoKind{}.Defaults().(*ppoOptions)
		o.Prompts = "tasks"
		tc.edit(o)
		var keys []string
		ppoKind{}.Validate(o, run, func(key, msg string) { keys = append(keys, key) })
		if !slices.Contains(keys, tc.key) {
			t.Errorf("%s: reported %v, want %s", name, keys, tc.key)
		}
	}
	o := ppoKind{}.Defaults().(*ppoOptions)
	o.Prompts = "tasks"
	ppoKind{}.Validate(o, run, func(key, msg string) { t.Errorf("defaults: %s: %s", key, msg) })
}

// The gradient one update leaves in the slab equals central finite differences of the joint loss
// PPOClip(log π) + vf_coef · ValueClip(V), computed from forward passes alone, on the parameter with the
// largest gradient of several policy and value tensors. The rollout's old log-probabilities and values
// are offset from the current ones by 0 or ±0.5 (far from the clip edges at 0.2, so no step crosses
// one), so that both losses take clipped and unclipped terms; the rows are taken in a shuffled order.
// This catches a weight put on the token's own position instead of the one that predicts it, a value
// read at the wrong position, a wrong sign or a missing vf_coef.
func TestPPOUpdateGradientMatchesFiniteDifference(t *testing.T) {
	const V, B, T = 23, 4, 10
	rng := rand.New(rand.NewPCG(5, 6))
	cfg := graphs.NewConfig(V, T, 16, 1, 2)
	policy := graphs.NewParams(cfg)
	policy.Init(8, 0.3)
	base := graphs.NewParams(cfg)
	base.Init(9, 0.3)
	reward, err := graphs.RewardParamsFrom(cfg, base, 10, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	value := graphs.NewRewardParams(cfg)
	copy(value.Data, reward.Data)
	o := ppoKind{}.Defaults().(*ppoOptions)
	o.BatchSize, o.MaxNewTokens, o.VFCoef = B, 5, 0.5
	ps := newPPOSlab(policy, value)
	r, err := newPPORunner(o, ppoModels{cfg: cfg, refCfg: cfg, rmCfg: cfg, policy: policy, ref: base, reward: reward, value: value},
		[]ppoPrompt{{ids: []int{1, 2}}}, B, B, T, V-1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	ro := &ppoRollout{IDs: make([]int, B*T), Mask: make([]bool, B*T), Advantages: make([]float64, B*T), Returns: make([]float64, B*T)}
	for b := range B {
		start, n := 2+rng.IntN(3), 2+rng.IntN(4)
		for t := range T {
			i := b*T + t
			ro.IDs[i] = rng.IntN(V - 1)
			ro.Mask[i] = t >= start && t < start+n
			if ro.Mask[i] {
				ro.Advantages[i], ro.Returns[i] = rng.NormFloat64(), rng.NormFloat64()
			}
		}
	}
	if ro.Logp, err = tokenLogps(r.policyFwd, ro.IDs, ro.Mask, T); err != nil {
		t.Fatal(err)
	}
	if ro.Values, err = tokenValues(r.valueFwd, ro.IDs, ro.Mask); err != nil {
		t.Fatal(err)
	}
	offsets := []float64{0, 0.5, -0.5}
	for i, m := range ro.Mask {
		if m {
			ro.Logp[i] += offsets[rng.IntN(3)]
			ro.Values[i] += offsets[rng.IntN(3)]
		}
	}
	r.rollout = ro
	rows := []int{2, 0, 3, 1}
	pm, vm, err := r.update(rows, ps.grads)
	if err != nil {
		t.Fatal(err)
	}
	if pm.ClipFrac == 0 || pm.ClipFrac == 1 || vm.ClipFrac == 0 || vm.ClipFrac == 1 {
		t.Fatalf("clip fractions %v (policy) and %v (value): want both kinds of term", pm.ClipFrac, vm.ClipFrac)
	}
	loss := func() float64 {
		logp, err := tokenLogps(r.policyFwd, ro.IDs, ro.Mask, T)
		if err != nil {
			t.Fatal(err)
		}
		p, err := losses.PPOClip(logp, ro.Logp, ro.Advantages, ro.Mask, o.ClipRange, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := tokenValues(r.valueFwd, ro.IDs, ro.Mask)
		if err != nil {
			t.Fatal(err)
		}
		vl, err := losses.ValueClip(v, ro.Values, ro.Returns, ro.Mask, o.ClipRangeValue, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p.Loss + o.VFCoef*vl.Loss
	}
	if got, want := pm.Loss+o.VFCoef*vm.Loss, loss(); math.Abs(got-want) > 1e-6 {
		t.Errorf("update's loss %v, forward-only loss over the rows in order %v", got, want)
	}
	for _, spec := range ps.specs {
		switch spec.Name {
		case "policy/wte.weight", "policy/h.0.attn.c_attn.weight", "policy/ln_f.bias",
			"value/wte.weight", "value/h.0.mlp.c_fc.weight", "value/" + graphs.ScoreWeight:
		default:
			continue
		}
		checkLargestGradient(t, spec.Name, ps.data, ps.grads, spec.Offset, spec.Size, loss)
	}
}

// ppo with task_names rolls out the named tasks' own prompts.jsonl: with [arithmetic] every rollout's
// prompt is an arithmetic one and eval_prompts holds out the last of them; with two tasks each gives its
// share of the held-out prompts, the first task one more.
func TestPPOTaskNames(t *testing.T) {
	dir := t.TempDir()
	stages := `  - name: reward
    kind: reward
    init: pretrain
    data: tasks
    task_names: [arithmetic]
    batch_size: 4
    max_steps: 2
    warmup_steps: 1
    eval_every: 2
    checkpoint_every: 2
`
	for _, c := range []struct{ name, tasks string }{{"ppo", "[arithmetic]"}, {"ppo_both", "[verse_choice, arithmetic]"}} {
		stages += fmt.Sprintf(`  - name: %s
    kind: ppo
    init: pretrain
    reward_model: reward
    prompts: tasks
    task_names: %s
    eval_prompts: 3
    max_new_tokens: 4
    batch_size: 4
    ppo_epochs: 1
    max_steps: 2
    checkpoint_every: 2
`, c.name, c.tasks)
	}
	var rolledOut [][]int // the prompts of ppo's rollouts (the arithmetic-only stage)
	testHookPPORollout = func(ro *ppoRollout, r *ppoRunner) {
		if len(r.o.TaskNames) != 1 || rolledOut != nil {
			return
		}
		for _, p := range r.prompts {
			rolledOut = append(rolledOut, p.ids)
		}
	}
	defer func() { testHookPPORollout = nil }()
	log := runToyTwoTasks(t, dir, stages, &testHookPPOStep)
	testHookPPORollout = nil

	prompts := jsonlLines(t, filepath.Join(dir, "out/toy/tasks/arithmetic/prompts.jsonl"))
	for _, want := range []string{
		fmt.Sprintf("[ppo] arithmetic: %d prompts (0 too long dropped), 3 held out", len(prompts)),
		fmt.Sprintf("; %d prompts (0 too long dropped), 3 held out;", len(prompts)-3),
		fmt.Sprintf("[ppo_both] arithmetic: %d prompts (0 too long dropped), 1 held out", len(prompts)),
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if got := logLinesOf(log, "ppo_both", "verse_choice: "); len(got) != 1 || !strings.HasSuffix(got[0], ", 2 held out") {
		t.Errorf("ppo_both logs %q for verse_choice, want 2 of its prompts held out", got)
	}
	if len(rolledOut) != len(prompts)-3 {
		t.Fatalf("%d prompts rolled out, want arithmetic's %d less the 3 held out", len(rolledOut), len(prompts))
	}
	tok, err := tokenizer.Load(filepath.Join(dir, "out/toy/bpe"))
	if err != nil {
		t.Fatal(err)
	}
	for i, ids := range rolledOut {
		// The held-out prompts are the file's last 3: the rolled-out ones are its first, in order.
		if got := string(tok.Decode(ids)); !strings.HasPrefix(got, "Question: What is ") || got != prompts[i]["prompt"] {
			t.Fatalf("prompt %d rolled out %q, want arithmetic's %q", i, got, prompts[i]["prompt"])
		}
	}
}

func TestHeldOutShares(t *testing.T) {
	for _, c := range []struct {
		n, k int
		want []int
	}{{8, 1, []int{8}}, {3, 2, []int{2, 1}}, {7, 3, []int{3, 2, 2}}, {0, 2, []int{0, 0}}, {1, 3, []int{1, 0, 0}}} {
		if got := heldOutShares(c.n, c.k); !slices.Equal(got, c.want) {
			t.Errorf("heldOutShares(%d, %d) = %v, want %v", c.n, c.k, got, c.want)
		}
	}
}

// task_names is checked against the tasks stage that prompts names.
func TestPPOValidateTaskNames(t *testing.T) {
	checkTaskNamesValidation(t, ppoKind{}, func(opts any, names []string, stage string) {
		o := opts.(*ppoOptions)
		o.TaskNames, o.Prompts = names, stage
		if stage == "" {
			o.PromptFiles = []string{"p.jsonl"}
		}
	})
}

// readPrompts takes the prompt, answer and pattern of every record that has a prompt, preference pairs
// included, skipping empty lines.
func TestReadPrompts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prompts.jsonl")
	data := `{"prompt": "a", "answer": "4", "pattern": "(4)"}` + "\n\n" + `{"prompt": "b", "chosen": " x", "rejected": " y"}` + "\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readPrompts(path)
	if want := []promptRecord{{"a", "4", "(4)"}, {"b", "", ""}}; err != nil || !slices.Equal(got, want) {
		t.Errorf("readPrompts = %+v, %v; want %+v", got, err, want)
	}
}
