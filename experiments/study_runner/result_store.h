// The result tree of a run: Shallue et al.'s public layout (dataset/model/optimizer/batch_size/) with a sparsity
// level added, and one table for the whole directory. Everything a report needs is in these files:
//
//   DIR/study.lock                                           the lock of the run that owns DIR (runner.h)
//   DIR/steps_to_result.csv                                  one row per study found under DIR
//   DIR/<dataset>/<network>/<optimizer>/study_spec.textproto the resolved spec of the last run (profile applied)
//   DIR/<dataset>/<network>/<optimizer>/sparsity_<s>/<batch_size>/study.json          the study's result
//   DIR/<dataset>/<network>/<optimizer>/sparsity_<s>/<batch_size>/<trial>/metadata.json   one trial
//   DIR/<dataset>/<network>/<optimizer>/sparsity_<s>/<batch_size>/<trial>/measurements.csv  its checks
//   DIR/<dataset>/<network>/<optimizer>/sparsity_<s>/<batch_size>/<trial>.damaged.<time>/   a damaged trial, kept
//
// <s> is the sparsity with 6 significant digits (sparsity_0, sparsity_0.9). Every file is written atomically
// (tools/base/atomic_file.h), and a trial's metadata.json is written last: it exists iff the trial finished, which
// is what lets a killed run resume (CheckStoredTrial). Examples of each file: experiments/study_runner/README.md.
//
// Integrity. metadata.json's last member is "digest":"sha256:<64 hex digits>", the SHA-256 (tools/base/sha256.h) of
//   "parsity trial digest v1\n"
//   "metadata.json <n>\n"    followed by the n bytes of metadata.json's object without the digest member, as written
//   "measurements.csv <m>\n" followed by the m bytes of measurements.csv
// (TrialDigest). It thus covers every field of the record as written (trial, seed, metaparameters, status,
// steps_to_result, steps, checks, ..., the config fingerprint, the TrialSpec, the mask report) and the measurements,
// byte for byte: any edit, truncation or replacement of either file changes it. The bytes are hashed as stored, never
// re-serialized, so a later change of number formatting cannot invalidate old digests. Trials written before digests
// existed ("legacy") have none; they are verified instead by the agreement of their two files (CheckStoredTrial) and
// then adopted: the digest of their unchanged bytes is appended to metadata.json. A SHA-256 resists accidental and
// deliberate edits alike; it is not a signature (whoever can write the files can recompute it).
//
//   RETURN_IF_ERROR(WriteTrial(TrialDirectory(study_dir, 3), trial_spec, parameters, point, run, mask_report));
//   ASSIGN_OR_RETURN(StoredTrial stored, CheckStoredTrial(TrialDirectory(study_dir, 3), &trial_spec, true));
//   RETURN_IF_ERROR(WriteStepsToResultCsv(root));
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_RESULT_STORE_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_RESULT_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "experiments/study.pb.h"
#include "experiments/study_runner/aggregation.h"
#include "experiments/study_runner/records.pb.h"
#include "experiments/study_runner/trial.h"
#include "google/protobuf/message.h"
#include "pruning/mask_report.h"

