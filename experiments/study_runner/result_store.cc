#include "experiments/study_runner/result_store.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <map>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "experiments/study_runner/config.h"
#include "experiments/study_runner/search_space.h"
#include "google/protobuf/util/json_util.h"
#include "tools/base/atomic_file.h"
#include "tools/base/csv.h"
#include "tools/base/json.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"
#include "training/trainer/trial_record.h"

namespace parsity::experiments {
absl::Status ParseJson(const std::string& json, google::protobuf::Message* message, const std::string& path,
                       bool strict) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = !strict;
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

// metadata.json ends with this, the digest's 64 hex digits, then "\"}" and a newline.
constexpr absl::string_view kDigestMember = ",\"digest\":\"sha256:";
constexpr size_t kDigestHexDigits = 64;

// metadata.json's text with `digest` (64 hex digits) added as the last member of `metadata_without_digest` (an
// object, "{...}").
std::string WithDigest(absl::string_view metadata_without_digest, absl::string_view digest) {
  absl::string_view body = metadata_without_digest;
  body.remove_suffix(1);  // The closing brace.
  return absl::StrCat(body, kDigestMember, digest, "\"}\n");
}

// Splits metadata.json's text into the object without its digest member and the digest's hex digits; false when the
// text does not end with a digest member of that form.
bool SplitDigest(absl::string_view text, std::string* without_digest, std::string* digest) {
  text = absl::StripTrailingAsciiWhitespace(text);
  if (!absl::ConsumeSuffix(&text, "\"}") || text.size() < kDigestHexDigits) return false;
  const absl::string_view hex = text.substr(text.size() - kDigestHexDigits);
  for (char c : hex) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) || absl::ascii_isupper(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  text.remove_suffix(kDigestHexDigits);
  if (!absl::ConsumeSuffix(&text, kDigestMember)) return false;
  *without_digest = absl::StrCat(text, "}");
  *digest = std::string(hex);
  return true;
}

// A parser's message on one line, shortened.
std::string OneLine(absl::string_view message) {
  std::string line = absl::StrReplaceAll(absl::StripAsciiWhitespace(message), {{"\n", " "}});
  if (line.size() > 160) line = absl::StrCat(line.substr(0, 157), "...");
  return line;
}

// Why a legacy trial's metadata.json and measurements.csv disagree (result_store.h, CheckStoredTrial), or "" when
// they agree. `csv_name` names measurements.csv in messages.
std::string Disagreement(const TrialRecord& record, trainer::TrialStatus status, absl::string_view csv,
                         absl::string_view csv_name) {
  const TrialSpec& spec = record.trial_spec();
  if (TrialFingerprint(spec) != record.config_fingerprint()) {
    return absl::StrCat("its trial_spec hashes to ", TrialFingerprint(spec), ", not to its config_fingerprint ",
                        record.config_fingerprint());
  }
  if (!record.has_checks() || !record.has_steps()) return "metadata.json lacks \"checks\" or \"steps\"";
  if (record.trial() != spec.trial()) {
    return absl::StrCat("metadata.json says trial ", record.trial(), " but its trial_spec trial ", spec.trial());
  }
  if (csv.empty() || csv.back() != '\n') {
    return absl::StrCat(csv_name, " does not end with a complete line (truncated?)");
  }
  constexpr absl::string_view kHeader6 = "step,validation_error,validation_loss,training_loss,examples_seen,seconds";
  const std::vector<absl::string_view> lines = absl::StrSplit(csv.substr(0, csv.size() - 1), '\n');
  size_t columns = 0;
  if (lines[0] == kHeader6) {
    columns = 6;
  } else if (lines[0] == absl::StrCat(kHeader6, ",validation_examples_evaluated")) {
    columns = 7;
  } else {
    return absl::StrCat(csv_name, ": unexpected header \"", OneLine(lines[0]), "\"");
  }
  const int64_t rows = static_cast<int64_t>(lines.size()) - 1;
  if (rows != record.checks()) {
    return absl::StrCat(csv_name, " has ", rows, " rows but metadata.json counts ", record.checks(), " checks");
  }
  const double goal = spec.goal_error();
  const int64_t batch_size = spec.batch_size();
  const int64_t validation_examples = spec.data().validation_examples();
  int64_t previous_step = 0, evaluated_sum = 0, exited_early = 0;
  double last_error = 1.0;
  for (int64_t row = 1; row <= rows; ++row) {
    const std::vector<absl::string_view> fields = absl::StrSplit(lines[row], ',');
    int64_t step = 0, examples_seen = 0, evaluated = 0;
    double error = 0;
    if (fields.size() != columns || !absl::SimpleAtoi(fields[0], &step) || !absl::SimpleAtod(fields[1], &error) ||
        !absl::SimpleAtoi(fields[4], &examples_seen) || (columns == 7 && !absl::SimpleAtoi(fields[6], &evaluated))) {
      return absl::StrCat(csv_name, ":", row + 1, ": cannot be parsed: \"", OneLine(lines[row]), "\"");
    }
    if (step <= previous_step || examples_seen != step * batch_size) {
      return absl::StrCat(csv_name, ":", row + 1, ": step ", step, " after step ", previous_step, ", examples_seen ",
                          examples_seen, " (batch size ", batch_size, ")");
    }
    if (row < rows && error <= goal) {
      return absl::StrCat(csv_name, ":", row + 1, ": validation_error ", JsonNumber(error), " is within the goal ",
                          JsonNumber(goal), " at step ", step, ", but the trial went on (", rows, " rows)");
    }
    if (columns == 7) {
      evaluated_sum += evaluated;
      if (evaluated < validation_examples) ++exited_early;
    }
    previous_step = step;
    last_error = error;
  }
  const int64_t steps = record.steps();
  const int64_t last_step = previous_step;
  if (steps > spec.max_steps()) {
    return absl::StrCat("metadata.json: steps ", steps, " exceed the budget ", spec.max_steps());
  }
  if (status == trainer::TrialStatus::kInfeasible) {
    // Diverged in a training step (steps after the last check, before the next) or at a check (its step).
    if (steps < last_step || steps >= last_step + spec.check_interval()) {
      return absl::StrCat("metadata.json: steps ", steps, " of an INFEASIBLE trial whose last row is at step ",
                          last_step, " (", csv_name, ")");
    }
  } else if (steps != last_step) {
    return absl::StrCat("metadata.json: steps ", steps, " but the last row of ", csv_name, " is at step ", last_step);
  }
  if (record.examples_seen() != steps * batch_size) {
    return absl::StrCat("metadata.json: examples_seen ", record.examples_seen(), " is not steps ", steps,
                        " x batch size ", batch_size);
  }
  if (status == trainer::TrialStatus::kComplete) {
    if (rows == 0 || last_error > goal) {
      return absl::StrCat("metadata.json: COMPLETE, but no row of ", csv_name, " is within the goal ",
                          JsonNumber(goal));
    }
    if (!record.has_steps_to_result() || record.steps_to_result() != last_step) {
      return absl::StrCat("metadata.json: steps_to_result ",
                          record.has_steps_to_result() ? absl::StrCat(record.steps_to_result()) : "null",
                          " but the first row within the goal ", JsonNumber(goal), " is at step ", last_step);
    }
  } else {
    if (record.has_steps_to_result()) {
      return absl::StrCat("metadata.json: steps_to_result ", record.steps_to_result(), " for a ", record.status(),
                          " trial");
    }
    if (status == trainer::TrialStatus::kIncomplete && rows > 0 && last_error <= goal) {
      return absl::StrCat("metadata.json: INCOMPLETE, but the last row of ", csv_name, " (step ", last_step,
                          ") is within the goal ", JsonNumber(goal));
    }
    if (record.stopped_early() && status != trainer::TrialStatus::kIncomplete) {
      return absl::StrCat("metadata.json: stopped_early for a ", record.status(), " trial");
    }
  }
  if (record.final_validation_error() != last_error) {
    return absl::StrCat("metadata.json: final_validation_error ", JsonNumber(record.final_validation_error()),
                        " but the last row of ", csv_name, " has ", JsonNumber(last_error));
  }
  if (columns == 7) {
    if (record.validation_examples_evaluated() != evaluated_sum) {
      return absl::StrCat("metadata.json: validation_examples_evaluated ", record.validation_examples_evaluated(),
                          " but the rows of ", csv_name, " add up to ", evaluated_sum);
    }
    if (record.checks_exited_early() != exited_early) {
      return absl::StrCat("metadata.json: checks_exited_early ", record.checks_exited_early(), " but ", csv_name,
                          " has ", exited_early, " rows below ", validation_examples, " examples");
    }
  }
  return "";
}

StoredTrial Damaged(std::string problem) {
  StoredTrial trial;
  trial.state = StoredTrialState::kDamaged;
  trial.problem = std::move(problem);
  return trial;
}

std::string UtcTimestamp() { return absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()); }

}  // namespace

