#include "experiments/study_runner/store_verification.h"

#include <filesystem>
#include <map>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "experiments/study_runner/aggregation.h"
#include "experiments/study_runner/records.pb.h"
#include "experiments/study_runner/result_store.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_macros.h"

namespace parsity::experiments {

absl::StatusOr<StoreVerification> VerifyStore(const std::string& root) {
  namespace fs = std::filesystem;
  StoreVerification verification;
  std::vector<std::string> problems;  // The first 10 of problem_count.
  int problem_count = 0;
  std::error_code error;
  ASSIGN_OR_RETURN(const std::vector<std::string> study_files, FindStudyFiles(root));
  for (const fs::path study_file : study_files) {
    ++verification.studies;
    const std::string study_directory = study_file.parent_path().string();
    std::map<int, TrialSummary> trials;
    bool has_trial_folders = false;
    std::vector<std::string> folders;
    for (fs::directory_iterator entry(study_directory, error), none; !error && entry != none; entry.increment(error)) {
      const std::string name = entry->path().filename().string();
      if (IsTrialFolderName(name) && entry->is_directory()) folders.push_back(name);
      if (IsDamagedFolderName(name)) ++verification.damaged_moved_aside;
    }
    if (error) return absl::InternalError(absl::StrCat("cannot list ", study_directory, ": ", error.message()));
    for (const std::string& folder : folders) {
      has_trial_folders = true;
      const std::string trial_directory = absl::StrCat(study_directory, "/", folder);
      ASSIGN_OR_RETURN(const StoredTrial stored, CheckStoredTrial(trial_directory, nullptr, /*adopt_legacy=*/false));
      switch (stored.state) {
        case StoredTrialState::kNotFinished:
          continue;
        case StoredTrialState::kDamaged:
          ++problem_count;
          if (problems.size() < 10) problems.push_back(absl::StrCat(trial_directory, ": ", stored.problem));
          continue;
        case StoredTrialState::kVerified:
          ++verification.verified;
          break;
        case StoredTrialState::kLegacy:
        case StoredTrialState::kAdopted:
          ++verification.legacy;
          break;
      }
      ++verification.trials;
      trials[stored.summary->trial] = *stored.summary;
    }
    if (!has_trial_folders) continue;
    ASSIGN_OR_RETURN(const std::string text, ReadFile(study_file.string()));
    StudyRecord record;
    RETURN_IF_ERROR(ParseJson(text, &record, study_file.string()));
    std::vector<TrialSummary> counted;
    std::vector<int> absent;  // Neither stored nor damaged in place: moved aside, or never trained.
    bool damaged_in_place = false;
    for (int trial = 0; trial < record.trials(); ++trial) {
      const auto found = trials.find(trial);
      if (found != trials.end()) {
        counted.push_back(found->second);
      } else if (PathExists(absl::StrCat(study_directory, "/", trial, "/metadata.json"))) {
        damaged_in_place = true;  // Reported above.
      } else {
        absent.push_back(trial);
      }
    }
    if (!absent.empty()) {
      ++problem_count;
      if (problems.size() < 10) {
        problems.push_back(absl::StrCat(study_file.string(), " counts ", record.trials(), " trials but trial",
                                        absent.size() > 1 ? "s " : " ", absl::StrJoin(absent, ", "),
                                        absent.size() > 1 ? " are" : " is",
                                        " not stored (moved aside as damaged and not retrained yet, or deleted)"));
      }
      continue;
    }
    if (damaged_in_place) continue;
    const StudyResult result = AggregateStudy(counted);
    const auto text_of = [](bool has, int64_t value) { return has ? absl::StrCat(value) : std::string("null"); };
    const std::string stored_result =
        absl::StrCat("steps_to_result ", text_of(record.has_steps_to_result(), record.steps_to_result()),
                     ", best_trial ", text_of(record.has_best_trial(), record.best_trial()), ", ", record.complete(),
                     " complete, ", record.incomplete(), " incomplete, ", record.infeasible(), " infeasible");
    const std::string trials_result = absl::StrCat(
        "steps_to_result ", text_of(result.steps_to_result.has_value(), result.steps_to_result.value_or(0)),
        ", best_trial ", text_of(result.best_trial.has_value(), result.best_trial.value_or(0)), ", ", result.complete,
        " complete, ", result.incomplete, " incomplete, ", result.infeasible, " infeasible");
    if (stored_result != trials_result) {
      ++problem_count;
      if (problems.size() < 10) {
        problems.push_back(absl::StrCat(study_file.string(), " says ", stored_result, " but its trials give ",
                                        trials_result, " (stale or edited)"));
      }
    }
  }
  if (problem_count > 0) {
    return absl::DataLossError(absl::StrCat(
        root, ": damaged results, not aggregated (", problem_count, " damaged trial", problem_count > 1 ? "s" : "",
        " or stale study.json):\n  ", absl::StrJoin(problems, "\n  "),
        problem_count > static_cast<int>(problems.size()) ? "\n  ..." : "",
        "\nRun the study again with the same command: it moves damaged trials aside (<trial>.damaged.<time>), "
        "retrains them and rewrites study.json."));
  }
  return verification;
}

}  // namespace parsity::experiments
