package graphs

import (
	"math"
	"testing"
)

// fillFormula sets element i of the adapter's k-th tensor (layout order) to
// amp * sin(0.37 i + 1.1 k + 0.5): values a PyTorch script can rebuild.
func fillFormula(a *Adapter, amp float64) {
	for k, info := range a.Params.Layout {
		v := a.Params.Tensor(info.Name)
		for i := range v {
			v[i] = float32(amp * math.Sin(0.37*float64(i)+1.1*float64(k)+0.5))
		}
	}
}

// TestAdapterMatchesPyTorch: on the golden checkpoint and ids, each method
// with fillFormula's values gives the loss and logits that PEFT's formulas
// give in float64 PyTorch (gpt2_ref.py's forward plus, for LoRA,
// y += lora_B(lora_A(x)) * alpha/r on all four modules, r = 4, alpha = 8,
// amp 0.3; for prefix tuning past_key_values from prompt_embeddings viewed
// [P, 2L, NH, hs], key 2l and value 2l+1, real tokens at positions P..,
// amp 0.5; for prompt tuning inputs_embeds = [prompt; wte[ids]] + wpe[0..P+T),
// amp 0.5; P = 3). The numbers come from a script run once (not kept):
//
//	lora   loss 5.004435102 l[0,0,:4] 1.6093716 0.4171394 -1.5454678 0.5898553 l[1,9,-4:] 0.1244256 -0.9734739 -1.0265382 -1.6349634
//	prefix loss 4.416996002 l[0,0,:4] 1.0710887 1.1047425 0.0812246 0.2789953 l[1,9,-4:] -0.1328173 -1.0486118 -0.6469031 -1.4932443
//	prompt loss 4.610987481 l[0,0,:4] -0.2666448 0.4197954 -1.1830004 -0.1081803 l[1,9,-4:] -0.7204312 -0.0942598 0.8543713 -0.8619175
func TestAdapterMatchesPyTorch(t *testing.T) {
	cfg, p, err := Load(goldenDir(t))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, _ := golden(t)
	ids, targets, weights, norm := nextTokenBatch(rows)
	B, T, V := len(rows), len(rows[0]), cfg.VocabSize
	lora, err := NewLoRA(cfg, LoRAOptions{R: 4, Alpha: 8, TargetModules: allModules}, 1)
	if err != nil {
		t.Fatal(err)
	}
	fillFormula(lora, 0.3)
	prefix, err := NewPrefix(cfg, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	fillFormula(prefix, 0.5)
	prompt, err := NewPrompt(cfg, p, PromptOptions{NumVirtualTokens: 3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	fillFormula(prompt, 0.5)
	for _, tc := range []struct {
		a     *Adapter
		loss  float64
		first []float64 // logits[0, 0, :4]
		last  []float64 // logits[1, 9, V-4:]
	}{
		{lora, 5.004435102, []float64{1.6093716, 0.4171394, -1.5454678, 0.5898553}, []float64{0.1244256, -0.9734739, -1.0265382, -1.6349634}},
		{prefix, 4.416996002, []float64{1.0710887, 1.1047425, 0.0812246, 0.2789953}, []float64{-0.1328173, -1.0486118, -0.6469031, -1.4932443}},
		{prompt, 4.610987481, []float64{-0.2666448, 0.4197954, -1.1830004, -0.1081803}, []float64{-0.7204312, -0.0942598, 0.8543713, -0.8619175}},
	} {
		m, err := NewModelWith(cfg, p, B, T, ModelOptions{Adapter: tc.a})
		if err != nil {
			t.Fatal(err)
		}
		loss, err := m.Eval(ids, targets, weights, norm)
		if err != nil {
			t.Fatal(err)
		}
		logits := m.Logits()
		worst := math.Abs(float64(loss) - tc.loss)
		for i := 0; i < 4; i++ {
			worst = math.Max(worst, math.Abs(float64(logits[i])-tc.first[i]))
			worst = math.Max(worst, math.Abs(float64(logits[(1*T+9)*V+V-4+i])-tc.last[i]))
		}
		if worst > 1e-5 {
			t.Errorf("%s: loss %.9f (PyTorch %.9f), worst difference %.3g > 1e-5", tc.a.Config.PeftType, loss, tc.loss, worst)
		}
		t.Logf("%s: worst difference from PyTorch %.3g", tc.a.Config.PeftType, worst)
		m.Close()
	}
}
