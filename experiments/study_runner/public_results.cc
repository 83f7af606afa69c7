#include "experiments/study_runner/public_results.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "experiments/study_runner/result_store.h"
#include "tools/base/atomic_file.h"
#include "tools/base/csv.h"
#include "tools/base/status_macros.h"

namespace parsity::experiments {
namespace {

std::string ParsityName(const std::string& name) {
  static const auto* const kNames = new std::map<std::string, std::string>{{"cifar_10", "cifar10"},
                                                                           {"simple_cnn_base", "simple_cnn"},
                                                                           {"resnet_8", "resnet8"},
                                                                           {"nesterov_momentum", "nesterov"}};
  const auto it = kNames->find(name);
  return it == kNames->end() ? name : it->second;
}

// The first step of `path` (a measurements.csv) whose val/classification_error is below `goal`, if any.
absl::StatusOr<std::optional<int64_t>> FirstStepBelow(const std::string& path, double goal) {
  if (!PathExists(path)) return absl::DataLossError(absl::StrCat(path, ": missing (a COMPLETE trial needs it)"));
  ASSIGN_OR_RETURN(const CsvTable table, ReadCsv(path));
  if (table.header.empty()) return absl::DataLossError(absl::StrCat(path, ": empty"));
  const std::optional<size_t> step_index = table.Column("step");
  const std::optional<size_t> error_index = table.Column("val/classification_error");
  if (!step_index || !error_index) {
    return absl::DataLossError(absl::StrCat(path, ": the header lacks step or val/classification_error"));
  }
  std::optional<int64_t> first;
  for (size_t row = 0; row < table.rows.size(); ++row) {
    const std::vector<std::string>& fields = table.rows[row];
    double step = 0, error = 0;
    if (std::max(*step_index, *error_index) >= fields.size() || !absl::SimpleAtod(fields[*step_index], &step) ||
        !absl::SimpleAtod(fields[*error_index], &error)) {
      return absl::DataLossError(absl::StrCat(table.Where(row), ": cannot be parsed: \"", table.lines[row], "\""));
    }
    // Evaluations are not always in step order in every file: take the smallest qualifying step.
    if (error < goal && (!first.has_value() || step < *first)) first = static_cast<int64_t>(step);
  }
  return first;
}

}  // namespace

absl::StatusOr<std::vector<StudyRecord>> ReadPublicStudyRecords(const std::string& root,
                                                                const std::map<std::string, double>& goal_errors) {
  namespace fs = std::filesystem;
  std::vector<StudyRecord> records;
  std::error_code error;
  fs::recursive_directory_iterator it(root, error), end;
  if (error) return records;
  for (; it != end; it.increment(error)) {
    if (error) return absl::InternalError(absl::StrCat("cannot list ", root, ": ", error.message()));
    // <dataset>/<model>/<optimizer>/<batch_size>/study.json is at depth 4; trials lie deeper.
    if (it.depth() >= 4) it.disable_recursion_pending();
    const fs::path& path = it->path();
    if (it.depth() != 4 || path.filename() != "study.json") continue;
    ASSIGN_OR_RETURN(const std::string text, ReadFile(path.string()));
    StudyRecord study;
    RETURN_IF_ERROR(ParseJson(text, &study, path.string()));
    study.set_dataset(ParsityName(study.dataset()));
    study.set_model(ParsityName(study.model()));
    study.set_optimizer(ParsityName(study.optimizer()));
    const auto goal = goal_errors.find(absl::StrCat(study.dataset(), "/", study.model(), "/", study.optimizer()));
    if (goal == goal_errors.end()) continue;
    study.set_sparsity(0);
    study.set_goal_error(goal->second);
    int trials = 0, complete = 0, incomplete = 0, infeasible = 0;
    std::optional<std::pair<int64_t, int>> best;  // (steps, trial id)
    Metaparameters best_parameters;
    for (const fs::directory_entry& entry : fs::directory_iterator(path.parent_path(), error)) {
      int trial_id = 0;
      if (!entry.is_directory() || !absl::SimpleAtoi(entry.path().filename().string(), &trial_id)) continue;
      const std::string metadata_path = (entry.path() / "metadata.json").string();
      if (!PathExists(metadata_path)) continue;
      ASSIGN_OR_RETURN(const std::string metadata_text, ReadFile(metadata_path));
      TrialRecord trial;
      RETURN_IF_ERROR(ParseJson(metadata_text, &trial, metadata_path));
      ++trials;
      if (trial.status() == "INFEASIBLE") ++infeasible;
      if (trial.status() == "INCOMPLETE") ++incomplete;
      if (trial.status() != "COMPLETE") continue;
      ++complete;
      ASSIGN_OR_RETURN(const std::optional<int64_t> steps,
                       FirstStepBelow((entry.path() / "measurements.csv").string(), goal->second));
      if (steps.has_value() && (!best.has_value() || std::make_pair(*steps, trial_id) < *best)) {
        best = std::make_pair(*steps, trial_id);
        best_parameters = trial.parameters();
      }
    }
    if (error)
      return absl::InternalError(absl::StrCat("cannot list ", path.parent_path().string(), ": ", error.message()));
    study.set_trials(trials);
    study.set_complete(complete);
    study.set_incomplete(incomplete);
    study.set_infeasible(infeasible);
    if (best.has_value()) {
      study.set_steps_to_result(best->first);
      study.set_best_trial(best->second);
      *study.mutable_best_parameters() = best_parameters;
    }
    records.push_back(std::move(study));
  }
  std::sort(records.begin(), records.end(), [](const StudyRecord& a, const StudyRecord& b) {
    return std::make_tuple(a.dataset(), a.model(), a.optimizer(), a.batch_size()) <
           std::make_tuple(b.dataset(), b.model(), b.optimizer(), b.batch_size());
  });
  return records;
}

}  // namespace parsity::experiments
