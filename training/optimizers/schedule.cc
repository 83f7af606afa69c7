#include "training/optimizers/schedule.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/base/check.h"
#include "tools/base/status_macros.h"

namespace parsity::optimizers {
namespace {

absl::Status ValidateInitialLearningRate(float initial_learning_rate) {
  if (!(initial_learning_rate > 0.0f && std::isfinite(initial_learning_rate))) {
    return absl::InvalidArgumentError(
        absl::StrCat("Schedule initial_learning_rate must be finite and > 0; got ", initial_learning_rate));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Span<const absl::string_view> ScheduleNames() {
  static constexpr absl::string_view kNames[] = {"constant", "linear_decay"};
  return kNames;
}

absl::StatusOr<Schedule> Schedule::Create(const ScheduleConfig& config) {
  if (config.name == "constant") return Constant(config.initial_learning_rate);
  if (config.name == "linear_decay") {
    return LinearDecay(config.initial_learning_rate, config.decay_steps, config.end_factor);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "ScheduleConfig.name \"", config.name, "\" is unknown; expected one of: ", absl::StrJoin(ScheduleNames(), ", ")));
}

absl::StatusOr<Schedule> Schedule::Constant(float initial_learning_rate) {
  RETURN_IF_ERROR(ValidateInitialLearningRate(initial_learning_rate));
  return Schedule(initial_learning_rate, /*decay_steps=*/0, /*end_factor=*/1.0f);
}

absl::StatusOr<Schedule> Schedule::LinearDecay(float initial_learning_rate, int64_t decay_steps, float end_factor) {
  RETURN_IF_ERROR(ValidateInitialLearningRate(initial_learning_rate));
  if (decay_steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat("Schedule decay_steps must be >= 1; got ", decay_steps));
  }
  if (!(end_factor > 0.0f && end_factor <= 1.0f)) {
    return absl::InvalidArgumentError(absl::StrCat("Schedule end_factor must be in (0, 1]; got ", end_factor));
  }
  return Schedule(initial_learning_rate, decay_steps, end_factor);
}

float Schedule::LearningRate(int64_t step) const {
  PARSITY_CHECK(step >= 0);
  if (decay_steps_ == 0) return initial_learning_rate_;
  const double lr0 = initial_learning_rate_;
  const double alpha = end_factor_;
  if (step >= decay_steps_) return static_cast<float>(lr0 * alpha);
  const double progress = static_cast<double>(step) / static_cast<double>(decay_steps_);
  return static_cast<float>(lr0 * (1.0 - (1.0 - alpha) * progress));
}

}  // namespace parsity::optimizers
