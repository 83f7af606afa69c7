// One trial of a study: its fully resolved TrialSpec (study.proto), the fingerprint that decides whether a stored
// result can be reused, the trainer and pruning configs it implies, and training it with exact early termination.
//
//   const TrialSpec trial = MakeTrialSpec(spec, FingerprintData(dataset), /*sparsity=*/0.9, /*batch_size=*/128,
//                                         /*trial=*/3, TrialMetaparameters(spec, points[3]));
//   // initialize with seed 3, prune with PruningConfigFor(trial), then:
//   ASSIGN_OR_RETURN(TrialRun run, TrainTrial(trial, *network, dataset, &mask, parameters, can_still_win));
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_TRIAL_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_TRIAL_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "experiments/study.pb.h"
#include "pruning/pruning.h"
#include "training/data/dataset.h"
#include "training/nn/network.h"
#include "training/nn/mask.h"
#include "training/trainer/trainer.h"

namespace parsity::experiments {

// The data set's sizes and normalization statistics.
DataFingerprint FingerprintData(const data::Dataset& dataset);

// Trial `trial` (Sobol point and seed `trial`) of the study (sparsity, batch_size) of a valid `spec`, with the
// trial's `parameters` (TrialMetaparameters). Only the fields that the optimizer, schedule and pruning read are set,
// so that unrelated config edits keep stored trials valid. Sparsity 0 trains dense: pruning scheme "none".
TrialSpec MakeTrialSpec(const StudySpec& spec, const DataFingerprint& data, double sparsity, int64_t batch_size,
                        int trial, const Metaparameters& parameters);

// `trial` as JSON with the proto field names ({"dataset":"mnist",...,"batch_size":"128",...}; int64 values are
// strings, as protobuf's JSON mapping writes them): stored as metadata.json's "trial_spec".
std::string TrialSpecJson(const TrialSpec& trial);

// 16 hex digits: FNV-1a (64 bit) of TrialSpecJson(trial).
std::string TrialFingerprint(const TrialSpec& trial);

// What differs between two trial specs, one "modified: goal_error: 0.03 -> 0.02"-style line per field (protobuf's
// MessageDifferencer report), for the message that refuses to resume over another configuration's results.
std::string TrialSpecDifferences(const TrialSpec& stored, const TrialSpec& current);

// The trainer's config for `trial`: single-threaded (a study runs trials in parallel instead).
trainer::TrainerConfig TrainerConfigFor(const TrialSpec& trial);

// The pruning config for `trial` (scheme "none" at sparsity 0).
pruning::PruningConfig PruningConfigFor(const TrialSpec& trial);

struct TrialRun {
  trainer::TrialResult result;
  bool stopped_early = false;  // can_still_win returned false: status INCOMPLETE.
};

// Trains `parameters` (initialized with seed trial.seed() and masked) on `dataset` with `mask` (null: dense) until
// the trial completes, diverges, uses its budget, or can no longer win: after every check at step s < max_steps that
// did not complete it, `can_still_win(NextCheckStep(s, ...))` is asked with the earliest step at which the trial
// could still complete (early_termination.h), and false stops it. `check_early_exit` is the trainer's switch of the
// same name (the same result either way). Errors: those of Trainer::Create.
absl::StatusOr<TrialRun> TrainTrial(const TrialSpec& trial, const nn::Network& network, const data::Dataset& dataset,
                                    const nn::Mask* mask, absl::Span<float> parameters,
                                    const std::function<bool(int64_t earliest_completion_step)>& can_still_win,
                                    bool check_early_exit = false);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_TRIAL_H_