bool IsTrialFolderName(absl::string_view name) {
  int trial = 0;
  return !name.empty() && absl::ascii_isdigit(static_cast<unsigned char>(name[0])) && absl::SimpleAtoi(name, &trial) &&
         absl::StrCat(trial) == name;
}

bool IsDamagedFolderName(absl::string_view name) {
  const size_t dot = name.find(".damaged.");
  return dot != absl::string_view::npos && IsTrialFolderName(name.substr(0, dot));
}
std::string TrialDigest(absl::string_view metadata_without_digest
, absl::string_view measurements) {
  Sha256 hasher;
  hasher.Update("parsity trial digest v1\n");
  hasher.Update(absl::StrCat("metadata.json ", metadata_without_digest.size(), "\n"));
  hasher.Update(metadata_without_digest);
  hasher.Update(absl::StrCat("measurements.csv ", measurements.size(), "\n"));
  hasher.Update(measurements);
  return hasher.HexDigest();
}

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
  const std::string measurements = trainer::MeasurementsCsv(run.result.checks);
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(trial_directory, "/measurements.csv"), measurements));
  // Last: its presence marks the trial finished.
  const std::string record = metadata.ToString();
  return WriteFileAtomically(absl::StrCat(trial_directory, "/metadata.json"),
                             WithDigest(record, TrialDigest(record, measurements)));
}

