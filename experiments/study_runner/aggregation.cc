#include "experiments/study_runner/aggregation.h"

#include "experiments/study_runner/early_termination.h"

namespace parsity::experiments {

StudyResult AggregateStudy(absl::Span<const TrialSummary> trials) {
  StudyResult result;
  std::optional<Incumbent> best;
  for (const TrialSummary& trial : trials) {
    ++result.trials;
    switch (trial.status) {
      case trainer::TrialStatus::kComplete:
        ++result.complete;
        if (trial.steps_to_result.has_value() && Improves(*trial.steps_to_result, trial.trial, best)) {
          best = Incumbent{*trial.steps_to_result, trial.trial};
          result.best_parameters = trial.parameters;
        }
        break;
      case trainer::TrialStatus::kIncomplete:
        ++result.incomplete;
        break;
      case trainer::TrialStatus::kInfeasible:
        ++result.infeasible;
        break;
    }
    if (trial.stopped_early) ++result.stopped_early;
    result.examples_trained += trial.examples_seen;
    result.examples_saved_at_most += trial.examples_saved_at_most;
    result.trial_seconds += trial.wall_seconds;
    result.validation_examples_evaluated += trial.validation_examples_evaluated;
    result.validation_examples_in_full_checks += trial.validation_examples_in_full_checks;
  }
  if (best.has_value()) {
    result.steps_to_result = best->steps_to_result;
    result.best_trial = best->trial;
  }
  return result;
}

}  // namespace parsity::experiments
