// Trains one trial and measures, along its trajectory, the quantities of the paper's theory (theory/README.md, "The
// theory"): the trajectory Lipschitz constant L of the full-batch gradient (theory/trajectory_lipschitz.h), optionally
// the Hessian's top eigenvalue at the same point (theory/hessian_top_eigenvalue.h), and the gradient noise |G|^2,
// tr(Sigma), B_simple (theory/gradient_noise.h). Progress on stderr; on stdout one JSON object per measurement, then a
// summary object as the last line.
//
//   bazel run //experiments:measure -- --dataset=mnist --network=simple_cnn --pruning=snip --sparsity=0.9
//       --optimizer=sgd --learning_rate=0.05 --batch_size=128 --steps=2000 --lipschitz_interval=500
//       --noise_interval=500 --lipschitz_sample=0 --noise_sample=1000 --hessian
//
// At step s (1-based: the s-th update) with s % lipschitz_interval == 0, the step from w_{s-1} to w_s gives L, and
// the Hessian is taken at w_{s-1}; with s % noise_interval == 0 the noise is measured at w_{s-1} too, so that every
// quantity of a line refers to the same point. Gradients are taken through the pruning mask. The full gradients of L
// and of the Hessian are over --lipschitz_sample training examples (0: all of them, as the paper; a fixed random
// subset otherwise), the noise over --noise_sample examples drawn anew at each measurement (default 1,000: per-example
// gradients cost one pass each). Estimator randomness (the subsets, the Hessian's start) comes from --measure_seed.
//
// The same binary runs under an MPI launcher (experiments/README.md, "Data-parallel training"):
//
//   mpirun -np 4 bazel-bin/experiments/measure --batch_size=1024 ... --lipschitz_sample=0 --hessian
//
// Training is data-parallel as in //experiments:train (every rank computes a quarter of each global batch; the
// gradient sums are all-reduced, only the mask's kept entries when pruned). The full gradients of L and the Hessian
// are split the same way (theory/sharded_gradient_oracle.h: rank r takes examples [rN/P, (r+1)N/P) of the
// sample, one all-reduce adds the sums), so each L and Hessian costs every rank 1/P of the work. So does the noise:
// the mean gradient of its sample through the same sharded oracle, its per-example gradients split by position in
// the sample, one all-reduce of a double adding the squared deviations (theory/gradient_noise.h,
// GradientNoiseOptions::parts). Results equal one process's up to float summation order. Only rank 0 prints; the
// summary gains "ranks", "bytes_communicated_per_step" (training's gradient payload per step and rank, 0 for one
// process) and "measure_bytes_communicated" (the sharded full gradients' payload over the run); any rank's error ends
// the whole job.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "experiments/data_fingerprints.h"
#include "experiments/flag_checks.h"
#include "experiments/trial_flags.h"
#include "pruning/mask_report.h"
#include "pruning/pruning.h"
#include "theory/gradient_noise.h"
#include "theory/hessian_top_eigenvalue.h"
#include "theory/trajectory_lipschitz.h"
#include "theory/trajectory_measurement.h"
#include "tools/base/json.h"
#include "tools/base/status_macros.h"
#include "training/data/dataset.h"
#include "training/data/examples.h"
#include "training/distributed/mpi_gradient_reducer.h"
#include "training/distributed/mpi_session.h"
#include "training/nn/layer.h"
#include "training/nn/networks.h"
#include "training/optimizers/optimizer_factory.h"
#include "training/optimizers/schedule.h"
#include "training/trainer/trainer.h"

ABSL_FLAG(int64_t, steps, 2000, "updates to train (all of them: there is no goal error)");
ABSL_FLAG(int64_t, lipschitz_interval, 1000, "measure L every this many steps (0: never)");
ABSL_FLAG(int64_t, noise_interval, 1000, "measure the gradient noise every this many steps (0: never)");
ABSL_FLAG(int64_t, lipschitz_sample, 0,
          "training examples of the full gradients of L and the Hessian; 0 = the whole training set (the paper)");
ABSL_FLAG(int64_t, noise_sample, 1000, "examples whose per-example gradients give the noise; 0 = all (slow)");
ABSL_FLAG(bool, hessian, false, "also estimate the Hessian's top eigenvalue at each L measurement");
ABSL_FLAG(int32_t, hessian_iterations, 20, "power iterations at most (2 full gradients each)");
ABSL_FLAG(double, hessian_tolerance, 1e-2, "relative change of the Rayleigh quotient that stops the iteration");
ABSL_FLAG(uint64_t, measure_seed, 0, "seed of the estimators: example subsets, the Hessian's start vector");

