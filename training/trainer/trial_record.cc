#include "training/trainer/trial_record.h"

#include "absl/strings/str_cat.h"
#include "tools/base/csv.h"

namespace parsity::trainer {

void AddTrialResult(const TrialResult& result, JsonObject* object) {
  object->Add("status", TrialStatusName(result.status));
  if (result.steps_to_result.has_value()) {
    object->Add("steps_to_result", *result.steps_to_result);
  } else {
    object->AddNull("steps_to_result");
  }
  object->Add("final_validation_error", result.final_validation_error);
  object->Add("steps", result.steps).Add("examples_seen", result.examples_seen);
  object->Add("stopped_by_caller", result.stopped_by_caller);
  object->Add("checks", static_cast<int64_t>(result.checks.size()));
  object->Add("checks_exited_early", result.checks_exited_early);
  object->Add("validation_examples_evaluated", result.validation_examples_evaluated);
  object->Add("wall_seconds", result.wall_seconds);
}

std::string MeasurementsCsv(const std::vector<Check>& checks) {
  std::string csv =
      "step,validation_error,validation_loss,training_loss,examples_seen,seconds,validation_examples_evaluated\n";
  for (const Check& check : checks) {
    absl::StrAppend(&csv, check.step, ",", CsvNumber(check.validation_error), ",",
                    CsvNumber(check.validation_loss), ",", CsvNumber(check.mean_training_loss), ",",
                    check.examples_seen, ",", CsvNumber(check.seconds), ",", check.validation_examples_evaluated,
                    "\n");
  }
  return csv;
}

}  // namespace parsity::trainer
