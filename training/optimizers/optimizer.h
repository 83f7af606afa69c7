// The interface shared by parsity's optimizers (sgd.h, momentum.h, nesterov.h, adam.h): each updates a network's
// whole flat parameter buffer in place from a gradient buffer of the same size. Create one by name with
// optimizer_factory.h; design notes in training/optimizers/README.md.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Optimizer> optimizer, CreateOptimizer(config, parameter_count, &mask));
//   for (int64_t t = 0; t < steps; ++t) {
//     optimizer->Step(schedule.LearningRate(t), gradient, parameters);
//     // or, from the sum of a batch's gradients: optimizer->ScaledStep(rate, 1.0f / batch_size, gradient_sum, ...)
//   }
#ifndef PARSITY_TRAINING_OPTIMIZERS_OPTIMIZER_H_
#define PARSITY_TRAINING_OPTIMIZERS_OPTIMIZER_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "training/nn/mask.h"

namespace parsity::optimizers {

// An optimizer owns its state (zero, or one or two buffers of size() floats, allocated at creation) and, when
// given one, a copy of the pruning mask.
//
// Masking contract: with a mask attached, a pruned entry's gradient is read as 0 (whatever it holds, NaN
// included), its state entries stay exactly 0, and its parameter is +0.0f after every step. The first step sets
// every pruned parameter to +0.0f, whatever it held. Every step then visits only the lines of 16 entries that hold a
// kept entry (nn::KeptLineRuns), setting their pruned parameters to +0.0f; a wholly pruned line is never read again,
// so it stays +0.0f as long as nothing but the optimizer writes the parameters (the trainer's hooks get them
// read-only). A masked step thus moves memory in proportion to the kept lines, not to the network.
//
// Arithmetic: each optimizer's header gives its update; where it says fma(a, b, c) the step computes a b + c with one
// rounding (std::fma), and every other operation is rounded on its own. The optimizers are compiled with
// -ffp-contract=off, so the compiler fuses nothing else, and every entry, in a vector body, a loop's tail, a masked or
// an unmasked step, is updated with the same roundings.
//
// Steps allocate nothing, are deterministic (same inputs, same bits) and single-threaded.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of `parameters` in place from `gradient`, the gradient of the mean loss over the batch, with step
  // size `learning_rate` (from a Schedule). Each optimizer's header states its update.
  // REQUIRES: gradient.size() == parameters.size() == size() (checked; aborts otherwise).
  void Step(float learning_rate, absl::Span<const float> gradient, absl::Span<float> parameters) {
    ScaledStep(learning_rate, 1.0f, gradient, parameters);
  }

  // The same update from the gradient gradient_scale * `gradient`, each entry multiplied in float before it is
  // used: bit for bit Step on a buffer scaled first. A trainer passes the SUM of a batch's gradients with scale 1/B
  // and so saves a pass over the gradient. REQUIRES: as for Step.
  virtual void ScaledStep(float learning_rate, float gradient_scale, absl::Span<const float> gradient,
                          absl::Span<float> parameters) = 0;

  // The factory name: "sgd", "momentum", "nesterov" or "adam".
  virtual absl::string_view name() const = 0;

  // Number of parameters the optimizer updates.
  int64_t size() const { return size_; }
  // The attached mask, or nullptr when every parameter trains.
  const nn::Mask* mask() const { return mask_.has_value() ? &*mask_ : nullptr; }

 protected:
  // REQUIRES: arguments validated by optimizers_internal::ValidateBufferShape.
  Optimizer(int64_t size, const nn::Mask* mask);

  // Aborts unless both buffers have size() entries.
  void CheckStepBuffers(absl::Span<const float> gradient, absl::Span<float> parameters) const;

  // With a mask, its KeptBits (computed once); empty without one.
  absl::Span<const uint16_t> kept_bits() const { return kept_bits_; }
  // With a mask, the runs of full lines that hold a kept entry (nn::KeptLineRuns of kept_bits()); empty without one.
  absl::Span<const nn::LineRun> kept_line_runs() const { return kept_line_runs_; }

  // A masked step calls this first: on the first step only, it sets the parameters of every wholly pruned full line
  // to +0.0f (the lines the masked steps never visit).
  void ClearPrunedLinesOnFirstStep(absl::Span<float> parameters);

 private:
  int64_t size_;
  std::optional<nn::Mask> mask_;
  std::vector<uint16_t> kept_bits_;
  std::vector<nn::LineRun> kept_line_runs_;
  bool pruned_lines_cleared_ = false;
};

namespace optimizers_internal {

// OK when parameter_count > 0 and `mask` (nullable) has parameter_count entries; else InvalidArgument naming the
// value at fault.
absl::Status ValidateBufferShape(int64_t parameter_count, const nn::Mask* mask);

// OK when `value` is in [0, 1) (NaN is not); else InvalidArgument naming `field` and `value`.
absl::Status ValidateInUnitInterval(absl::string_view field, float value);

// The masked step's loop: update(i) for every entry i of the full lines in `runs` and of the last, partial line of a
// buffer of `count` entries (if any). `update` applies the masked update to entry i.
template <typename Update>
void ForEachKeptLineEntry(absl::Span<const nn::LineRun> runs, int64_t count, Update update) {
  for (const nn::LineRun& run : runs) {
    for (int64_t i = run.first_line * 16; i < run.end_line * 16; ++i) update(i);
  }
  for (int64_t i = count / 16 * 16; i < count; ++i) update(i);
}

}  // namespace optimizers_internal
}  // namespace parsity::optimizers

#endif  // PARSITY_TRAINING_OPTIMIZERS_OPTIMIZER_H_
