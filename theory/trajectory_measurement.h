// Measurements along a training trajectory, taken by the trainer's after-step hook: the trajectory Lipschitz
// constant L over each measured step (and optionally the Hessian's top eigenvalue) with full gradients on a fixed
// sample of the training set, and the gradient noise at the step's start point. One library for
// //experiments:measure and the study's theory step (experiments/study_runner/theory_measurements.h): both pick the
// sample, build the oracles and run the estimators the same way, and only format the results their own way.
//
//   data::Examples storage;
//   const data::Examples* sample = SampleExamples(dataset.train, 5000, engine, &storage);
//   ASSIGN_OR_RETURN(TrajectoryOracles oracles,
//                    CreateTrajectoryOracles(network, sample, &dataset.train, &mask, {.threads = 2}, nullptr));
//   hooks.after_step = TrajectoryMeasurementHook(&oracles, schedule, seeds, [&](const TrajectoryMeasurement& m) {...});
#ifndef PARSITY_THEORY_TRAJECTORY_MEASUREMENT_H_
#define PARSITY_THEORY_TRAJECTORY_MEASUREMENT_H_

#include <mpi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "theory/gradient_noise.h"
#include "theory/gradient_oracle.h"
#include "theory/hessian_top_eigenvalue.h"
#include "theory/sharded_gradient_oracle.h"
#include "theory/trajectory_lipschitz.h"
#include "training/data/examples.h"
#include "training/nn/mask.h"
#include "training/nn/network.h"
#include "training/trainer/gradient_evaluator.h"

namespace parsity::theory {

// The examples of the full-gradient estimators: the first `sample` examples of a shuffle of `train` drawn from
// `engine`, copied into `*storage`; or `train` itself (and no draw) when sample is 0 or not below its size.
const data::Examples* SampleExamples(const data::Examples& train, int64_t sample, std::mt19937_64& engine,
                                     data::Examples* storage);

// The gradient oracles of the estimators over one network and mask. In one process (communicator MPI_COMM_NULL)
// they are plain NetworkGradientOracles. Under MPI the full gradients are split over the ranks (ShardedGradientOracle)
// and so is the noise's per-example pass (noise_options: part, parts, per_example_oracle, sum_parts): collective
// calls, so every rank must measure at the same steps with the same arguments.
struct TrajectoryOracles {
  GradientOracle* full = nullptr;        // L and the Hessian, over the sample.
  GradientOracle* noise_mean = nullptr;  // The noise's mean gradient, over the training set.
  GradientNoiseOptions noise_options;    // Sharing of the noise over ranks; sample_size and seed unset.
  // Owners.
  std::unique_ptr<NetworkGradientOracle> local_full;
  std::unique_ptr<NetworkGradientOracle> local_noise;
  std::unique_ptr<ShardedGradientOracle> sharded_full;
  std::unique_ptr<ShardedGradientOracle> sharded_noise;
};
// REQUIRES: network, sample, train and mask (nullable) outlive the result. Errors: those of the oracles' Create.
absl::StatusOr<TrajectoryOracles> CreateTrajectoryOracles(const nn::Network* network, const data::Examples* sample,
                                                          const data::Examples* train, const nn::Mask* mask,
                                                          trainer::EvaluatorOptions evaluator_options,
                                                          MPI_Comm communicator = MPI_COMM_NULL);

// What is measured when. A step s (updates done) is measured when an interval divides it.
struct TrajectorySchedule {
  int64_t lipschitz_interval = 0;  // L every this many steps; 0: never.
  bool hessian = false;            // With L, the Hessian's top eigenvalue at the step's start (warm-started).
  HessianOptions hessian_options;
  int64_t noise_interval = 0;      // The noise every this many steps; 0: never.
  int64_t noise_sample = 0;        // Examples of each noise estimate; 0: all.
  // Also the two-batch noise estimate (EstimateTwoBatchGradientNoise) with these batch sizes, when set.
  std::optional<std::pair<int64_t, int64_t>> two_batch;
  int64_t two_batch_pairs = 10;
};

// The seeds of one measured step's random estimators, drawn by the caller (each tool keeps its own sequence).
struct MeasurementSeeds {
  uint64_t hessian = 0;
  uint64_t noise = 0;
  uint64_t two_batch = 0;
};

// One measured step. An estimate that failed is absent and its error is in `failures` ("trajectory Lipschitz",
// "Hessian eigenvalue", "gradient noise", "two-batch noise"): a failed estimate is a warning, not the end of the
// measurements.
struct TrajectoryMeasurement {
  int64_t step = 0;
  std::optional<TrajectoryLipschitzEstimate> lipschitz;
  std::optional<HessianEigenvalueEstimate> hessian;
  std::optional<GradientNoiseEstimate> noise;
  std::optional<TwoBatchNoiseEstimate> two_batch;
  std::vector<std::pair<std::string, absl::Status>> failures;
  double seconds = 0;  // Spent measuring this step.
};

// The trainer's after_step hook (trainer.h): at every step where L or the noise is due, calls `seeds` once, runs the
// due estimators at the step's start point w_prev (L from w_prev to w), then `report`. REQUIRES: oracles outlives the
// hook.
std::function<void(int64_t, absl::Span<const float>, absl::Span<const float>)> TrajectoryMeasurementHook(
    const TrajectoryOracles* oracles, const TrajectorySchedule& schedule, std::function<MeasurementSeeds()> seeds,
    std::function<void(const TrajectoryMeasurement&)> report);

// The steps at which that hook measures anything (the trainer's after_step_due): the trainer then copies the
// parameters for those steps only.
std::function<bool(int64_t)> TrajectoryMeasurementDue(const TrajectorySchedule& schedule);

}  // namespace parsity::theory

#endif  // PARSITY_THEORY_TRAJECTORY_MEASUREMENT_H_
