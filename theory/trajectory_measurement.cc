#include "theory/trajectory_measurement.h"

#include <chrono>
#include <utility>

#include "tools/base/status_macros.h"
#include "training/data/shuffle.h"

namespace parsity::theory {

const data::Examples* SampleExamples(const data::Examples& train, int64_t sample, std::mt19937_64& engine,
                                     data::Examples* storage) {
  if (sample <= 0 || sample >= train.size()) return &train;
  std::vector<int64_t> indices = data::ShuffledIndices(train.size(), engine);
  indices.resize(sample);
  *storage = data::GatherExamples(train, indices);
  return storage;
}

absl::StatusOr<TrajectoryOracles> CreateTrajectoryOracles(const nn::Network* network, const data::Examples* sample,
                                                          const data::Examples* train, const nn::Mask* mask,
                                                          trainer::EvaluatorOptions evaluator_options,
                                                          MPI_Comm communicator) {
  TrajectoryOracles oracles;
  ASSIGN_OR_RETURN(oracles.local_full, NetworkGradientOracle::Create(network, sample, mask, evaluator_options));
  ASSIGN_OR_RETURN(oracles.local_noise, NetworkGradientOracle::Create(network, train, mask, evaluator_options));
  oracles.full = oracles.local_full.get();
  oracles.noise_mean = oracles.local_noise.get();
  int ranks = 1;
  if (communicator != MPI_COMM_NULL) MPI_Comm_size(communicator, &ranks);
  if (ranks == 1) return oracles;
  ASSIGN_OR_RETURN(oracles.sharded_full, ShardedGradientOracle::Create(communicator, oracles.local_full.get()));
  ASSIGN_OR_RETURN(oracles.sharded_noise,
                   ShardedGradientOracle::Create(communicator, oracles.local_noise.get()));
  oracles.full = oracles.sharded_full.get();
  oracles.noise_mean = oracles.sharded_noise.get();
  int rank = 0;
  MPI_Comm_rank(communicator, &rank);
  oracles.noise_options.part = rank;
  oracles.noise_options.parts = ranks;
  oracles.noise_options.per_example_oracle = oracles.local_noise.get();
  oracles.noise_options.sum_parts = [communicator](double own) {
    double total = 0;
    MPI_Allreduce(&own, &total, 1, MPI_DOUBLE, MPI_SUM, communicator);
    return total;
  };
  return oracles;
}

namespace {

bool LipschitzDue(const TrajectorySchedule& schedule, int64_t step) {
  return schedule.lipschitz_interval > 0 && step % schedule.lipschitz_interval == 0;
}

bool NoiseDue(const TrajectorySchedule& schedule, int64_t step) {
  return schedule.noise_interval > 0 && step % schedule.noise_interval == 0;
}

}  // namespace

std::function<bool(int64_t)> TrajectoryMeasurementDue(const TrajectorySchedule& schedule) {
  return [=](int64_t step) { return LipschitzDue(schedule, step) || NoiseDue(schedule, step); };
}

std::function<void(int64_t, absl::Span<const float>, absl::Span<const float>)> TrajectoryMeasurementHook(
    const TrajectoryOracles* oracles, const TrajectorySchedule& schedule, std::function<MeasurementSeeds()> seeds,
    std::function<void(const TrajectoryMeasurement&)> report) {
  // The Hessian's warm start: the previous measurement's eigenvector, kept with the hook.
  auto hessian_start = std::make_shared<std::vector<float>>();
  return [=](int64_t step, absl::Span<const float> previous, absl::Span<const float> current) {
    const bool lipschitz_due = LipschitzDue(schedule, step);
    const bool noise_due = NoiseDue(schedule, step);
    if (!lipschitz_due && !noise_due) return;
    const auto start = std::chrono::steady_clock::now();
    const MeasurementSeeds seed = seeds();
    TrajectoryMeasurement measurement;
    measurement.step = step;
    if (lipschitz_due) {
      absl::StatusOr<TrajectoryLipschitzEstimate> lipschitz =
          EstimateTrajectoryLipschitz(*oracles->full, previous, current);
      if (lipschitz.ok()) {
        measurement.lipschitz = *std::move(lipschitz);
      } else {
        measurement.failures.emplace_back("trajectory Lipschitz", lipschitz.status());
      }
      if (schedule.hessian) {
        HessianOptions options = schedule.hessian_options;
        options.seed = seed.hessian;
        options.start = *hessian_start;
        absl::StatusOr<HessianEigenvalueEstimate> top =
            EstimateHessianTopEigenvalue(*oracles->full, previous, options);
        if (top.ok()) {
          measurement.hessian = *std::move(top);
          *hessian_start = measurement.hessian->eigenvector;
        } else {
          measurement.failures.emplace_back("Hessian eigenvalue", top.status());
        }
      }
    }
    if (noise_due) {
      GradientNoiseOptions options = oracles->noise_options;
      options.sample_size = schedule.noise_sample;
      options.seed = seed.noise;
      absl::StatusOr<GradientNoiseEstimate> noise =
          EstimateGradientNoise(*oracles->noise_mean, previous, options);
      if (noise.ok()) {
        measurement.noise = *std::move(noise);
      } else {
        measurement.failures.emplace_back("gradient noise", noise.status());
      }
      if (schedule.two_batch.has_value()) {
        absl::StatusOr<TwoBatchNoiseEstimate> two = EstimateTwoBatchGradientNoise(
            *oracles->noise_mean, previous,
            {.small_batch = schedule.two_batch->first, .big_batch = schedule.two_batch->second,
             .pairs = schedule.two_batch_pairs, .seed = seed.two_batch});
        if (two.ok()) {
          measurement.two_batch = *std::move(two);
        } else {
          measurement.failures.emplace_back("two-batch noise", two.status());
        }
      }
    }
    measurement.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report(measurement);
  };
}

}  // namespace parsity::theory
