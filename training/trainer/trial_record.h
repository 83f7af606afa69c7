// How a trial's result is written down: the JSON fields of a TrialResult and the measurements CSV (one row per
// check, the columns of Shallue et al.'s measurements.csv plus ours).
//
//   JsonObject summary;
//   AddTrialResult(result, &summary);      // "status", "steps_to_result", "final_validation_error", ...
//   WriteFileAtomically(path, MeasurementsCsv(result.checks));
#ifndef PARSITY_TRAINING_TRAINER_TRIAL_RECORD_H_
#define PARSITY_TRAINING_TRAINER_TRIAL_RECORD_H_

#include <string>
#include <vector>

#include "tools/base/json.h"
#include "training/trainer/trainer.h"

namespace parsity::trainer {

// Adds "status" (COMPLETE / INCOMPLETE / INFEASIBLE), "steps_to_result" (null unless COMPLETE),
// "final_validation_error", "steps", "examples_seen", "stopped_by_caller", "checks" (count), "checks_exited_early",
// "validation_examples_evaluated" (over all checks) and "wall_seconds".
void AddTrialResult(const TrialResult& result, JsonObject* object);

// CSV with header "step,validation_error,validation_loss,training_loss,examples_seen,seconds,
// validation_examples_evaluated" and one row per check; numbers round-trip exactly. A row whose
// validation_examples_evaluated is below the validation set's size is a check that exited early: its
// validation_error is a lower bound and its validation_loss the mean over the examples evaluated.
std::string MeasurementsCsv(const std::vector<Check>& checks);

}  // namespace parsity::trainer

#endif  // PARSITY_TRAINING_TRAINER_TRIAL_RECORD_H_
