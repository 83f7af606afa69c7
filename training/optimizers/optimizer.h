// The interface shared by parsity's optimizers (sgd.h, momentum.h, nesterov.h, adam.h): each updates a network's
// whole flat parameter buffer in place from a gradient buffer of the same size. Create one by name with
// optimizer_factory.h; design notes in training/optimizers/README.md.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Optimizer> optimizer, CreateOptimizer(config, parameter_count, &mask));
//   for (int64_t t = 0; t < steps; ++t) {
//     optimizer->Step(schedule.LearningRate(t), gradient, parameters);
//   }
#ifndef PARSITY_TRAINING_OPTIMIZERS_OPTIMIZER_H_
#define PARSITY_TRAINING_OPTIMIZERS_OPTIMIZER_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
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
// included), its state entries stay exactly 0, and its parameter is set to +0.0f after every step. The caller
// zeroes pruned parameters once at initialization (nn::Mask::Apply); the optimizer keeps them zero. A line of 16
// entries without a kept entry (a zero word of Mask::KeptBits) costs a read of its parameters only: its gradient
// and state are not touched, and its parameters are written only when one of them is not +0.0f.
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
  virtual void Step(float learning_rate, absl::Span<const float> gradient, absl::Span<float> parameters) = 0;

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

 private:
  int64_t size_;
  std::optional<nn::Mask> mask_;
  std::vector<uint16_t> kept_bits_;
};

namespace optimizers_internal {

// OK when parameter_count > 0 and `mask` (nullable) has parameter_count entries; else InvalidArgument naming the
// value at fault.
absl::Status ValidateBufferShape(int64_t parameter_count, const nn::Mask* mask);

// OK when `value` is in [0, 1) (NaN is not); else InvalidArgument naming `field` and `value`.
absl::Status ValidateInUnitInterval(absl::string_view field, float value);

// Sets the 16 floats at `parameters` to +0.0f unless all of them already are: the step of a line without kept
// entries, which then moves no memory but one read. Inline: it runs once per line.
inline void ClearPrunedLine(float* parameters) {
  uint32_t bits[16];
  std::memcpy(bits, parameters, sizeof(bits));
  uint32_t any = 0;
  for (const uint32_t word : bits) any |= word;
  if (any != 0) std::fill(parameters, parameters + 16, 0.0f);
}

// The masked step's loop: update(i) for every entry i < count of a line with a kept entry (and of the last, partial
// line), ClearPrunedLine for the other lines. `update` applies the masked update to entry i.
template <typename Update>
void ForEachKeptLine(absl::Span<const uint16_t> kept_bits, int64_t count, float* parameters, Update update) {
  nn::ForEachLine(kept_bits, count, update, [parameters](int64_t first) { ClearPrunedLine(parameters + first); });
}

}  // namespace optimizers_internal
}  // namespace parsity::optimizers

#endif  // PARSITY_TRAINING_OPTIMIZERS_OPTIMIZER_H_