namespace parsity {
namespace {

struct MeasureFlags {
  int64_t lipschitz_interval = 0;
  int64_t noise_interval = 0;
  int64_t lipschitz_sample = 0;
  int64_t noise_sample = 0;
  bool hessian = false;
  theory::HessianOptions hessian_options;
  uint64_t measure_seed = 0;
};

absl::StatusOr<trainer::TrainerConfig> TrainerConfigFromFlags() {
  ASSIGN_OR_RETURN(trainer::TrainerConfig config, experiments::TrainerConfigFromTrialFlags());
  const int64_t steps = absl::GetFlag(FLAGS_steps);
  if (steps < 1) return absl::InvalidArgumentError(absl::StrCat("--steps=", steps, " must be >= 1"));
  config.max_steps = steps;
  config.check_interval = steps;  // One evaluation of the validation set, at the end.
  config.goal_error = 1e-12;      // Never reached before the end: every step runs.
  const absl::Status status = trainer::ValidateTrainerConfig(config, /*training_examples=*/config.batch_size);
  if (!status.ok()) return absl::InvalidArgumentError(absl::StrCat("--", status.message()));
  return config;
}

absl::StatusOr<MeasureFlags> MeasureFlagsFromFlags() {
  MeasureFlags flags;
  flags.lipschitz_interval = absl::GetFlag(FLAGS_lipschitz_interval);
  flags.noise_interval = absl::GetFlag(FLAGS_noise_interval);
  flags.lipschitz_sample = absl::GetFlag(FLAGS_lipschitz_sample);
  flags.noise_sample = absl::GetFlag(FLAGS_noise_sample);
  flags.hessian = absl::GetFlag(FLAGS_hessian);
  flags.hessian_options.max_iterations = absl::GetFlag(FLAGS_hessian_iterations);
  flags.hessian_options.tolerance = absl::GetFlag(FLAGS_hessian_tolerance);
  flags.measure_seed = absl::GetFlag(FLAGS_measure_seed);
  if (flags.lipschitz_interval < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--lipschitz_interval=", flags.lipschitz_interval, " must be >= 0 (0: never)"));
  }
  if (flags.noise_interval < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--noise_interval=", flags.noise_interval, " must be >= 0 (0: never)"));
  }
  if (flags.lipschitz_interval == 0 && flags.noise_interval == 0) {
    return absl::InvalidArgumentError("--lipschitz_interval and --noise_interval are both 0: nothing to measure");
  }
  if (flags.lipschitz_sample < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--lipschitz_sample=", flags.lipschitz_sample, " must be >= 0 (0: the whole training set)"));
  }
  if (flags.noise_sample < 0 || flags.noise_sample == 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--noise_sample=", flags.noise_sample, " must be 0 (the whole training set) or >= 2"));
  }
  if (flags.hessian_options.max_iterations < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--hessian_iterations=", flags.hessian_options.max_iterations, " must be >= 1"));
  }
  if (!(flags.hessian_options.tolerance > 0) || !std::isfinite(flags.hessian_options.tolerance)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--hessian_tolerance=", flags.hessian_options.tolerance, " must be positive and finite"));
  }
  return flags;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Running mean of the finite values of one measured quantity, and how many there were.
struct Mean {
  double sum = 0;
  double max = -std::numeric_limits<double>::infinity();
  int64_t count = 0;
  void Add(double value) {
    if (!std::isfinite(value)) return;
    sum += value;
    max = std::max(max, value);
    ++count;
  }
  void AddTo(absl::string_view name, JsonObject* json, bool with_max = false) const {
    if (count == 0) {
      json->AddNull(absl::StrCat("mean_", name));
      if (with_max) json->AddNull(absl::StrCat("max_", name));
      return;
    }
    json->Add(absl::StrCat("mean_", name), sum / static_cast<double>(count));
    if (with_max) json->Add(absl::StrCat("max_", name), max);
  }
};

JsonArray ToJsonArray(const std::vector<double>& values) {
  JsonArray array;
  for (const double value : values) array.Add(value);
  return array;
}

// The settings that decide which collective calls a rank makes and when: ranks that disagree about them would wait
// for each other forever, so they are compared before the first step.
// One measured step as measure's JSON line (without the run's elapsed "seconds", which the caller adds last).
JsonObject MeasurementJson(const theory::TrajectoryMeasurement& measured) {
  JsonObject line;
  line.Add("step", measured.step);
  if (const auto& lipschitz = measured.lipschitz) {
    line.Add("loss", lipschitz->loss).Add("trajectory_lipschitz", lipschitz->lipschitz);
    line.Add("lipschitz_per_gamma", ToJsonArray(lipschitz->lipschitz_per_gamma));
    line.Add("step_norm", lipschitz->step_norm).Add("full_gradient_norm", lipschitz->gradient_norm);
  } else {
    line.AddNull("loss").AddNull("trajectory_lipschitz");
  }
  if (const auto& hessian = measured.hessian) {
    line.Add("hessian_top_eigenvalue", hessian->eigenvalue).Add("hessian_iterations", hessian->iterations);
    line.Add("hessian_converged", hessian->converged).Add("hessian_residual", hessian->residual);
  } else {
    line.AddNull("hessian_top_eigenvalue");
  }
  if (const auto& noise = measured.noise) {
    line.Add("gradient_norm_squared", noise->gradient_norm_squared);
    line.Add("sample_gradient_norm_squared", noise->sample_gradient_norm_squared);
    line.Add("covariance_trace", noise->covariance_trace).Add("simple_noise_scale", noise->simple_noise_scale);
  } else {
    line.AddNull("gradient_norm_squared").AddNull("covariance_trace").AddNull("simple_noise_scale");
  }
  line.Add("measure_seconds", measured.seconds);
  return line;
}

std::string CollectiveSettings(const trainer::TrainerConfig& config, const MeasureFlags& measure) {
  return absl::StrCat("batch_size=", config.batch_size, " steps=", config.max_steps,
                      " lipschitz_interval=", measure.lipschitz_interval,
                      " lipschitz_sample=", measure.lipschitz_sample, " hessian=", measure.hessian,
                      " hessian_iterations=", measure.hessian_options.max_iterations,
                      " hessian_tolerance=", absl::StrFormat("%.17g", measure.hessian_options.tolerance),
                      " measure_seed=", measure.measure_seed);
}

absl::Status Run(const distributed::MpiSession& session) {
  const bool root = session.rank() == 0;
  ASSIGN_OR_RETURN(const trainer::TrainerConfig config, TrainerConfigFromFlags());
  ASSIGN_OR_RETURN(const pruning::PruningConfig pruning_config, experiments::PruningConfigFromTrialFlags());
  ASSIGN_OR_RETURN(MeasureFlags measure, MeasureFlagsFromFlags());
  ASSIGN_OR_RETURN(const std::unique_ptr<nn::Network> network, experiments::NetworkFromTrialFlags());
  ASSIGN_OR_RETURN(const data::Dataset dataset, experiments::DatasetFromTrialFlags());
  const int64_t train_size = dataset.train.size();
  if (config.batch_size > train_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("--batch_size=", config.batch_size, " is larger than the training set (", train_size, ")"));
  }
  if (measure.lipschitz_sample > train_size) {
    return absl::InvalidArgumentError(absl::StrCat("--lipschitz_sample=", measure.lipschitz_sample,
                                                   " is larger than the training set (", train_size, ")"));
  }
  if (measure.noise_sample > train_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("--noise_sample=", measure.noise_sample, " is larger than the training set (", train_size, ")"));
  }

  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  ASSIGN_OR_RETURN(experiments::PrunedStart pruned_start,
                   experiments::InitializeAndPruneFromTrialFlags(*network, dataset, pruning_config,
                                                                 config.evaluator.threads, root));
  auto& [parameters, mask, mask_report] = pruned_start;

