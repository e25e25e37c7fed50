// Package losses holds the training losses of the alignment stages as plain functions over slices:
// Bradley-Terry for the reward model, DPO, and PPO's clipped policy and value losses. Each takes the
// model's outputs (rewards, summed or per-token log-probabilities, values), returns the loss and the
// metrics TRL logs under the same names, and writes d loss / d input into caller-owned slices, so the
// graph op wrapping a loss stores that gradient in its forward pass and scales it by the incoming
// gradient in its backward pass. Arithmetic is float64 whatever the element type.
package losses

// Float is the element type of the slices the losses read and write.
type Float interface{ ~float32 | ~float64 }
