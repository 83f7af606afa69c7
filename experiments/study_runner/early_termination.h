// Exact early termination of a study's trials. A study's steps-to-result is the fewest steps over its complete
// trials, and its best trial the one that reached it, ties going to the lowest trial index: the incumbent is the
// lexicographically smallest (steps_to_result, trial) seen so far. A trial that has not completed by check step s
// can complete at the next check at the earliest, so once (NextCheckStep(s), trial) is not below the incumbent it can
// neither lower the steps-to-result nor take the best trial's place, and stopping it changes no study result: the
// results with and without early termination are identical (runner_test proves it on a small study). The incumbent
// only improves as trials finish, so a trial stopped against an older incumbent could not beat the final one either;
// this is also why resuming an interrupted study gives the same results.
//
//   hooks.on_check = [&](const Check& check) {
//     return check.step >= max_steps ||
//            CanStillWin(NextCheckStep(check.step, check_interval, max_steps), trial, incumbent.Get());
//   };
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_EARLY_TERMINATION_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_EARLY_TERMINATION_H_

#include <cstdint>
#include <mutex>
#include <optional>

namespace parsity::experiments {

// The best complete trial of a study so far.
struct Incumbent {
  int64_t steps_to_result = 0;
  int trial = 0;
};

// Whether (steps_to_result, trial) is lexicographically below `incumbent` (always true without one).
bool Improves(int64_t steps_to_result, int trial, const std::optional<Incumbent>& incumbent);

// The step of the check after `step` in a trial that checks every `check_interval` steps and at its last step
// (training/trainer/trainer.h): min((step / check_interval + 1) * check_interval, max_steps). The first check of a
// trial is NextCheckStep(0, ...). REQUIRES: check_interval >= 1, 0 <= step < max_steps.
int64_t NextCheckStep(int64_t step, int64_t check_interval, int64_t max_steps);

// Whether a trial whose earliest possible completion is at `earliest_completion_step` can still improve on the
// incumbent: Improves(earliest_completion_step, trial, incumbent).
bool CanStillWin(int64_t earliest_completion_step, int trial, const std::optional<Incumbent>& incumbent);

// A study's incumbent, shared by the threads that run its trials.
class SharedIncumbent {
 public:
  // Offers a complete trial; keeps it if Improves. Returns whether it was kept.
  bool Offer(int64_t steps_to_result, int trial);
  std::optional<Incumbent> Get() const;

 private:
  mutable std::mutex mutex_;
  std::optional<Incumbent> incumbent_;
};

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_EARLY_TERMINATION_H_
