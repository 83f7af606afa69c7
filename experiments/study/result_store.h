// The result tree of a run: Shallue et al.'s public layout (dataset/model/optimizer/batch_size/) with a sparsity
// level added, and one table for the whole directory. Everything a report needs is in these files:
//
//   DIR/steps_to_result.csv                                  one row per study found under DIR
//   DIR/<dataset>/<network>/<optimizer>/study_spec.textproto the resolved spec of the last run (profile applied)
//   DIR/<dataset>/<network>/<optimizer>/sparsity_<s>/<batch_size>/study.json          the study's result
//   DIR/<dataset>/<network>/<optimizer>/sparsity_<s>/<batch_size>/<trial>/metadata.json   one trial
//   DIR/<dataset>/<network>/<optimizer>/sparsity_<s>/<batch_size>/<trial>/measurements.csv  its checks
//
// <s> is the sparsity with 6 significant digits (sparsity_0, sparsity_0.9). Every file is written atomically
// (tools/base/atomic_file.h), and a trial's metadata.json is written last: it exists iff the trial finished, which
// is what lets a killed run resume (ReadFinishedTrial). Examples of each file: experiments/study/README.md.
//
//   RETURN_IF_ERROR(WriteTrial(TrialDirectory(study_dir, 3), trial_spec, parameters, point, run, mask_report));
//   ASSIGN_OR_RETURN(std::optional<TrialSummary> stored, ReadFinishedTrial(TrialDirectory(study_dir, 3), trial_spec));
//   RETURN_IF_ERROR(WriteStepsToResultCsv(root));
#ifndef PARSITY_EXPERIMENTS_STUDY_RESULT_STORE_H_
#define PARSITY_EXPERIMENTS_STUDY_RESULT_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "experiments/study.pb.h"
#include "experiments/study/aggregation.h"
#include "experiments/study/records.pb.h"
#include "experiments/study/trial.h"
#include "google/protobuf/message.h"
#include "pruning/mask_report.h"

namespace parsity::experiments {

// Parses the JSON text of the file `path` into `message`, ignoring keys the message does not have. Errors: DataLoss
// naming `path`.
absl::Status ParseJson(const std::string& json, google::protobuf::Message* message, const std::string& path);

// "sparsity_0", "sparsity_0.5", "sparsity_0.9".
std::string SparsityDirectoryName(double sparsity);
// root/<dataset>/<network>/<optimizer>.
std::string WorkloadDirectory(const std::string& root, const StudySpec& spec);
// WorkloadDirectory/sparsity_<s>/<batch_size>.
std::string StudyDirectory(const std::string& root, const StudySpec& spec, double sparsity, int64_t batch_size);
// study_directory/<trial>.
std::string TrialDirectory(const std::string& study_directory, int trial);
// "mnist/simple_cnn/sgd".
std::string WorkloadName(const StudySpec& spec);

// The summary of a trial just run (examples_saved_at_most per aggregation.h).
TrialSummary SummarizeRun(const TrialSpec& trial, const Metaparameters& parameters, const TrialRun& run);

// Writes the trial's measurements.csv (trial_record.h's MeasurementsCsv), then its metadata.json:
//   {"trial":3,"seed":3,"parameters":{"learning_rate":0.0316},"sobol_point":[0.375],"status":"INCOMPLETE",
//    "steps_to_result":null,"final_validation_error":0.041,"steps":1200,"examples_seen":153600,
//    "stopped_by_caller":true,"checks":24,"wall_seconds":30.2,"stopped_early":true,
//    "examples_saved_at_most":614400,"config_fingerprint":"3f2a...","trial_spec":{...},"mask":{...} or null}
// (status and the keys after it up to wall_seconds are trial_record.h's AddTrialResult). Errors: the writes'.
absl::Status WriteTrial(const std::string& trial_directory, const TrialSpec& trial, const Metaparameters& parameters,
                        absl::Span<const double> sobol_point, const TrialRun& run,
                        const std::optional<pruning::MaskReport>& mask_report);

// The trial stored in `trial_directory`, if its metadata.json exists: std::nullopt when it does not (the trial has
// not finished). Errors: DataLoss when the file cannot be parsed; FailedPrecondition when it was written for another
// TrialSpec than `expected` (another config, profile or data set), naming the file, both fingerprints, the fields
// that differ, and what to do.
absl::StatusOr<std::optional<TrialSummary>> ReadFinishedTrial(const std::string& trial_directory,
                                                              const TrialSpec& expected);

// study.json of the study (sparsity, batch_size) of `spec`:
//   {"dataset":"mnist","model":"simple_cnn","optimizer":"sgd","sparsity":0.9,"batch_size":128,
//    "goal_error":0.03,"max_steps":8000,"check_interval":50,"schedule":"constant","data_order_seed":0,
//    "pruning":{...},"parameter_configs":[{"parameter":"learning_rate","type":"DOUBLE","min":0.01,"max":1,
//    "scale":"LOG_SCALE"}],"fixed_parameters":{},"trials":5,"steps_to_result":1550,"best_trial":2,
//    "best_parameters":{"learning_rate":0.1},"complete":3,"incomplete":2,"infeasible":0,"stopped_early":2,
//    "examples_trained":...,"examples_saved_at_most":...,"trial_seconds":...}
std::string StudyJson(const StudySpec& spec, double sparsity, int64_t batch_size, const StudyResult& result);

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

#endif  // PARSITY_EXPERIMENTS_STUDY_RESULT_STORE_H_
