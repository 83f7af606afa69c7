// A study's result from its trials: steps-to-result = fewest steps over the COMPLETE trials (experiments/PROTOCOL.md,
// "The tuning protocol"), the best trial (ties: lowest index, as in early_termination.h), counts by status, and the
// examples trained and saved.
//
//   const StudyResult result = AggregateStudy(trials);
//   if (result.steps_to_result) Plot(batch_size, *result.steps_to_result);
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_AGGREGATION_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_AGGREGATION_H_

#include <cstdint>
#include <optional>

#include "absl/types/span.h"
#include "experiments/study.pb.h"
#include "training/trainer/trainer.h"

namespace parsity::experiments {

// One finished trial, as run or as read back from its metadata.json.
struct TrialSummary {
  int trial = 0;
  trainer::TrialStatus status = trainer::TrialStatus::kIncomplete;
  std::optional<int64_t> steps_to_result;  // Set iff COMPLETE.
  int64_t steps = 0;                       // Updates done (0 for a trial skipped by early termination).
  int64_t examples_seen = 0;               // steps * batch_size.
  // Stopped (or never started) by exact early termination: status INCOMPLETE, and the trial could not have improved
  // on the study's result.
  bool stopped_early = false;
  // For a trial stopped early, (max_steps - steps) * batch_size: the most examples that running it on could have
  // cost (it would have ended at its completion, divergence or budget, whichever came first; which one is unknowable
  // without running it). 0 otherwise.
  int64_t examples_saved_at_most = 0;
  double wall_seconds = 0;
  Metaparameters parameters;
  // Validation examples its checks evaluated, and checks x the validation set's size (equal without early exit).
  int64_t validation_examples_evaluated = 0;
  int64_t validation_examples_in_full_checks = 0;
};

struct StudyResult {
  std::optional<int64_t> steps_to_result;  // Fewest steps_to_result over COMPLETE trials; unset when none completed.
  std::optional<int> best_trial;           // The COMPLETE trial that reached it (lowest index on ties).
  Metaparameters best_parameters;          // Its metaparameters (empty without a best trial).
  int trials = 0;
  int complete = 0;
  int incomplete = 0;  // Includes the stopped_early ones.
  int infeasible = 0;
  int stopped_early = 0;
  int64_t examples_trained = 0;        // Sum of examples_seen.
  int64_t examples_saved_at_most = 0;  // Sum over trials.
  double trial_seconds = 0;            // Sum of wall_seconds (CPU-ish time: trials run in parallel).
  int64_t validation_examples_evaluated = 0;       // Sums over trials.
  int64_t validation_examples_in_full_checks = 0;
};

// Aggregates `trials` (any order; each trial index at most once).
StudyResult AggregateStudy(absl::Span<const TrialSummary> trials);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_AGGREGATION_H_
