// Trains one trial and prints its steps-to-result: progress on stderr, one JSON object as the last stdout line.
//
//   bazel run //experiments:train -- --dataset=mnist --network=simple_cnn --optimizer=sgd --learning_rate=0.05
//       --batch_size=128 --goal_error=0.02 --max_steps=40000 --check_interval=100 --seed=0
//
// The same binary trains data-parallel under an MPI launcher (experiments/README.md, "Data-parallel training"):
//
//   mpirun -np 4 bazel-bin/experiments/train --batch_size=1024 ... --pruning=snip --sparsity=0.9
//
// Every rank loads the data, initializes and prunes alike, and computes a quarter of each global batch; the gradient
// sums are all-reduced (only the mask's kept entries, unless --sparse_allreduce=false). With --exact_gradient_sum each
// rank computes whole leaves of the batch and exact 128-bit sums are all-reduced: bit-identical results for any
// number of ranks and threads (training/README.md, "Exact gradient sums"). Only rank 0 prints progress and the JSON
// and writes files; any rank's error ends the whole job.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
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
#include "tools/base/atomic_file.h"
#include "tools/base/json.h"
#include "training/nn/layer.h"
#include "training/nn/sparse_plan.h"
#include "tools/base/status_macros.h"
#include "training/data/dataset.h"
#include "training/distributed/mpi_gradient_reducer.h"
#include "training/distributed/mpi_session.h"
#include "training/nn/networks.h"
#include "training/optimizers/optimizer_factory.h"
#include "training/optimizers/schedule.h"
#include "training/trainer/trainer.h"
#include "training/trainer/trial_record.h"

ABSL_FLAG(double, goal_error, 0.02, "validation error that completes the trial, in (0, 1)");
ABSL_FLAG(int64_t, max_steps, 40000, "step budget");
ABSL_FLAG(int64_t, check_interval, 100, "steps between evaluations of the whole validation set");
ABSL_FLAG(bool, check_early_exit, false,
          "stop each check once more than goal_error x N validation examples are misclassified (the same result; "
          "such checks record a lower bound on the error); default: every check evaluates the whole set");
ABSL_FLAG(std::string, measurements_csv, "", "write every check to this CSV file (its folder must exist)");
ABSL_FLAG(std::string, sparse_kernels, "auto",
          "with a pruning mask: auto (each layer's products run on the kept weights only where that measured faster), "
          "dense (the masked-dense kernels) or sparse (always the sparse kernels); results are identical");
ABSL_FLAG(bool, sparse_allreduce, true,
          "under mpirun with a pruning mask: all-reduce only the kept gradient entries (false: the whole buffer)");

