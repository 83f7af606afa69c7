#include "experiments/study_runner/study_records.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "experiments/study_runner/config.h"
#include "experiments/study_runner/result_store.h"
#include "experiments/study_runner/search_space.h"
#include "google/protobuf/text_format.h"
#include "tools/base/atomic_file.h"
#include "tools/base/csv.h"
#include "tools/base/json.h"
#include "tools/base/status_macros.h"

namespace parsity::experiments {
namespace {

std::string OptionalCsvNumber(bool has, double value) { return has ? CsvNumber(value) : ""; }

}  // namespace

std::string StudyJson(const StudySpec& spec, double sparsity, int64_t batch_size, const StudyResult& result,
                      int trials_damaged) {
  JsonObject study;
  study.Add("dataset", spec.dataset()).Add("model", spec.network()).Add("optimizer", spec.optimizer().name());
  study.Add("sparsity", sparsity).Add("batch_size", batch_size);
  study.Add("goal_error", spec.goal_error()).Add("max_steps", MaxStepsFor(spec, batch_size));
  study.Add("check_interval", CheckIntervalFor(spec, batch_size)).Add("schedule", spec.schedule().name());
  study.Add("data_order_seed", static_cast<uint64_t>(spec.data_order_seed()));
  // Only when set: the study.json of float-sum studies stays as it was.
  if (spec.exact_gradient_sum()) study.Add("exact_gradient_sum", true);
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
  study.Add("trials_damaged", trials_damaged);
  return study.ToString() + "\n";
}

absl::Status WriteResolvedSpec(const std::string& root, const StudySpec& spec, absl::string_view source) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(spec, &text);
  return WriteFileAtomically(absl::StrCat(WorkloadDirectory(root, spec), "/study_spec.textproto"),
                             absl::StrCat("# Resolved from ", source, " by //experiments:study.\n", text));
}

absl::StatusOr<std::vector<StudyRecord>> ReadStudyRecords(const std::string& root) {
  ASSIGN_OR_RETURN(const std::vector<std::string> files, FindStudyFiles(root));
  std::vector<StudyRecord> records;
  for (const std::string& path : files) {
    ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
    StudyRecord record;
    RETURN_IF_ERROR(ParseJson(text, &record, path));
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
    absl::StrAppend(&csv, OptionalCsvNumber(has_best && best.has_learning_rate(), best.learning_rate()), ",",
                    OptionalCsvNumber(has_best && best.has_momentum(), best.momentum()), ",",
                    has_best && best.has_decay_steps() ? absl::StrCat(best.decay_steps()) : "", ",",
                    OptionalCsvNumber(has_best && best.has_end_factor(), best.end_factor()), ",");
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
