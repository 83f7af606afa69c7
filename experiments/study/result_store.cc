#include "experiments/study/result_store.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "experiments/study/config.h"
#include "experiments/study/search_space.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "tools/base/atomic_file.h"
#include "tools/base/json.h"
#include "tools/base/status_macros.h"
#include "training/trainer/trial_record.h"

namespace parsity::experiments {
absl::Status ParseJson(const std::string& json, google::protobuf::Message* message, const std::string& path) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  const auto status = google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!status.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": cannot be parsed: ", std::string(status.message())));
  }
  return absl::OkStatus();
}

namespace {

std::optional<trainer::TrialStatus> StatusFromName(absl::string_view name) {
  for (trainer::TrialStatus status :
       {trainer::TrialStatus::kComplete, trainer::TrialStatus::kIncomplete, trainer::TrialStatus::kInfeasible}) {
    if (trainer::TrialStatusName(status) == name) return status;
  }
  return std::nullopt;
}

std::string CsvNumber(bool has, double value) { return has ? JsonNumber(value) : ""; }

}  // namespace

std::string SparsityDirectoryName(double sparsity) { return absl::StrCat("sparsity_", sparsity); }

std::string WorkloadDirectory(const std::string& root, const StudySpec& spec) {
  return absl::StrCat(root, "/", spec.dataset(), "/", spec.network(), "/", spec.optimizer().name());
}

std::string StudyDirectory(const std::string& root, const StudySpec& spec, double sparsity, int64_t batch_size) {
  return absl::StrCat(WorkloadDirectory(root, spec), "/", SparsityDirectoryName(sparsity), "/", batch_size);
}

std::string TrialDirectory(const std::string& study_directory, int trial) {
  return absl::StrCat(study_directory, "/", trial);
}

std::string WorkloadName(const StudySpec& spec) {
  return absl::StrCat(spec.dataset(), "/", spec.network(), "/", spec.optimizer().name());
}

TrialSummary SummarizeRun(const TrialSpec& trial, const Metaparameters& parameters, const TrialRun& run) {
  TrialSummary summary;
  summary.trial = trial.trial();
  summary.status = run.result.status;
  summary.steps_to_result = run.result.steps_to_result;
  summary.steps = run.result.steps;
  summary.examples_seen = run.result.examples_seen;
  summary.stopped_early = run.stopped_early;
  summary.examples_saved_at_most = run.stopped_early ? (trial.max_steps() - run.result.steps) * trial.batch_size() : 0;
  summary.wall_seconds = run.result.wall_seconds;
  summary.parameters = parameters;
  summary.validation_examples_evaluated = run.result.validation_examples_evaluated;
  summary.validation_examples_in_full_checks =
      static_cast<int64_t>(run.result.checks.size()) * trial.data().validation_examples();
  return summary;
}

absl::Status WriteTrial(const std::string& trial_directory, const TrialSpec& trial, const Metaparameters& parameters,
                        absl::Span<const double> sobol_point, const TrialRun& run,
                        const std::optional<pruning::MaskReport>& mask_report) {
  const TrialSummary summary = SummarizeRun(trial, parameters, run);
  JsonObject metadata;
  metadata.Add("trial", trial.trial()).Add("seed", static_cast<uint64_t>(trial.seed()));
  metadata.Add("parameters", MetaparametersJson(parameters));
  JsonArray point;
  for (double coordinate : sobol_point) point.Add(coordinate);
  metadata.Add("sobol_point", point);
  trainer::AddTrialResult(run.result, &metadata);
  metadata.Add("stopped_early", summary.stopped_early);
  metadata.Add("examples_saved_at_most", summary.examples_saved_at_most);
  metadata.Add("config_fingerprint", TrialFingerprint(trial));
  metadata.AddRaw("trial_spec", TrialSpecJson(trial));
  if (mask_report.has_value()) {
    metadata.Add("mask", pruning::MaskReportJson(*mask_report));
  } else {
    metadata.AddNull("mask");
  }
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(trial_directory, "/measurements.csv"),
                                      trainer::MeasurementsCsv(run.result.checks)));
  // Last: its presence marks the trial finished.
  return WriteFileAtomically(absl::StrCat(trial_directory, "/metadata.json"), metadata.ToString() + "\n");
}