  // The estimators' examples: a fixed subset (or all) for the full gradients, the whole training set for the noise.
  std::mt19937_64 measure_engine(measure.measure_seed);
  data::Examples lipschitz_subset;
  const data::Examples* lipschitz_examples =
      theory::SampleExamples(dataset.train, measure.lipschitz_sample, measure_engine, &lipschitz_subset);

  // Data-parallel: one reducer across the ranks for training, as in train.cc; with a mask that prunes anything, only
  // its kept entries travel.
  std::unique_ptr<distributed::MpiGradientReducer> reducer;
  if (session.size() > 1) {
    ASSIGN_OR_RETURN(reducer,
                     distributed::MpiGradientReducer::Create(session.communicator(), network->parameter_count(),
                                                             mask.pruned_count() > 0 ? &mask : nullptr));
    // Different flags or files on different nodes would hang or measure silently apart: check them, and the pruned
    // initialization, before the first step. The settings first: they also decide the estimators' sample.
    const std::string settings = CollectiveSettings(config, measure);
    RETURN_IF_ERROR(reducer->CheckBytesIdentical(
        settings.data(), settings.size(),
        "settings (--batch_size, --steps, --lipschitz_interval, --lipschitz_sample, --hessian, "
        "--hessian_iterations, --hessian_tolerance, --measure_seed)"));
    // The estimators' sample too: the sharded oracle adds up shards of every rank's own copy of it.
    const std::vector<uint64_t> fingerprints =
        experiments::ExamplesFingerprints({&dataset.train, &dataset.validation, lipschitz_examples});
    RETURN_IF_ERROR(reducer->CheckBytesIdentical(fingerprints.data(), fingerprints.size() * sizeof(uint64_t),
                                                 "data sets (--dataset, --data_dir)"));
    RETURN_IF_ERROR(reducer->CheckParametersIdentical(parameters));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<trainer::Trainer> trainer,
                   trainer::Trainer::Create(config, network.get(), &dataset, &mask, reducer.get()));