namespace parsity {
namespace {

absl::StatusOr<trainer::TrainerConfig> ConfigFromFlags() {
  ASSIGN_OR_RETURN(trainer::TrainerConfig config, experiments::TrainerConfigFromTrialFlags());
  config.max_steps = absl::GetFlag(FLAGS_max_steps);
  config.check_interval = absl::GetFlag(FLAGS_check_interval);
  config.check_early_exit = absl::GetFlag(FLAGS_check_early_exit);
  config.goal_error = absl::GetFlag(FLAGS_goal_error);
  absl::StatusOr<nn::KernelSelection> selection = nn::ParseKernelSelection(absl::GetFlag(FLAGS_sparse_kernels));
  if (!selection.ok()) return absl::InvalidArgumentError(absl::StrCat("--sparse_kernels: ", selection.status().message()));
  config.sparse_kernels = *selection;
  // Checks that do not need the data set run first, so that a bad flag fails before a slow load.
  RETURN_IF_ERROR(trainer::ValidateTrainerConfig(config, /*training_examples=*/config.batch_size));
  return config;
}

// A file named by a flag is written into an existing folder only: a mistyped path must not create folders
// (anywhere up to /) and leave the results where nobody looks.
absl::Status CheckOutputFolder(const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  if (const absl::Status folder = CheckParentFolderExists(path); !folder.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--measurements_csv=", path, ": ", folder.message()));
  }
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(absl::StrCat("--measurements_csv=", path, " is a directory"));
  }
  return absl::OkStatus();
}

absl::Status Run(const distributed::MpiSession& session) {
  const bool root = session.rank() == 0;
  ASSIGN_OR_RETURN(const trainer::TrainerConfig config, ConfigFromFlags());
  if (root) std::cerr << experiments::EarlyExitWarning("train", config.check_early_exit);
  ASSIGN_OR_RETURN(const pruning::PruningConfig pruning_config, experiments::PruningConfigFromTrialFlags());
  RETURN_IF_ERROR(CheckOutputFolder(absl::GetFlag(FLAGS_measurements_csv)));
  ASSIGN_OR_RETURN(const std::unique_ptr<nn::Network> network, experiments::NetworkFromTrialFlags());
  ASSIGN_OR_RETURN(const data::Dataset dataset, experiments::DatasetFromTrialFlags());
  ASSIGN_OR_RETURN(experiments::PrunedStart pruned_start,
                   experiments::InitializeAndPruneFromTrialFlags(*network, dataset, pruning_config,
                                                                 config.evaluator.threads, root));
  auto& [parameters, mask, mask_report] = pruned_start;
  // Data-parallel: one reducer across the ranks; with a mask that prunes anything, only its kept entries travel.
  std::unique_ptr<distributed::MpiGradientReducer> reducer;
  if (session.size() > 1) {
    const bool sparse = absl::GetFlag(FLAGS_sparse_allreduce) && mask.pruned_count() > 0;
    ASSIGN_OR_RETURN(reducer, distributed::MpiGradientReducer::Create(
                                  session.communicator(), network->parameter_count(), sparse ? &mask : nullptr));
    // Different files on different nodes would train silently apart: check the data and the pruned initialization.
    const std::vector<uint64_t> fingerprints = experiments::ExamplesFingerprints({&dataset.train, &dataset.validation});
    RETURN_IF_ERROR(reducer->CheckBytesIdentical(fingerprints.data(), fingerprints.size() * sizeof(uint64_t),
                                                 "data sets (--dataset, --data_dir)"));
    RETURN_IF_ERROR(reducer->CheckParametersIdentical(parameters));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<trainer::Trainer> trainer,
                   trainer::Trainer::Create(config, network.get(), &dataset, &mask, reducer.get()));
  if (root) {
    // The exact sum all-reduces its 128-bit entries (trainer.h), the float sum the reducer's payload.
    const int64_t bytes_per_step = reducer == nullptr                   ? 0
                                   : trainer->exact_sum() != nullptr ? trainer->exact_sum()->payload_bytes()
                                                                     : reducer->payload_bytes_per_step();
    std::fprintf(stderr, "training %s on %s (%zu train / %zu validation examples), %lld parameters, batch %lld%s\n",
                 network->name().c_str(), dataset.name.c_str(), static_cast<size_t>(dataset.train.size()),
                 static_cast<size_t>(dataset.validation.size()), static_cast<long long>(network->parameter_count()),
                 static_cast<long long>(config.batch_size),
                 reducer == nullptr ? ""
                                    : absl::StrFormat(" over %d ranks, %lld bytes all-reduced per step", session.size(),
                                                      static_cast<long long>(bytes_per_step))
                                          .c_str());
  }

  const std::string measurements_csv = root ? absl::GetFlag(FLAGS_measurements_csv) : "";
  std::vector<trainer::Check> checks;
  trainer::TrainerHooks hooks;
  hooks.on_check = [&](const trainer::Check& check) {
    if (!root) return true;
    const bool exited = check.validation_examples_evaluated < check.validation_examples;
    std::fprintf(stderr, "step %7lld  validation error %s%.4f  loss %.4f  training loss %.4f  %.1f s%s\n",
                 static_cast<long long>(check.step), exited ? ">=" : "", check.validation_error, check.validation_loss,
                 check.mean_training_loss, check.seconds,
                 exited ? absl::StrCat("  (early exit after ", check.validation_examples_evaluated, " examples)").c_str()
                        : "");
    checks.push_back(check);
    // Written at every check, atomically, so that an interrupted run keeps what it measured.
    if (!measurements_csv.empty()) {
      const absl::Status written = WriteFileAtomically(measurements_csv, trainer::MeasurementsCsv(checks));
      if (!written.ok()) std::fprintf(stderr, "warning: %s\n", std::string(written.message()).c_str());
    }
    return true;
  };
  const trainer::TrialResult result = trainer->Train(absl::MakeSpan(parameters), hooks);
  if (!measurements_csv.empty()) {
    RETURN_IF_ERROR(WriteFileAtomically(measurements_csv, trainer::MeasurementsCsv(result.checks)));
  }
  if (!root) return absl::OkStatus();

  JsonObject summary;
  summary.Add("dataset", dataset.name).Add("network", network->name()).Add("optimizer", config.optimizer.name);
  summary.Add("learning_rate", absl::GetFlag(FLAGS_learning_rate)).Add("batch_size", config.batch_size);
  summary.Add("seed", static_cast<uint64_t>(absl::GetFlag(FLAGS_seed))).Add("goal_error", config.goal_error);
  trainer::AddTrialResult(result, &summary);
  summary.Add("parameters", network->parameter_count()).Add("threads", config.evaluator.threads);
  summary.Add("pruning", pruning_config.scheme);
  // Also inside "mask", with the per-layer kept/total counts; repeated at the top level for scripts.
  summary.Add("mask", pruning::MaskReportJson(mask_report));
  // Per weighted layer: its density and the kernels its products ran at this batch size.
  summary.Add("sparse_kernels", nn::KernelSelectionName(config.sparse_kernels));
  // Which build ran (--config=portable: "eigen"), since its results round differently.
  summary.Add("matrix_products", nn::DefaultImplementationName());
  summary.Add("check_early_exit", config.check_early_exit).Add("exact_gradient_sum", config.exact_gradient_sum);
  summary.AddRaw("layers", nn::SparsePlanJson(trainer->sparse_plan() != nullptr
                                                  ? trainer->sparse_plan()->Describe(config.batch_size)
                                                  : nn::DescribeDense(*network, config.batch_size)));
  summary.Add("sparsity_target", mask_report.sparsity_target).Add("sparsity_realized", mask_report.sparsity_realized);
  // Data parallelism: the processes, and the gradient payload each sent per step (0 for one process).
  summary.Add("ranks", session.size()).Add("sparse_allreduce", reducer != nullptr && reducer->sparse());
  summary.Add("bytes_communicated_per_step",
              reducer != nullptr && result.steps > 0 ? reducer->bytes_communicated() / result.steps : int64_t{0});
  std::cout << summary.ToString() << std::endl;
  return absl::OkStatus();
}

}  // namespace
}  // namespace parsity

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Trains one trial and prints its steps-to-result as JSON (last stdout line).");
  absl::ParseCommandLine(argc, argv);
  // One process unless an MPI launcher started this one (mpirun, srun); the session outlives Run's reducer.
  const parsity::distributed::MpiSession session;
  return session.ExitCode("train", parsity::Run(session));
}