absl::StatusOr<std::optional<TrialSummary>> ReadFinishedTrial(const std::string& trial_directory,
                                                              const TrialSpec& expected) {
  const std::string path = absl::StrCat(trial_directory, "/metadata.json");
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) return std::optional<TrialSummary>();
  if (!text.ok()) return text.status();
  TrialRecord record;
  RETURN_IF_ERROR(ParseJson(*text, &record, path));
  const std::optional<trainer::TrialStatus> status = StatusFromName(record.status());
  if (!status.has_value() || !record.has_trial_spec()) {
    return absl::DataLossError(absl::StrCat(path, ": not a trial record (no valid \"status\" or \"trial_spec\")"));
  }
  if (record.config_fingerprint() != TrialFingerprint(expected)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " was written by another configuration (fingerprint ", record.config_fingerprint(),
                     ", this run's is ", TrialFingerprint(expected), "); it differs in:\n",
                     TrialSpecDifferences(record.trial_spec(), expected), "\nUse another --output_dir, or delete ",
                     std::filesystem::path(trial_directory).parent_path().string(), " to rerun that study."));
  }
  TrialSummary summary;
  summary.trial = record.trial();
  summary.status = *status;
  if (record.has_steps_to_result()) summary.steps_to_result = record.steps_to_result();
  summary.steps = record.steps();
  summary.examples_seen = record.examples_seen();
  summary.stopped_early = record.stopped_early();
  summary.examples_saved_at_most = record.examples_saved_at_most();
  summary.wall_seconds = record.wall_seconds();
  summary.parameters = record.parameters();
  summary.validation_examples_evaluated = record.validation_examples_evaluated();
  summary.validation_examples_in_full_checks = record.checks() * expected.data().validation_examples();
  return std::optional<TrialSummary>(summary);
}

std::string StudyJson(const StudySpec& spec, double sparsity, int64_t batch_size, const StudyResult& result) {
  JsonObject study;
  study.Add("dataset", spec.dataset()).Add("model", spec.network()).Add("optimizer", spec.optimizer().name());
  study.Add("sparsity", sparsity).Add("batch_size", batch_size);
  study.Add("goal_error", spec.goal_error()).Add("max_steps", MaxStepsFor(spec, batch_size));
  study.Add("check_interval", CheckIntervalFor(spec, batch_size)).Add("schedule", spec.schedule().name());
  study.Add("data_order_seed", static_cast<uint64_t>(spec.data_order_seed()));
  JsonObject pruning;
  if (sparsity == 0) {
    pruning.Add("scheme", "none");
  } else {
    pruning.Add("scheme", spec.pruning().scheme()).Add("scope", spec.pruning().scope());
    pruning.Add("prune_biases", spec.pruning().prune_biases());
    pruning.Add("snip_batches", static_cast<int64_t>(spec.pruning().snip_batches()));
  }
  study.Add("pruning", pruning);
  study.Add("parameter_configs", ParameterConfigsJson(spec));
  // The metaparameters the workload uses but does not search.
  Metaparameters fixed = TrialMetaparameters(spec, std::vector<double>(spec.search_size(), 0.0));
  for (const SearchedMetaparameter& searched : spec.search()) {
    const google::protobuf::FieldDescriptor* field =
        Metaparameters::descriptor()->FindFieldByName(std::string(MetaparameterKey(searched.parameter())));
    if (field != nullptr) fixed.GetReflection()->ClearField(&fixed, field);
  }
  study.Add("fixed_parameters", MetaparametersJson(fixed));
  study.Add("trials", result.trials);
  if (result.steps_to_result.has_value()) {
    study.Add("steps_to_result", *result.steps_to_result).Add("best_trial", *result.best_trial);
    study.Add("best_parameters", MetaparametersJson(result.best_parameters));
  } else {
    study.AddNull("steps_to_result").AddNull("best_trial").AddNull("best_parameters");
  }
  study.Add("complete", result.complete).Add("incomplete", result.incomplete).Add("infeasible", result.infeasible);
  study.Add("stopped_early", result.stopped_early);
  study.Add("examples_trained", result.examples_trained);
  study.Add("examples_saved_at_most", result.examples_saved_at_most);
  study.Add("trial_seconds", result.trial_seconds);
  study.Add("validation_examples_evaluated", result.validation_examples_evaluated);
  study.Add("validation_examples_in_full_checks", result.validation_examples_in_full_checks);
  return study.ToString() + "\n";
}

