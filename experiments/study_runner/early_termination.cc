#include "experiments/study_runner/early_termination.h"

#include <algorithm>

#include "tools/base/check.h"

namespace parsity::experiments {

bool Improves(int64_t steps_to_result, int trial, const std::optional<Incumbent>& incumbent) {
  if (!incumbent.has_value()) return true;
  return steps_to_result < incumbent->steps_to_result ||
         (steps_to_result == incumbent->steps_to_result && trial < incumbent->trial);
}

int64_t NextCheckStep(int64_t step, int64_t check_interval, int64_t max_steps) {
  PARSITY_CHECK(check_interval >= 1 && step >= 0 && step < max_steps);
  return std::min((step / check_interval + 1) * check_interval, max_steps);
}

bool CanStillWin(int64_t earliest_completion_step, int trial, const std::optional<Incumbent>& incumbent) {
  return Improves(earliest_completion_step, trial, incumbent);
}

bool SharedIncumbent::Offer(int64_t steps_to_result, int trial) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!Improves(steps_to_result, trial, incumbent_)) return false;
  incumbent_ = Incumbent{steps_to_result, trial};
  return true;
}

std::optional<Incumbent> SharedIncumbent::Get() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return incumbent_;
}

}  // namespace parsity::experiments
