// The records of whole studies in a result tree (result_store.h has the layout and the trials): each study's
// study.json, the resolved spec beside them, and the steps-to-result table built from them.
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_STUDY_RECORDS_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_STUDY_RECORDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "experiments/study.pb.h"
#include "experiments/study_runner/aggregation.h"
#include "experiments/study_runner/records.pb.h"

namespace parsity::experiments {

// study.json of the study (sparsity, batch_size) of `spec`:
//   {"dataset":"mnist","model":"simple_cnn","optimizer":"sgd","sparsity":0.9,"batch_size":128,
//    "goal_error":0.03,"max_steps":8000,"check_interval":50,"schedule":"constant","data_order_seed":0,
//    "pruning":{...},"parameter_configs":[{"parameter":"learning_rate","type":"DOUBLE","min":0.01,"max":1,
//    "scale":"LOG_SCALE"}],"fixed_parameters":{},"trials":5,"steps_to_result":1550,"best_trial":2,
//    "best_parameters":{"learning_rate":0.1},"complete":3,"incomplete":2,"infeasible":0,"stopped_early":2,
//    "examples_trained":...,"examples_saved_at_most":...,"trial_seconds":...,"validation_examples_evaluated":...,
//    "validation_examples_in_full_checks":...,"trials_damaged":0}
// trials_damaged: the study's damaged trials moved aside (CountDamagedTrials), retrained since.
std::string StudyJson(const StudySpec& spec, double sparsity, int64_t batch_size, const StudyResult& result,
                      int trials_damaged = 0);

// Writes WorkloadDirectory/study_spec.textproto: `spec` (resolved) in text format, with a comment line naming
// `source`, so that a report can be regenerated from the result tree alone.
absl::Status WriteResolvedSpec(const std::string& root, const StudySpec& spec, absl::string_view source);

// Every study.json found at DIR/*/*/*/sparsity_*/*/study.json, sorted by workload, sparsity and batch size.
// Errors: DataLoss naming a file that cannot be parsed.
absl::StatusOr<std::vector<StudyRecord>> ReadStudyRecords(const std::string& root);

// The table of `records`, one row each, in order. Header:
//   workload,sparsity,batch_size,steps_to_result,best_trial,learning_rate,momentum,decay_steps,end_factor,trials,
//   complete,incomplete,infeasible,stopped_early
// steps_to_result and best_trial are empty when no trial completed; the metaparameters are the best trial's, empty
// when unused or without a best trial. The first ten columns (through `trials`) do not depend on early termination,
// parallelism or interruptions; the last four count the trials as they were run.
std::string StepsToResultCsv(absl::Span<const StudyRecord> records);

// Rewrites root/steps_to_result.csv from ReadStudyRecords(root).
absl::Status WriteStepsToResultCsv(const std::string& root);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_STUDY_RECORDS_H_