absl::StatusOr<StoredTrial> CheckStoredTrial(const std::string& trial_directory, const TrialSpec* expected,
                                             bool adopt_legacy) {
  const std::string path = absl::StrCat(trial_directory, "/metadata.json");
  const std::string csv_path = absl::StrCat(trial_directory, "/measurements.csv");
  absl::StatusOr<std::string> text = ReadFile(path);
  if (absl::IsNotFound(text.status())) return StoredTrial();
  if (!text.ok()) return text.status();
  TrialRecord record;
  if (const absl::Status parsed = ParseJson(*text, &record, path); !parsed.ok()) {
    return Damaged(
        absl::StrCat("metadata.json cannot be parsed (", text->size(), " bytes; truncated or edited?): ",
                     OneLine(absl::StripPrefix(parsed.message(), absl::StrCat(path, ": cannot be parsed: ")))));
  }
  const std::optional<trainer::TrialStatus> status = StatusFromName(record.status());
  if (!status.has_value() || !record.has_trial_spec()) {
    return Damaged("metadata.json is not a trial record (no valid \"status\" or \"trial_spec\")");
  }
  const std::string folder = std::filesystem::path(trial_directory).filename().string();
  if (IsTrialFolderName(folder) && absl::StrCat(record.trial()) != folder) {
    return Damaged(absl::StrCat("metadata.json is the record of trial ", record.trial(), ", not of trial ", folder));
  }
  absl::StatusOr<std::string> csv = ReadFile(csv_path);
  if (absl::IsNotFound(csv.status())) return Damaged("measurements.csv is missing");
  if (!csv.ok()) return csv.status();

  StoredTrial stored;
  if (record.has_digest()) {
    std::string without_digest, recorded;
    if (!SplitDigest(*text, &without_digest, &recorded)) {
      return Damaged(absl::StrCat("metadata.json's digest \"", OneLine(record.digest()),
                                  "\" is not its last member in the form \"sha256:<64 lowercase hex digits>\""));
    }
    const std::string computed = TrialDigest(without_digest, *csv);
    if (computed != recorded) {
      const std::string detail = Disagreement(record, *status, *csv, "measurements.csv");
      return Damaged(absl::StrCat("metadata.json or measurements.csv changed after the trial was written (digest ",
                                  recorded.substr(0, 12), "... recorded, ", computed.substr(0, 12), "... computed)",
                                  detail.empty() ? "" : absl::StrCat(": ", detail)));
    }
    stored.state = StoredTrialState::kVerified;
  }
  if (expected != nullptr && record.config_fingerprint() != TrialFingerprint(*expected)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " was written by another configuration (fingerprint ", record.config_fingerprint(),
                     ", this run's is ", TrialFingerprint(*expected), "); it differs in:\n",
                     TrialSpecDifferences(record.trial_spec(), *expected), "\nUse another --output_dir, or delete ",
                     std::filesystem::path(trial_directory).parent_path().string(), " to rerun that study."));
  }
  if (!record.has_digest()) {
    const std::string disagreement = Disagreement(record, *status, *csv, "measurements.csv");
    if (!disagreement.empty()) {
      return Damaged(absl::StrCat("written before digests, and its files disagree: ", disagreement));
    }
    stored.state = StoredTrialState::kLegacy;
    if (adopt_legacy) {
      const std::string without_digest(absl::StripTrailingAsciiWhitespace(*text));
      if (without_digest.size() < 2 || without_digest.back() != '}') {
        return Damaged("metadata.json does not end with its object's closing brace");
      }
      RETURN_IF_ERROR(WriteFileAtomically(path, WithDigest(without_digest, TrialDigest(without_digest, *csv))));
      stored.state = StoredTrialState::kAdopted;
    }
  }
  const TrialSpec& spec = expected != nullptr ? *expected : record.trial_spec();
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
  summary.validation_examples_in_full_checks = record.checks() * spec.data().validation_examples();
  stored.summary = summary;
  return stored;
}