absl::Status WriteResolvedSpec(const std::string& root, const StudySpec& spec, absl::string_view source) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(spec, &text);
  return WriteFileAtomically(absl::StrCat(WorkloadDirectory(root, spec), "/study_spec.textproto"),
                             absl::StrCat("# Resolved from ", source, " by //experiments:study.\n", text));
}

absl::StatusOr<std::vector<StudyRecord>> ReadStudyRecords(const std::string& root) {
  std::vector<StudyRecord> records;
  namespace fs = std::filesystem;
  std::error_code error;
  fs::recursive_directory_iterator it(root, error), end;
  if (error) return records;  // No results yet.
  for (; it != end; it.increment(error)) {
    if (error) return absl::InternalError(absl::StrCat("cannot list ", root, ": ", error.message()));
    // <dataset>/<network>/<optimizer>/sparsity_<s>/<batch_size>/study.json is at depth 5; trials lie deeper.
    if (it.depth() >= 5) it.disable_recursion_pending();
    const fs::path& path = it->path();
    if (it.depth() != 5 || path.filename() != "study.json" ||
        !absl::StartsWith(path.parent_path().parent_path().filename().string(), "sparsity_")) {
      continue;
    }
    ASSIGN_OR_RETURN(const std::string text, ReadFile(path.string()));
    StudyRecord record;
    RETURN_IF_ERROR(ParseJson(text, &record, path.string()));
    records.push_back(std::move(record));
  }
  std::sort(records.begin(), records.end(), [](const StudyRecord& a, const StudyRecord& b) {
    return std::make_tuple(a.dataset(), a.model(), a.optimizer(), a.sparsity(), a.batch_size()) <
           std::make_tuple(b.dataset(), b.model(), b.optimizer(), b.sparsity(), b.batch_size());
  });
  return records;
}

std::string StepsToResultCsv(absl::Span<const StudyRecord> records) {
  std::string csv =
      "workload,sparsity,batch_size,steps_to_result,best_trial,learning_rate,momentum,decay_steps,end_factor,trials,"
      "complete,incomplete,infeasible,stopped_early\n";
  for (const StudyRecord& record : records) {
    const Metaparameters& best = record.best_parameters();
    const bool has_best = record.has_steps_to_result();
    absl::StrAppend(&csv, record.dataset(), "/", record.model(), "/", record.optimizer(), ",",
                    JsonNumber(record.sparsity()), ",", record.batch_size(), ",",
                    has_best ? absl::StrCat(record.steps_to_result()) : "", ",",
                    has_best ? absl::StrCat(record.best_trial()) : "", ",");
    absl::StrAppend(&csv, CsvNumber(has_best && best.has_learning_rate(), best.learning_rate()), ",",
                    CsvNumber(has_best && best.has_momentum(), best.momentum()), ",",
                    has_best && best.has_decay_steps() ? absl::StrCat(best.decay_steps()) : "", ",",
                    CsvNumber(has_best && best.has_end_factor(), best.end_factor()), ",");
    absl::StrAppend(&csv, record.trials(), ",", record.complete(), ",", record.incomplete(), ",", record.infeasible(),
                    ",", record.stopped_early(), "\n");
  }
  return csv;
}

absl::Status WriteStepsToResultCsv(const std::string& root) {
  ASSIGN_OR_RETURN(const std::vector<StudyRecord> records, ReadStudyRecords(root));
  return WriteFileAtomically(absl::StrCat(root, "/steps_to_result.csv"), StepsToResultCsv(records));
}

}  // namespace parsity::experiments
