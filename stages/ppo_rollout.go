package stages

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"pipeline/graphs"
	"pipeline/losses"
	"pipeline/optim"
	"pipeline/plots"
	"pipeline/rlhf"
	"pipeline/sample"
	"pipeline/tasks"
	"pipeline/textdata"
	"pipeline/tokenizer"
	"pipeline/train"
)

// ppoPrompt is one prompt of the rollouts, with what exact match compares (empty when unknown).
type ppoPrompt struct {
	ids             []int
	answer, pattern string
}

// loadPrompts reads JSONL files of prompts (readPrompts) in order, encoded as ordinary text. Prompts
// longer than maxLen tokens leave no room for a response: they are dropped and counted.
func loadPrompts(paths []string, tok *tokenizer.Tokenizer, maxLen int) (out []ppoPrompt, dropped int, err error) {
	for _, path := range paths {
		recs, err := readPrompts(path)
		if err != nil {
			return nil, 0, err
		}
		for _, r := range recs {
			ids := tok.Encode(r.prompt)
			if len(ids) > maxLen {
				dropped++
				continue
			}
			out = append(out, ppoPrompt{ids: ids, answer: r.answer, pattern: r.pattern})
		}
	}
	return out, dropped, nil
}

// promptRecord is one line of a prompt file, as text.
type promptRecord struct {
	prompt, answer, pattern string
}

