// Adam (Kingma & Ba 2015, Algorithm 1; TensorFlow's AdamOptimizer computes the same update up to where epsilon
// enters) on a flat parameter buffer. Not in the paper: the design adds it because preconditioning is known to move
// the critical batch size. State: two moment buffers, zero at creation, and the step count t.
//
//   ASSIGN_OR_RETURN(auto adam, AdamOptimizer::Create(parameter_count, AdamHyperparameters{}, /*mask=*/nullptr));
//   adam->Step(/*learning_rate=*/1e-3f, gradient, parameters);
//
// Update, for every entry i (g: the mean-loss gradient, lr: the learning rate, t: 1 at the first step):
//   m_i <- fma(b1, m_i, (1 - b1) g_i)      (b1 m_i + (1 - b1) g_i, the sum rounded with b1 m_i)
//   v_i <- fma(b2, v_i, (1 - b2) g_i^2)
//   m_hat_i = m_i / (1 - b1^t)            (bias corrections: the moments start at 0)
//   v_hat_i = v_i / (1 - b2^t)
//   w_i <- w_i - lr m_hat_i / (sqrt(v_hat_i) + eps)
// At t = 1, m_hat = g and v_hat = g^2, so the first step is lr g / (|g| + eps), about lr sign(g).
// b1^t and b2^t are tracked in double. With a mask, pruned entries read g_i = 0 (so m_i = v_i = 0 stay) and are set
// to w_i = 0 (optimizer.h).
#ifndef PARSITY_TRAINING_OPTIMIZERS_ADAM_H_
#define PARSITY_TRAINING_OPTIMIZERS_ADAM_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tools/base/aligned_vector.h"
#include "training/nn/mask.h"
#include "training/optimizers/optimizer.h"

namespace parsity::optimizers {

// Kingma & Ba's defaults.
struct AdamHyperparameters {
  float beta1 = 0.9f;     // b1, in [0, 1): decay of the first moment.
  float beta2 = 0.999f;   // b2, in [0, 1): decay of the second moment.
  float epsilon = 1e-8f;  // eps, finite and > 0: added to sqrt(v_hat).
};

class AdamOptimizer : public Optimizer {
 public:
  // `mask` (nullable) is copied. Errors: InvalidArgument when parameter_count <= 0, the mask's size differs, beta1
  // or beta2 is not in [0, 1), or epsilon is not finite and positive; the message names the field and value.
  static absl::StatusOr<std::unique_ptr<AdamOptimizer>> Create(int64_t parameter_count,
                                                               const AdamHyperparameters& hyperparameters,
                                                               const nn::Mask* mask);

  void ScaledStep(float learning_rate, float gradient_scale, absl::Span<const float> gradient,
                  absl::Span<float> parameters) override;
  absl::string_view name() const override { return "adam"; }

  const AdamHyperparameters& hyperparameters() const { return hyperparameters_; }
  // Steps taken so far (t after the last step; 0 before the first).
  int64_t step_count() const { return step_count_; }
  // The biased moment estimates m and v, size() entries each.
  absl::Span<const float> first_moment() const { return first_moment_; }
  absl::Span<const float> second_moment() const { return second_moment_; }

 private:
  AdamOptimizer(int64_t parameter_count, const AdamHyperparameters& hyperparameters, const nn::Mask* mask);

  AdamHyperparameters hyperparameters_;
  int64_t step_count_ = 0;
  double beta1_power_ = 1.0;  // b1^t
  double beta2_power_ = 1.0;  // b2^t
  AlignedFloatVector first_moment_;
  AlignedFloatVector second_moment_;
};

}  // namespace parsity::optimizers

#endif  // PARSITY_TRAINING_OPTIMIZERS_ADAM_H_