  // Under P ranks the full gradients of L and the Hessian are split over the ranks (collective calls: every rank
  // measures at the same steps with the same arguments), and so is the noise: its sample's mean gradient through a
  // sharded oracle, its per-example gradients by positions of the sample, one all-reduce adding the ranks' sums of
  // squared deviations (theory/trajectory_measurement.h).
  const trainer::EvaluatorOptions evaluator_options{.threads = config.evaluator.threads, .max_chunk = 256};
  ASSIGN_OR_RETURN(const theory::TrajectoryOracles oracles,
                   theory::CreateTrajectoryOracles(network.get(), lipschitz_examples, &dataset.train, &mask,
                                                   evaluator_options,
                                                   session.size() > 1 ? session.communicator() : MPI_COMM_NULL));
  if (root) {
    std::fprintf(stderr,
                 "measuring %s on %s, %lld parameters (sparsity %.3f), batch %lld, %lld steps: L every %lld steps on "
                 "%lld examples%s, noise every %lld steps on %lld examples%s\n",
                 network->name().c_str(), dataset.name.c_str(), static_cast<long long>(network->parameter_count()),
                 mask.sparsity(), static_cast<long long>(config.batch_size), static_cast<long long>(config.max_steps),
                 static_cast<long long>(measure.lipschitz_interval), static_cast<long long>(lipschitz_examples->size()),
                 measure.hessian ? " (and the Hessian)" : "", static_cast<long long>(measure.noise_interval),
                 static_cast<long long>(measure.noise_sample == 0 ? train_size : measure.noise_sample),
                 reducer == nullptr
                     ? ""
                     : absl::StrFormat("; over %d ranks, %lld bytes all-reduced per training step, L%s split over "
                                       "the ranks, and the noise",
                                       session.size(),
                                       static_cast<long long>(trainer->exact_sum() != nullptr
                                                                  ? trainer->exact_sum()->payload_bytes()
                                                                  : reducer->payload_bytes_per_step()),
                                       measure.hessian ? " and the Hessian" : "")
                           .c_str());
  }

