// Package optim holds the optimiser of every training stage: AdamW over flat float32 slabs
// (adamw.go), global-norm gradient clipping (clip.go), the learning-rate schedule (schedule.go) and
// the optimiser state in a safetensors file (state.go).
package optim

import (
	"fmt"
	"math"
)

// AdamW is torch.optim.AdamW (PyTorch 1.13, foreach=False, amsgrad=False) over one flat float32
// parameter slab carved into the tensors of a layout. It owns the moment slabs m and v and the
// step count t; the parameter and gradient slabs belong to the caller.
type AdamW struct {
	cfg   AdamWConfig
	specs []Spec
	runs  []run     // the slab as maximal runs of tensors that all decay or all do not
	m, v  []float32 // first and second moments, laid out like the parameter slab
	t     int       // number of steps taken
}

// run is a range [lo, hi) of the slab whose tensors share one decay setting.
type run struct {
	lo, hi int
	decay  bool
}

// NewAdamW makes an optimiser for a slab laid out by specs, which must tile it in order (offsets
// 0, Size0, Size0+Size1, ...). Moments start at zero and the step count at 0, as in PyTorch.
func NewAdamW(specs []Spec, cfg AdamWConfig) (*AdamW, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n, err := checkLayout(specs)
	if err != nil {
		return nil, err
	}
	o := &AdamW{cfg: cfg, m: make([]float32, n), v: make([]float32, n)}
	for _, s := range specs {
		s.Shape = append([]int(nil), s.Shape...)
		o.specs = append(o.specs, s)
		d := cfg.Decays(s)
		if k := len(o.runs) - 1; k >= 0 && o.runs[k].decay == d {
			o.runs[k].hi += s.Size
			continue
		}
		o.runs = append(o.runs, run{lo: s.Offset, hi: s.Offset + s.Size, decay: d})
	}
	return o, nil
}

// Steps is the number of steps taken so far (PyTorch's state["step"]).
func (o *AdamW) Steps() int { return o.t }

// Step takes one AdamW step at learning rate lr, updating params in place from grads. With t the
// step count after incrementing, lambda the weight decay (0 for tensors that do not decay) and
// g the gradient, each element goes through, in this order (torch's _single_tensor_adamw):
//
//	p = p * (1 - lr*lambda)                      decoupled decay, before the moments
//	m = beta1*m + (1-beta1)*g
//	v = beta2*v + (1-beta2)*g*g
//	p = p + (-lr/(1-beta1^t)) * m / (sqrt(v)/sqrt(1-beta2^t) + eps)
//
// The scalar coefficients are computed in float64 and rounded to float32, the element arithmetic
// is float32, and the two moment updates are fused multiply-adds, as PyTorch's vectorised CPU
// kernels do: with these the parameters and moments equal PyTorch's bit for bit (see the test).
// It allocates nothing; the loop is sequential, so the result does not depend on the machine.
func (o *AdamW) Step(params, grads []float32, lr float64) error {
	if len(params) != len(o.m) || len(grads) != len(o.m) {
		return fmt.Errorf("optim: step over %d parameters and %d gradients, the layout holds %d", len(params), len(grads), len(o.m))
	}
	if math.IsNaN(lr) || math.IsInf(lr, 0) || lr < 0 {
		return fmt.Errorf("optim: learning rate %g is negative or not finite", lr)
	}
	o.t++
	t := float64(o.t)
	c := coeffs{
		beta1:   float32(o.cfg.Beta1),
		beta2:   float32(o.cfg.Beta2),
		oneMB1:  float32(1 - o.cfg.Beta1),
		oneMB2:  float32(1 - o.cfg.Beta2),
		bc2Sqrt: float32(math.Sqrt(1 - math.Pow(o.cfg.Beta2, t))),
		eps:     float32(o.cfg.Eps),
		negStep: float32(-(lr / (1 - math.Pow(o.cfg.Beta1, t)))),
	}
	decayed := float32(1 - float64(lr*o.cfg.WeightDecay)) // the conversion forbids a fused multiply-add: Python rounds lr*lambda first
	for _, r := range o.runs {
		c.shrink = 1 // PyTorch multiplies by 1 - lr*0 = 1 for the no-decay group: exact
		if r.decay {
			c.shrink = decayed
		}
		adamwKernel(params[r.lo:r.hi], grads[r.lo:r.hi], o.m[r.lo:r.hi], o.v[r.lo:r.hi], &c)
	}
	return nil
}

// coeffs are one step's scalars, rounded to float32 as PyTorch rounds a Python float argument.
type coeffs struct {
	shrink         float32 // 1 - lr*lambda
	beta1, beta2   float32
	oneMB1, oneMB2 float32 // 1-beta1 and 1-beta2, computed in float64 then rounded
	bc2Sqrt        float32 // sqrt(1 - beta2^t)
	eps            float32
	negStep        float32 // -lr / (1 - beta1^t)
}

// adamwKernel applies one step to equal-length slices of the four slabs.
func adamwKernel(p, g, m, v []float32, c *coeffs) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	for i := range p {
		gi := g[i]
		pi := p[i] * c.shrink                            // p * (1 - lr*lambda)
		mi := fma32(gi, c.oneMB1, m[i]*c.beta1)          // (1-b1)*g + b1*m, one rounding after the multiply-add
		vi := fma32(c.oneMB2*gi, gi, v[i]*c.beta2)       // ((1-b2)*g)*g + b2*v, likewise
		den := sqrt32(vi)/c.bc2Sqrt + c.eps              // sqrt(v)/sqrt(1-b2^t) + eps
		p[i], m[i], v[i] = pi+(c.negStep*mi)/den, mi, vi // p + (-step*m)/den, left to right as torch's addcdiv
	}
}

// fma32 is a*b + c with one rounding to float32. The float64 product of two float32 values is
// exact, so only the float64 sum and the final float32 conversion round; that double rounding can
// differ from a true float32 fused multiply-add only when the float64 sum lands exactly halfway
// between two float32 values, which never happened in the test against PyTorch. Go may or may not
// fuse the float64 expression itself; with an exact product both give the same bits.
func fma32(a, b, c float32) float32 {
	return float32(float64(a)*float64(b) + float64(c))
}

// sqrt32 is the correctly rounded float32 square root: a float64 square root rounded to float32 is
// correctly rounded because float64 has more than twice float32's precision plus two bits.
func sqrt32(x float32) float32 {
	return float32(math.Sqrt(float64(x)))
}