absl::StatusOr<std::optional<TrialSummary>> ReadFinishedTrial(const std::string& trial_directory,
                                                              const TrialSpec& expected) {
  ASSIGN_OR_RETURN(StoredTrial stored, CheckStoredTrial(trial_directory, &expected, /*adopt_legacy=*/false));
  if (stored.state == StoredTrialState::kDamaged) {
    return absl::DataLossError(absl::StrCat(trial_directory, ": damaged trial: ", stored.problem));
  }
  return stored.summary;
}

absl::StatusOr<std::string> MoveDamagedTrialAside(const std::string& trial_directory) {
  const std::string base = absl::StrCat(trial_directory, ".damaged.", UtcTimestamp());
  std::string target = base;
  for (int suffix = 2; PathExists(target); ++suffix) target = absl::StrCat(base, "-", suffix);
  if (std::rename(trial_directory.c_str(), target.c_str()) != 0) {
    return absl::ErrnoToStatus(errno,
                               absl::StrCat("cannot move the damaged trial '", trial_directory, "' to '", target, "'"));
  }
  return target;
}

int CountDamagedTrials(const std::string& study_directory) {
  std::error_code error;
  int count = 0;
  for (std::filesystem::directory_iterator it(study_directory, error), end; !error && it != end; it.increment(error)) {
    if (IsDamagedFolderName(it->path().filename().string())) ++count;
  }
  return count;
}

absl::StatusOr<int> RemoveStaleTemporaryFiles(const std::string& root) {
  namespace fs = std::filesystem;
  if (!PathExists(root)) return 0;
  ASSIGN_OR_RETURN(int removed, RemoveTemporaryFilesOfDeadWriters(root));
  std::error_code error;
  fs::recursive_directory_iterator it(root, error), end;
  if (error) return absl::InternalError(absl::StrCat("cannot list ", root, ": ", error.message()));
  for (; it != end; it.increment(error)) {
    if (error) return absl::InternalError(absl::StrCat("cannot list ", root, ": ", error.message()));
    if (!it->is_directory(error) || error) {
      error.clear();
      continue;
    }
    if (IsDamagedFolderName(it->path().filename().string())) {
      it.disable_recursion_pending();  // Kept as found.
      continue;
    }
    ASSIGN_OR_RETURN(const int here, RemoveTemporaryFilesOfDeadWriters(it->path().string()));
    removed += here;
  }
  return removed;
}

absl::StatusOr<std::vector<std::string>> FindStudyFiles(const std::string& root) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code error;
  fs::recursive_directory_iterator it(root, error), end;
  if (error) return files;  // Nothing stored yet.
  for (; it != end; it.increment(error)) {
    if (error) return absl::InternalError(absl::StrCat("cannot list ", root, ": ", error.message()));
    // <dataset>/<network>/<optimizer>/sparsity_<s>/<batch_size>/study.json is at depth 5; trials lie deeper.
    if (it.depth() >= 5) it.disable_recursion_pending();
    const fs::path& path = it->path();
    if (it.depth() == 5 && path.filename() == "study.json" &&
        absl::StartsWith(path.parent_path().parent_path().filename().string(), "sparsity_")) {
      files.push_back(path.string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace parsity::experiments