  Mean lipschitz_mean, hessian_mean, norm_mean, trace_mean, scale_mean;
  int64_t measurements = 0, failures = 0;
  double measure_seconds = 0;
  const auto start = std::chrono::steady_clock::now();
  theory::TrajectorySchedule schedule;
  schedule.lipschitz_interval = measure.lipschitz_interval;
  schedule.hessian = measure.hessian;
  schedule.hessian_options = measure.hessian_options;
  schedule.noise_interval = measure.noise_interval;
  schedule.noise_sample = measure.noise_sample;
  trainer::TrainerHooks hooks;
  hooks.after_step_due = theory::TrajectoryMeasurementDue(schedule);
  hooks.after_step = theory::TrajectoryMeasurementHook(
      &oracles, schedule,
      [&] {
        theory::MeasurementSeeds seeds;
        seeds.hessian = measure_engine();
        seeds.noise = measure_engine();
        return seeds;
      },
      [&](const theory::TrajectoryMeasurement& measured) {
        failures += static_cast<int64_t>(measured.failures.size());
        ++measurements;
        measure_seconds += measured.seconds;
        const std::optional<theory::TrajectoryLipschitzEstimate>& lipschitz = measured.lipschitz;
        const std::optional<theory::HessianEigenvalueEstimate>& hessian = measured.hessian;
        const std::optional<theory::GradientNoiseEstimate>& noise = measured.noise;
        if (lipschitz) lipschitz_mean.Add(lipschitz->lipschitz);
        if (hessian) hessian_mean.Add(hessian->eigenvalue);
        if (noise) {
          norm_mean.Add(noise->gradient_norm_squared);
          trace_mean.Add(noise->covariance_trace);
          scale_mean.Add(noise->simple_noise_scale);
        }
        if (!root) return;
        for (const auto& [what, status] : measured.failures) {
          std::fprintf(stderr, "warning: step %lld: %s: %s\n", static_cast<long long>(measured.step), what.c_str(),
                       std::string(status.message()).c_str());
        }
        std::cout << MeasurementJson(measured).Add("seconds", SecondsSince(start)).ToString() << std::endl;
        std::fprintf(stderr,
                     "step %7lld  L %-10.4g  lambda_max %-10.4g  |G|^2 %-10.4g  tr(Sigma) %-10.4g  B_simple %-10.4g"
                     "  (%.1f s)\n",
                     static_cast<long long>(measured.step), lipschitz ? lipschitz->lipschitz : NAN,
                     hessian ? hessian->eigenvalue : NAN, noise ? noise->gradient_norm_squared : NAN,
                     noise ? noise->covariance_trace : NAN, noise ? noise->simple_noise_scale : NAN, measured.seconds);
      });
  const trainer::TrialResult result = trainer->Train(absl::MakeSpan(parameters), hooks);
  if (!root) return absl::OkStatus();

  JsonObject summary;
  summary.Add("dataset", dataset.name).Add("network", network->name()).Add("optimizer", config.optimizer.name);
  summary.Add("learning_rate", absl::GetFlag(FLAGS_learning_rate)).Add("batch_size", config.batch_size);
  summary.Add("seed", seed).Add("steps", result.steps).Add("status", trainer::TrialStatusName(result.status));
  summary.Add("final_validation_error", result.final_validation_error);
  summary.Add("parameters", network->parameter_count()).Add("pruning", pruning_config.scheme);
  summary.Add("sparsity_target", mask_report.sparsity_target).Add("mask_sparsity", mask.sparsity());
  summary.Add("lipschitz_interval", measure.lipschitz_interval).Add("noise_interval", measure.noise_interval);
  summary.Add("lipschitz_sample", lipschitz_examples->size());
  summary.Add("noise_sample", measure.noise_sample == 0 ? train_size : measure.noise_sample);
  summary.Add("hessian", measure.hessian).Add("measurements", measurements).Add("failed_estimates", failures);
  lipschitz_mean.AddTo("trajectory_lipschitz", &summary, /*with_max=*/true);
  hessian_mean.AddTo("hessian_top_eigenvalue", &summary);
  norm_mean.AddTo("gradient_norm_squared", &summary);
  trace_mean.AddTo("covariance_trace", &summary);
  scale_mean.AddTo("simple_noise_scale", &summary);
  summary.Add("measure_seconds", measure_seconds).Add("wall_seconds", SecondsSince(start));
  summary.Add("threads", config.evaluator.threads);
  // Which build ran (--config=portable: "eigen"), since its results round differently.
  summary.Add("matrix_products", nn::DefaultImplementationName());
  // Data parallelism: the processes, the training gradient payload each sent per step (0 for one process), and the
  // payload of the sharded L and Hessian gradients over the whole run (4 bytes per parameter, or per kept entry, per
  // full gradient).
  summary.Add("ranks", session.size());
  summary.Add("bytes_communicated_per_step",
              reducer != nullptr && result.steps > 0 ? reducer->bytes_communicated() / result.steps : int64_t{0});
  summary.Add("measure_bytes_communicated",
              oracles.sharded_full != nullptr ? oracles.sharded_full->bytes_communicated() : int64_t{0});
  std::cout << summary.ToString() << std::endl;
  return absl::OkStatus();
}

}  // namespace
}  // namespace parsity

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Trains one trial and measures the trajectory Lipschitz constant, the Hessian's top eigenvalue and the gradient "
      "noise along it: one JSON line per measurement, a JSON summary last.");
  absl::ParseCommandLine(argc, argv);
  // One process unless an MPI launcher started this one (mpirun, srun); the session outlives Run's reducers.
  const parsity::distributed::MpiSession session;
  return session.ExitCode("measure", parsity::Run(session));
}