// readPrompts reads a JSONL file of records with a non-empty "prompt" string and optionally "answer" and
// "pattern" strings (as the tasks stage writes prompts.jsonl; other fields are ignored, so preference
// files work), skipping empty lines. Reading goes on past a bad line: the error is a
// *textdata.LineErrors listing the first textdata.MaxLineErrors bad lines and counting the rest.
// loadPrompts reads with it, and validation calls it alone to check prompt_files without tokenizing.
func readPrompts(path string) ([]promptRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	var out []promptRecord
	bad := &textdata.LineErrors{File: path}
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		rec, le := parsePrompt(path, n, sc.Bytes())
		if le != nil {
			bad.Add(le)
			continue
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(bad.Errors) > 0 {
		return nil, bad
	}
	return out, nil
}

// parsePrompt decodes line n of the prompt file path, or says what is wrong with it.
func parsePrompt(path string, n int, line []byte) (promptRecord, *textdata.LineError) {
	bad := func(field, msg string) (promptRecord, *textdata.LineError) {
		return promptRecord{}, &textdata.LineError{File: path, Line: n, Field: field, Msg: msg}
	}
	var rec struct {
		Prompt  *string `json:"prompt"`
		Answer  string  `json:"answer"`
		Pattern string  `json:"pattern"`
	}
	switch err := json.Unmarshal(line, &rec); {
	case err != nil:
		return bad("", fmt.Sprintf("want an object with a \"prompt\" string (%v)", err))
	case rec.Prompt == nil:
		return bad("prompt", "missing or null")
	case *rec.Prompt == "":
		return bad("prompt", "empty")
	}
	return promptRecord{prompt: *rec.Prompt, answer: rec.Answer, pattern: rec.Pattern}, nil
}

// heldOutShares splits the n held-out prompts over k lists of prompts (k tasks' files, read apart):
// n/k from each, the first n mod k lists one more, so that the held-out check covers every task rather
// than only the last one read. One list holds out all n.
func heldOutShares(n, k int) []int {
	out := make([]int, k)
	for i := range out {
		out[i] = n / k
		if i < n%k {
			out[i]++
		}
	}
	return out
}

// exactMatch is the share of prompts whose greedy response (up to maxNew tokens, cut at
// <|endoftext|>) gives the prompt's answer under its pattern (tasks.Extractor); 0 without prompts.
func exactMatch(ctx context.Context, cfg *graphs.Config, params *graphs.Params, tok *tokenizer.Tokenizer, prompts []ppoPrompt, maxNew, eot int) (float64, error) {
	if len(prompts) == 0 {
		return 0, nil
	}
	dec, err := graphs.NewDecoder(cfg, params)
	if err != nil {
		return 0, err
	}
	greedy, err := sample.New(0, sample.Options{})
	if err != nil {
		return 0, err
	}
	right := 0
	for i, p := range prompts {
		if p.answer == "" || p.pattern == "" {
			return 0, fmt.Errorf("held-out prompt %d has no answer and pattern to check", i)
		}
		ex, err := tasks.NewExtractor(p.pattern)
		if err != nil {
			return 0, fmt.Errorf("held-out prompt %d: %w", i, err)
		}
		gen, err := graphs.Generate(ctx, dec, p.ids, graphs.GenerateOptions{MaxNew: maxNew, Sampler: greedy, StopIDs: []int{eot}, Decode: tok.Decode})
		if err != nil {
			return 0, err
		}
		if ex.Correct(string(gen.Text), p.answer) {
			right++
		}
	}
	return float64(right) / float64(len(prompts)), nil
}

// ppoSlab puts the policy's and the value model's parameters into one slab, which the training loop
// optimises and checkpoints as one: the two stores become views of it ("policy/..." tensors first,
// then "value/..."), so graphs bound to them afterwards see every update.
type ppoSlab struct {
	specs       []optim.Spec
	data, grads []float32
}

func newPPOSlab(policy, value *graphs.Params) *ppoSlab {
	n := len(policy.Data)
	s := &ppoSlab{data: make([]float32, n+len(value.Data)), grads: make([]float32, n+len(value.Data))}
	copy(s.data, policy.Data)
	copy(s.data[n:], value.Data)
	policy.Data, value.Data = s.data[:n:n], s.data[n:]
	for _, info := range policy.Layout {
		s.specs = append(s.specs, optim.Spec{Name: "policy/" + info.Name, Shape: info.Shape, Offset: info.Offset, Size: info.Size})
	}
	for _, info := range value.Layout {
		s.specs = append(s.specs, optim.Spec{Name: "value/" + info.Name, Shape: info.Shape, Offset: n + info.Offset, Size: info.Size})
	}
	return s
}

// ppoModels are the four models of PPO: the policy (trained), the frozen reference and reward model,
// and the value model (trained).
type ppoModels struct {
	cfg, refCfg, rmCfg         *graphs.Config
	policy, ref, reward, value *graphs.Params
}

// ppoRollout is one iteration's batch of B rows of T tokens: prompt, response, pads (<|endoftext|>).
// Every per-token slice is [B*T], row-major, indexed by the token's position; Mask is true at the
// response's tokens (its <|endoftext|> included), where everything else is defined.
type ppoRollout struct {
	Iteration  int                `json:"iteration"`
	IDs        []int              `json:"ids"`
	Mask       []bool             `json:"mask"`
	Logp       []float64          `json:"logp"`     // log π_old(token | before), the policy at rollout time
	RefLogp    []float64          `json:"ref_logp"` // log π_ref
	Values     []float64          `json:"values"`   // V_old, read at the position before the token
	Scores     []float64          `json:"scores"`   // [B] the reward model's scores, before the EOS penalty
	Rewards    []float64          `json:"rewards"`  // rlhf.TokenRewards
	Advantages []float64          `json:"advantages"`
	Returns    []float64          `json:"returns"`
	Metrics    map[string]float64 `json:"metrics"` // TRL's objective/* and val/num_eos_tokens
}

// ppoRunner makes rollouts and optimizer updates. Its state (the prompt order, the sampler, β, the
// minibatch order and the current rollout) is the training loop's Data, saved in every checkpoint.
type ppoRunner struct {
	o         *ppoOptions
	m         ppoModels
	prompts   []ppoPrompt
	B, mb, T  int
	eot       int
	policyLen int // the policy's share of the slab

	order   *textdata.Epochs // prompts
	mbOrder *textdata.Epochs // rows of the rollout, one PPO epoch per pass
	sampler *sample.Sampler
	kl      rlhf.KLController
	perm    []int // this PPO epoch's row order
	rollout *ppoRollout

	dec                             *graphs.Decoder
	policyFwd, policyMB, policyStep *graphs.Model
	refFwd                          *graphs.Model
	rewardFwd                       *graphs.RewardModel
	valueFwd, valueMB, valueStep    *graphs.ValueModel
	closers                         []interface{ Close() error }
}

// Streams of the seed for the prompt order, the minibatch order and the sampler.
const (
	ppoPromptStream    = 0x70706f70726f6d70
	ppoMinibatchStream = 0x70706f6d696e6962
	ppoSampleStream    = 0x70706f73616d706c
)

// newPPORunner builds the graphs: forward-only models over B rows for the rollout, and over mb rows
// plus training models for the updates.
func newPPORunner(o *ppoOptions, m ppoModels, prompts []ppoPrompt, B, mb, T, eot int, seed uint64) (*ppoRunner, error) {
	r := &ppoRunner{o: o, m: m, prompts: prompts, B: B, mb: mb, T: T, eot: eot, policyLen: len(m.policy.Data), perm: make([]int, B)}
	var err error
	if r.order, err = textdata.NewEpochs(len(prompts), seed^ppoPromptStream); err != nil {
		return nil, err
	}
	if r.mbOrder, err = textdata.NewEpochs(B, seed^ppoMinibatchStream); err != nil {
		return nil, err
	}
	if r.sampler, err = sample.New(seed^ppoSampleStream, sample.Options{Temperature: o.Temperature}); err != nil {
		return nil, err
	}
	if r.kl, err = o.klController(); err != nil {
		return nil, err
	}
	if r.dec, err = graphs.NewDecoder(m.cfg, m.policy); err != nil {
		return nil, err
	}
	model := func(cfg *graphs.Config, p *graphs.Params, rows int, train bool) (*graphs.Model, error) {
		net, err := graphs.NewModel(cfg, p, rows, T, train)
		if err == nil {
			r.closers = append(r.closers, net)
		}
		return net, err
	}
	values := func(rows int, train bool) (*graphs.ValueModel, error) {
		net, err := graphs.NewValueModel(m.rmCfg, m.value, rows, T, train)
		if err == nil {
			r.closers = append(r.closers, net)
		}
		return net, err
	}
	if r.policyFwd, err = model(m.cfg, m.policy, B, false); err != nil {
		return nil, err
	}
	if r.refFwd, err = model(m.refCfg, m.ref, B, false); err != nil {
		return nil, err
	}
	if r.policyStep, err = model(m.cfg, m.policy, mb, true); err != nil {
		return nil, err
	}
	if r.valueFwd, err = values(B, false); err != nil {
		return nil, err
	}
	if r.valueStep, err = values(mb, true); err != nil {
		return nil, err
	}
	r.policyMB, r.valueMB = r.policyFwd, r.valueFwd
	if mb != B {
		if r.policyMB, err = model(m.cfg, m.policy, mb, false); err != nil {
			return nil, err
		}
		if r.valueMB, err = values(mb, false); err != nil {
			return nil, err
		}
	}
	if r.rewardFwd, err = graphs.NewRewardModel(m.rmCfg, m.reward, B, T, false, 0); err != nil {
		return nil, err
	}
	r.closers = append(r.closers, r.rewardFwd)
	return r, nil
}

// Close releases every graph.
func (r *ppoRunner) Close() error {
	var errs []error
	for _, c := range r.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// step is optimizer update u of the loop: iteration u / U (U = ppo_epochs x num_minibatches) rolls
// out at its first update, PPO epoch (u mod U) / num_minibatches reshuffles the rows at its first
// minibatch, and every update learns from one minibatch. The policy's and the value model's gradients
// are added into grads (the slab's layout: policy, then value).
func (r *ppoRunner) step(ctx context.Context, u int, grads []float32) (train.Result, error) {
	U, nm := r.o.updates(), r.o.NumMinibatches
	it, k := u/U, u%U
	if r.rollout == nil || r.rollout.Iteration != it {
		ro, err := r.collect(ctx, it)
		if err != nil {
			return train.Result{}, err
		}
		r.rollout = ro
		if testHookPPORollout != nil {
			testHookPPORollout(ro, r)
		}
	}
	if k%nm == 0 {
		for i := range r.perm {
			r.perm[i] = r.mbOrder.Next()
		}
	}
	rows := r.perm[(k%nm)*r.mb : (k%nm+1)*r.mb]
	pm, vm, err := r.update(rows, grads)
	if err != nil {
		return train.Result{}, err
	}
	out := map[string]float64{"ppo_iteration": float64(it + 1), "policy/approxkl_avg": pm.ApproxKL,
		"policy/clipfrac_avg": pm.ClipFrac, "loss/policy_avg": pm.Loss, "val/ratio": pm.Ratio,
		"loss/value_avg": vm.Loss, "val/clipfrac_avg": vm.ClipFrac}
	for key, v := range r.rollout.Metrics {
		out[key] = v
	}
	return train.Result{Loss: pm.Loss + r.o.VFCoef*vm.Loss, Tokens: r.mb * r.T, Metrics: out}, nil
}

// collect makes iteration it's rollout: B prompts in the seeded order, a sampled response to each,
// then the log-probabilities, values, scores, per-token rewards, GAE and whitened advantages. β is
// updated from the rollout's KL afterwards (it applies from the next rollout on).
func (r *ppoRunner) collect(ctx context.Context, it int) (*ppoRollout, error) {
	B, T, n := r.B, r.T, r.B*r.T
	ro := &ppoRollout{Iteration: it, IDs: make([]int, n), Mask: make([]bool, n), Scores: make([]float64, B),
		Rewards: make([]float64, n), Advantages: make([]float64, n), Returns: make([]float64, n)}
	last := make([]int, B)
	eos := 0
	for b := range B {
		p := r.prompts[r.order.Next()]
		gen, err := graphs.Generate(ctx, r.dec, p.ids, graphs.GenerateOptions{MaxNew: r.o.MaxNewTokens, Sampler: r.sampler, StopIDs: []int{r.eot}})
		if err != nil {
			return nil, err
		}
		row := ro.IDs[b*T : (b+1)*T]
		for t := range row {
			row[t] = r.eot // pads; never real: the mask says which tokens are
		}
		copy(row, p.ids)
		copy(row[len(p.ids):], gen.IDs)
		for t := len(p.ids); t < len(p.ids)+len(gen.IDs); t++ {
			ro.Mask[b*T+t] = true
		}
		last[b] = len(p.ids) + len(gen.IDs) - 1
		if gen.Stop == graphs.StopID {
			eos++
		}
	}
	var err error
	if ro.Logp, err = tokenLogps(r.policyFwd, ro.IDs, ro.Mask, T); err != nil {
		return nil, err
	}
	if ro.RefLogp, err = tokenLogps(r.refFwd, ro.IDs, ro.Mask, T); err != nil {
		return nil, err
	}
	if ro.Values, err = tokenValues(r.valueFwd, ro.IDs, ro.Mask); err != nil {
		return nil, err
	}
	// The reward model reads each row at its last real token: the <|endoftext|> or the last token drawn.
	scores, err := r.rewardFwd.Score(ro.IDs, last)
	if err != nil {
		return nil, err
	}
	for b, s := range scores {
		ro.Scores[b] = float64(s)
	}
	rm, err := rlhf.TokenRewards(r.o.rewardConfig(r.kl.KLCoef()), ro.Logp, ro.RefLogp, ro.Mask, ro.IDs, r.eot, ro.Scores, ro.Rewards)
	if err != nil {
		return nil, err
	}
	if r.o.WhitenRewards {
		if err := rlhf.Whiten(ro.Rewards, ro.Mask, false); err != nil {
			return nil, err
		}
	}
	if err := rlhf.GAE(ro.Rewards, ro.Values, ro.Mask, T, r.o.Gamma, r.o.Lam, ro.Advantages, ro.Returns); err != nil {
		return nil, err
	}
	if err := rlhf.Whiten(ro.Advantages, ro.Mask, true); err != nil {
		return nil, err
	}
	// k3 beside k1 for the log, whichever estimator the rewards use: mean_b Σ_t k3_t.
	k3 := 0.0
	for i, m := range ro.Mask {
		if m {
			k3 += rlhf.K3(ro.Logp[i], ro.RefLogp[i])
		}
	}
	ro.Metrics = map[string]float64{"objective/kl": rm.KL, "objective/kl_k3": k3 / float64(B), "objective/entropy": rm.Entropy,
		"objective/non_score_reward": rm.NonScoreReward, "objective/rlhf_reward": rm.RLHFReward, "objective/scores": rm.Scores,
		"val/num_eos_tokens": float64(eos), "kl_coef": r.kl.KLCoef()}
	r.kl.Update(rm.KL, B)
	return ro, nil
}

// update is one optimizer update's gradient on the rollout's rows: the clipped policy loss through the
// policy by the weighted cross-entropy (seqlogp.go: weights -dL/d log π at the position that predicts
// each token, norm 1), and vf_coef times the clipped value loss through the value model by WeightedSum.
func (r *ppoRunner) update(rows []int, grads []float32) (losses.PPOMetrics, losses.ValueMetrics, error) {
	T, n := r.T, len(rows)*r.T
	ro := r.rollout
	ids, mask := make([]int, n), make([]bool, n)
	logpOld, adv, vOld, ret := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for j, b := range rows {
		dst, src := j*T, b*T
		copy(ids[dst:dst+T], ro.IDs[src:src+T])
		copy(mask[dst:dst+T], ro.Mask[src:src+T])
		copy(logpOld[dst:dst+T], ro.Logp[src:src+T])
		copy(adv[dst:dst+T], ro.Advantages[src:src+T])
		copy(vOld[dst:dst+T], ro.Values[src:src+T])
		copy(ret[dst:dst+T], ro.Returns[src:src+T])
	}

	// The policy: dJ/d log π(t) from PPOClip, then weights w_{t-1} = -dJ/d log π(t), targets_{t-1} = token t.
	logp, err := tokenLogps(r.policyMB, ids, mask, T)
	if err != nil {
		return losses.PPOMetrics{}, losses.ValueMetrics{}, err
	}
	dLogp := make([]float64, n)
	pm, err := losses.PPOClip(logp, logpOld, adv, mask, r.o.ClipRange, dLogp)
	if err != nil {
		return pm, losses.ValueMetrics{}, err
	}
	targets, weights := make([]int, n), make([]float32, n)
	for i, m := range mask {
		if m {
			targets[i-1], weights[i-1] = ids[i], float32(-dLogp[i])
		}
	}
	if _, err := r.policyStep.Step(ids, targets, weights, 1); err != nil {
		return pm, losses.ValueMetrics{}, err
	}
	for i, g := range r.m.policy.Grad {
		grads[i] += g
	}

	// The value model: vf_coef · dJ_v/dV_t from ValueClip, placed at position t-1 where V_t is read.
	v, err := tokenValues(r.valueMB, ids, mask)
	if err != nil {
		return pm, losses.ValueMetrics{}, err
	}
	dV := make([]float64, n)
	vm, err := losses.ValueClip(v, vOld, ret, mask, r.o.ClipRangeValue, dV)
	if err != nil {
		return pm, vm, err
	}
	coef := make([]float64, n)
	for i, m := range mask {
		if m {
			coef[i-1] = r.o.VFCoef * dV[i]
		}
	}
	if err := r.valueStep.Step(ids, coef); err != nil {
		return pm, vm, err
	}
	for i, g := range r.m.value.Grad {
		grads[r.policyLen+i] += g
	}
	return pm, vm, nil
}

// tokenLogps runs net forward on ids [B*T] and returns log p(ids[i] | ids before it) at every masked
// position i (read from the logits of position i-1; a masked position never starts a row), 0 elsewhere.
func tokenLogps(net *graphs.Model, ids []int, mask []bool, T int) ([]float64, error) {
	logits, err := net.Forward(ids)
	if err != nil {
		return nil, err
	}
	V := net.Cfg.VocabSize
	out := make([]float64, len(ids))
	for i, m := range mask {
		if !m {
			continue
		}
		if i%T == 0 {
			return nil, fmt.Errorf("token %d starts its row: nothing predicts it", i)
		}
		out[i], _ = logSoftmaxAt(logits[(i-1)*V:i*V], ids[i])
	}
	return out, nil
}

// tokenValues returns V_i at every masked position i, the value model read at position i-1 (the state
// before token i), 0 elsewhere.
func tokenValues(net *graphs.ValueModel, ids []int, mask []bool) ([]float64, error) {
	v, err := net.Values(ids)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(ids))
	for i, m := range mask {
		if m {
			out[i] = float64(v[i-1])
		}
	}
	return out, nil
}

// ppoState is the runner's state as the checkpoint holds it.
type ppoState struct {
	Prompts   []byte          `json:"prompts"`
	Minibatch []byte          `json:"minibatch"`
	Sampler   []byte          `json:"sampler"`
	KL        json.RawMessage `json:"kl"`
	Perm      []int           `json:"perm"`
	Rollout   *ppoRollout     `json:"rollout"`
}

// MarshalBinary saves the prompt and minibatch orders, the sampler, β's controller, the row order and
// the rollout being learned from (float64s round-trip exactly through JSON).
func (r *ppoRunner) MarshalBinary() ([]byte, error) {
	var s ppoState
	var err error
	if s.Prompts, err = r.order.MarshalBinary(); err != nil {
		return nil, err
	}
	if s.Minibatch, err = r.mbOrder.MarshalBinary(); err != nil {
		return nil, err
	}
	if s.Sampler, err = r.sampler.MarshalBinary(); err != nil {
		return nil, err
	}
	if s.KL, err = json.Marshal(r.kl); err != nil {
		return nil, err
	}
	s.Perm, s.Rollout = r.perm, r.rollout
	return json.Marshal(s)
}

// UnmarshalBinary restores a state from MarshalBinary.
func (r *ppoRunner) UnmarshalBinary(data []byte) error {
	var s ppoState
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	if len(s.Perm) != r.B || (s.Rollout != nil && len(s.Rollout.IDs) != r.B*r.T) {
		return fmt.Errorf("the checkpoint's rollout is not %d rows of %d tokens", r.B, r.T)
	}
	if err := errors.Join(r.order.UnmarshalBinary(s.Prompts), r.mbOrder.UnmarshalBinary(s.Minibatch),
		r.sampler.UnmarshalBinary(s.Sampler), json.Unmarshal(s.KL, r.kl)); err != nil {
		return err
	}
	r.perm, r.rollout = s.Perm, s.Rollout
	return nil
}

// testHookPPORollout, when set by a test, sees every rollout as soon as it is made, with the runner.
var testHookPPORollout func(ro *ppoRollout, r *ppoRunner)

// firstLastIterations reads the rollout metrics of the first and the last PPO iteration back from
// metrics.jsonl (each iteration's U update records repeat its rollout's numbers).
func firstLastIterations(path string) (first, last map[string]float64, err error) {
	keys := []string{"objective/scores", "objective/kl", "objective/kl_k3", "objective/rlhf_reward", "objective/entropy", "val/num_eos_tokens"}
	series, err := plots.Series(path, keys...)
	if err != nil {
		return nil, nil, err
	}
	first, last = map[string]float64{}, map[string]float64{}
	for _, k := range keys {
		xy := series[k]
		if len(xy) == 0 {
			return nil, nil, fmt.Errorf("%s: no %s", path, k)
		}
		first[k], last[k] = xy[0].Y, xy[len(xy)-1].Y
	}
	return first, last, nil
}
