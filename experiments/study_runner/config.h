// Study configs: text-format StudySpec files (experiments/study.proto) parsed, merged with a named profile and
// validated at the edge, so that the runner can assume a valid spec. Every error names the file, the field and the
// problem: "experiments/configs/x.textproto: batch_sizes[3]: 0 is not a positive batch size".
//
//   ASSIGN_OR_RETURN(StudySpec spec, LoadStudySpec(path, /*profile=*/"quick", /*source=*/path));
//   for (int64_t batch_size : spec.batch_sizes()) Use(MaxStepsFor(spec, batch_size));
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_CONFIG_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiments/study.pb.h"
#include "google/protobuf/message.h"
#include "training/data/dataset.h"

namespace parsity::experiments {

// Parses text-format `text` as a StudySpec. Errors: InvalidArgument "source:line:column: message" (1-based) for
// syntax errors, unknown fields and unknown enum values.
absl::StatusOr<StudySpec> ParseStudySpec(absl::string_view text, absl::string_view source);

// Merges `overrides` into `base` (both of the same message type) with the profile semantics of study.proto: MergeFrom,
// except that a repeated field set (non-empty) in `overrides` replaces `base`'s list, at any depth.
void MergeOverrides(const google::protobuf::Message& overrides, google::protobuf::Message* base);

// Limits a config must stay within, checked before anything is allocated for it (ValidateStudySpec).
inline constexpr int32_t kMaxTrials = 100000;             // trials per study
inline constexpr int64_t kMaxSteps = 1000000000;          // max_steps, and each batch size's
inline constexpr int64_t kMaxChecks = 1000000;            // max_steps / check_interval: checks kept per trial
inline constexpr int64_t kMaxBatchSize = int64_t{1} << 24;  // each of batch_sizes
inline constexpr int kMaxListEntries = 64;                // entries of batch_sizes and of sparsities

// The names of `spec`'s profiles, in file order.
std::vector<std::string> ProfileNames(const StudySpec& spec);

// `spec` with profile `profile` merged in (MergeOverrides) and its `profiles` cleared; `profile` empty gives the base
// spec. Does not validate the result. Errors: InvalidArgument "source: profiles[i]..." for a profile without a name,
// a duplicate name or overrides that hold profiles; NotFound "source: no profile 'x'; known profiles: a, b" when
// `profile` is not among them.
absl::StatusOr<StudySpec> ApplyProfile(const StudySpec& spec, absl::string_view profile, absl::string_view source);

// Checks a resolved spec (profile applied) on its own: every field in range, the searched metaparameters used by the
// optimizer and schedule and the fixed ones valid, the network's input shape that of the data set, distinct batch
// sizes and sparsities, a pruning scheme able to reach every sparsity, batch_size_settings and theory settings that
// refer to listed batch sizes, and the limits above. A sparsity of -0.0 counts as 0 (so [0, -0.0] lists 0 twice).
// Errors: InvalidArgument "source: field: problem", naming the first bad field with its index ("search[1].max",
// "batch_sizes[3]").
absl::Status ValidateStudySpec(const StudySpec& spec, absl::string_view source);

// The checks that need the loaded data: every batch size at most `training_examples`. Errors as ValidateStudySpec.
absl::Status ValidateStudySpecForData(const StudySpec& spec, int64_t training_examples, absl::string_view source);
// The same for a loaded data set, and its examples of the network's input shape (before any trial, rather than at
// the first): "source: dataset: data set 'mnist' has examples of shape 32x32x3, network 'simple_cnn' takes 28x28x1".
absl::Status ValidateStudySpecForData(const StudySpec& spec, const data::Dataset& dataset, absl::string_view source);

// Reads `path`, parses it, applies `profile` and validates the result. `source` names the file in errors (the path
// as the user wrote it); once a profile is applied, errors say "source (profile quick): ...". Errors: NotFound when
// the file does not exist; those of ParseStudySpec, ApplyProfile and ValidateStudySpec.
absl::StatusOr<StudySpec> LoadStudySpec(const std::string& path, absl::string_view profile, absl::string_view source);

// The step budget and check interval of `batch_size`: its batch_size_settings entry when it has one, else the
// spec-wide values.
int64_t MaxStepsFor(const StudySpec& spec, int64_t batch_size);
int64_t CheckIntervalFor(const StudySpec& spec, int64_t batch_size);

// Whether the workload's optimizer and schedule read `parameter` (LEARNING_RATE always; MOMENTUM with "momentum" and
// "nesterov"; DECAY_STEPS and END_FACTOR with "linear_decay").
bool UsesMetaparameter(const StudySpec& spec, Metaparameter parameter);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_CONFIG_H_