namespace parsity::experiments {

// Parses the JSON text of the file `path` into `message`, ignoring keys the message does not have unless `strict`
// (the schema tests: every key written must be a field of records.proto). Errors: DataLoss naming `path`.
absl::Status ParseJson(const std::string& json, google::protobuf::Message* message, const std::string& path,
                       bool strict = false);

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
//    "stopped_by_caller":true,"checks":24,"checks_exited_early":20,"validation_examples_evaluated":3100,
//    "wall_seconds":30.2,"stopped_early":true,"examples_saved_at_most":614400,"config_fingerprint":"3f2a...",
//    "trial_spec":{...},"mask":{...} or null,"digest":"sha256:9c1e..."}
// (status and the keys after it up to wall_seconds are trial_record.h's AddTrialResult; digest: "Integrity" above).
// Errors: the writes'.
absl::Status WriteTrial(const std::string& trial_directory, const TrialSpec& trial, const Metaparameters& parameters,
                        absl::Span<const double> sobol_point, const TrialRun& run,
                        const std::optional<pruning::MaskReport>& mask_report);

// The digest ("Integrity" above) of a metadata.json object without its digest member and of measurements.csv:
// 64 lowercase hex digits.
std::string TrialDigest(absl::string_view metadata_without_digest, absl::string_view measurements);

// What a trial folder holds (CheckStoredTrial).
enum class StoredTrialState {
  kNotFinished,  // No metadata.json: the trial never finished (measurements.csv alone is a run killed in between).
  kVerified,     // Its digest matches metadata.json and measurements.csv.
  kLegacy,       // No digest (written before digests), and its files agree: usable as is.
  kAdopted,      // kLegacy, and its digest has just been added to metadata.json (adopt_legacy).
  kDamaged,      // Unusable: `problem` says why. Move it aside (MoveDamagedTrialAside) and train it again.
};

struct StoredTrial {
  StoredTrialState state = StoredTrialState::kNotFinished;
  std::optional<TrialSummary> summary;  // Set for kVerified, kLegacy and kAdopted.
  std::string problem;                  // kDamaged: what is wrong, naming the file and the field or value.
};

// Checks the trial stored in `trial_directory` (a folder named by its trial index). A trial is damaged when
// metadata.json cannot be parsed or is not a trial record, when it names another trial index than its folder's, when
// measurements.csv is missing, when its digest does not match the two files, or, for a legacy trial without a
// digest, when its files disagree. Legacy agreement: the TrialSpec hashes to the recorded config fingerprint;
// measurements.csv has the header of 6 columns (before validation_examples_evaluated existed) or 7, complete lines,
// one row per check ("checks"), rising steps, examples_seen = step x batch size; the last row's step equals "steps"
// (an INFEASIBLE trial that diverged in a training step stopped within one check interval after it); every row
// before the last has validation_error > goal (the trainer stops at the first check within the goal); a COMPLETE
// trial's last row is within the goal at step steps_to_result, an INCOMPLETE one's is not, and only COMPLETE trials
// have a steps_to_result; final_validation_error is the last row's (1 without rows); with 7 columns the rows add up
// to validation_examples_evaluated and checks_exited_early. With `adopt_legacy`, a legacy trial that agrees gets its
// digest (metadata.json rewritten atomically, its other bytes unchanged) and is returned as kAdopted.
// `expected`, when given, is the TrialSpec the current config resolves for the trial. Errors (not damage): a file
// that exists but cannot be read (permissions, I/O); FailedPrecondition when an intact record was written for
// another TrialSpec than `expected` (another config, profile or data set), naming the file, both fingerprints, the
// fields that differ, and what to do; the write of an adoption.
absl::StatusOr<StoredTrial> CheckStoredTrial(const std::string& trial_directory, const TrialSpec* expected,
                                             bool adopt_legacy);

// The trial stored in `trial_directory`, checked (CheckStoredTrial, without adopting): std::nullopt when it has not
// finished. Errors: CheckStoredTrial's, and DataLoss naming the problem of a damaged trial.
absl::StatusOr<std::optional<TrialSummary>> ReadFinishedTrial(const std::string& trial_directory,
                                                              const TrialSpec& expected);

// Renames the folder of a damaged trial to "<trial_directory>.damaged.<UTC time, 20261201T101500Z>" (with "-2", "-3",
// ... when that exists), deleting nothing, and returns the new path. Errors: the rename's, naming both paths.
absl::StatusOr<std::string> MoveDamagedTrialAside(const std::string& trial_directory);

// The folders of damaged trials moved aside in `study_directory` ("<trial>.damaged.<time>"); 0 when it does not exist.
int CountDamagedTrials(const std::string& study_directory);

// Removes WriteFileAtomically's temporary files left by writers no longer running on this host (killed) anywhere in
// the result tree under `root`, except in damaged trials' folders, and returns how many. Only for the owner of the
// tree (the holder of its lock) before it starts writing. Errors: RemoveTemporaryFilesOfDeadWriters', and a tree that
// cannot be listed.
absl::StatusOr<int> RemoveStaleTemporaryFiles(const std::string& root);

// Whether a folder name inside a study folder is a trial's ("0", "17") or a damaged trial's moved aside
// ("3.damaged.20261201T101500Z").
bool IsTrialFolderName(absl::string_view name);
bool IsDamagedFolderName(absl::string_view name);

// The study.json files of the tree: DIR/*/*/*/sparsity_*/*/study.json (depth 5; trial folders below are not
// searched), sorted by path. Errors: Internal when a folder cannot be listed; none when `root` does not exist.
absl::StatusOr<std::vector<std::string>> FindStudyFiles(const std::string& root);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_RESULT_STORE_H_
