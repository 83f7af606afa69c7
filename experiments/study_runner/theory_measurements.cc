#include "experiments/study_runner/theory_measurements.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "experiments/study_runner/records.pb.h"
#include "experiments/study_runner/result_store.h"
#include "experiments/study_runner/study_records.h"
#include "experiments/study_runner/trial.h"
#include "pruning/pruning.h"
#include "theory/gradient_noise.h"
#include "theory/trajectory_measurement.h"
#include "tools/base/aligned_vector.h"
#include "tools/base/atomic_file.h"
#include "tools/base/csv.h"
#include "tools/base/json.h"
#include "tools/base/status_macros.h"
#include "training/data/examples.h"
#include "training/nn/networks.h"
#include "training/trainer/trainer.h"

namespace parsity::experiments {

const StudyRecord* FindStudyRecord(const std::vector<StudyRecord>& records, const StudySpec& spec, double sparsity,
                                   int64_t batch_size) {
  const StudyRecord* found = nullptr;
  for (const StudyRecord& record : records) {
    if (record.dataset() == spec.dataset() && record.model() == spec.network() &&
        record.optimizer() == spec.optimizer().name() && record.sparsity() == sparsity &&
        record.batch_size() == batch_size) {
      if (found != nullptr) return nullptr;  // Ambiguous: not this workload's one study.
      found = &record;
    }
  }
  return found;
}

bool WantsTheoryMeasurements(const StudySpec& spec) {
  return spec.has_theory() && spec.theory().has_remeasure_batch_size() && spec.theory().lipschitz_interval() > 0;
}

absl::StatusOr<JsonObject> MeasureTheory(const StudySpec& spec, const data::Dataset& dataset, const std::string& root,
                                         const TheoryMeasurementOptions& options) {
  const int64_t batch_size = spec.theory().remeasure_batch_size();
  const int64_t interval = spec.theory().lipschitz_interval();
  ASSIGN_OR_RETURN(const std::vector<StudyRecord> records, ReadStudyRecords(root));

  // The fixed subset of the full gradients.
  const int64_t train_size = dataset.train.size();
  const int64_t noise_sample = options.noise_sample == 0 ? train_size : std::min(options.noise_sample, train_size);
  data::Examples subset;
  std::mt19937_64 sample_engine(options.sample_seed);
  const data::Examples* examples =
      theory::SampleExamples(dataset.train, options.lipschitz_sample, sample_engine, &subset);

  JsonArray sparsities;
  for (const double sparsity : spec.sparsities()) {
    const std::string directory = absl::StrCat(WorkloadDirectory(root, spec), "/", SparsityDirectoryName(sparsity));
    const std::string path = absl::StrCat(directory, "/lipschitz.csv");
    const std::string noise_path = absl::StrCat(directory, "/gradient_noise.csv");
    JsonObject entry;
    entry.Add("sparsity", sparsity).Add("file", path).Add("noise_file", noise_path);
    if (PathExists(path) && PathExists(noise_path)) {
      sparsities.Add(entry.Add("status", "kept"));
      continue;
    }
    const StudyRecord* study = FindStudyRecord(records, spec, sparsity, batch_size);
    if (study == nullptr || !study->has_best_trial()) {
      sparsities.Add(entry.Add("status", absl::StrCat("skipped: the study at B=", batch_size,
                                                      study == nullptr ? " was not found" : " has no best trial")));
      continue;
    }
    const TrialSpec trial = MakeTrialSpec(spec, FingerprintData(dataset), sparsity, batch_size, study->best_trial(),
                                          study->best_parameters());
    ASSIGN_OR_RETURN(std::unique_ptr<nn::Network> network, nn::CreateNetwork(trial.network()));
    AlignedFloatVector parameters(network->parameter_count());
    trainer::InitializeParameters(*network, trial.seed(), absl::MakeSpan(parameters));
    std::unique_ptr<nn::Mask> mask;
    if (sparsity > 0) {
      ASSIGN_OR_RETURN(nn::Mask computed, pruning::ComputeMask(PruningConfigFor(trial), *network, parameters,
                                                                       dataset.train, trial.seed(), options.threads));
      mask = std::make_unique<nn::Mask>(std::move(computed));
      mask->Apply(absl::MakeSpan(parameters));
    }
    const trainer::EvaluatorOptions evaluator_options{.threads = options.threads, .max_chunk = 256};
    ASSIGN_OR_RETURN(const theory::TrajectoryOracles oracles,
                     theory::CreateTrajectoryOracles(network.get(), examples, &dataset.train, mask.get(),
                                                     evaluator_options));
    ASSIGN_OR_RETURN(std::unique_ptr<trainer::Trainer> trainer,
                     trainer::Trainer::Create(TrainerConfigFor(trial), network.get(), &dataset, mask.get()));
    if (options.progress) {
      std::fprintf(stderr,
                   "theory: sparsity %g, B=%lld, trial %d (%lld steps to result): L every %lld steps on %lld "
                   "examples, the gradient noise on %lld\n",
                   sparsity, static_cast<long long>(batch_size), study->best_trial(),
                   static_cast<long long>(study->steps_to_result()), static_cast<long long>(interval),
                   static_cast<long long>(examples->size()), static_cast<long long>(noise_sample));
    }
    std::string csv = "step,lipschitz\n";
    std::string noise_csv =
        "step,loss,gradient_norm_squared,covariance_trace,simple_noise_scale,sample_size,"
        "two_batch_gradient_norm_squared,two_batch_covariance_trace,two_batch_simple_noise_scale\n";
    std::mt19937_64 noise_engine(options.sample_seed + 1);
    int measurements = 0, noise_measurements = 0;
    const bool two_batch = spec.theory().noise_batch_sizes_size() == 2;
    theory::TrajectorySchedule schedule;
    schedule.lipschitz_interval = interval;
    schedule.noise_interval = interval;  // The noise at the same points as the L estimates' starts, w_prev.
    schedule.noise_sample = noise_sample;
    if (two_batch) schedule.two_batch = {{spec.theory().noise_batch_sizes(0), spec.theory().noise_batch_sizes(1)}};
    const auto start = std::chrono::steady_clock::now();
    trainer::TrainerHooks hooks;
    hooks.after_step_due = theory::TrajectoryMeasurementDue(schedule);
    hooks.after_step = theory::TrajectoryMeasurementHook(
        &oracles, schedule,
        [&] {
          theory::MeasurementSeeds seeds;
          seeds.noise = noise_engine();
          if (two_batch) seeds.two_batch = noise_engine();
          return seeds;
        },
        [&](const theory::TrajectoryMeasurement& measured) {
          // A failed estimate is a warning, not the end of the measurements: the next one may succeed.
          for (const auto& [what, status] : measured.failures) {
            std::fprintf(stderr, "theory: warning: sparsity %g step %lld: %s: %s\n", sparsity,
                         static_cast<long long>(measured.step), what.c_str(), std::string(status.message()).c_str());
          }
          if (measured.lipschitz) {
            absl::StrAppend(&csv, measured.step, ",", CsvNumber(measured.lipschitz->lipschitz), "\n");
            ++measurements;
          }
          if (!measured.noise) return;
          const theory::GradientNoiseEstimate& noise = *measured.noise;
          absl::StrAppend(&noise_csv, measured.step, ",", CsvNumber(noise.loss), ",",
                          CsvNumber(noise.gradient_norm_squared), ",", CsvNumber(noise.covariance_trace), ",",
                          CsvNumber(noise.simple_noise_scale), ",", noise.sample_size);
          if (measured.two_batch) {
            absl::StrAppend(&noise_csv, ",", CsvNumber(measured.two_batch->gradient_norm_squared), ",",
                            CsvNumber(measured.two_batch->covariance_trace), ",",
                            CsvNumber(measured.two_batch->simple_noise_scale), "\n");
          } else {
            absl::StrAppend(&noise_csv, ",,,\n");
          }
          ++noise_measurements;
        });
    const trainer::TrialResult result = trainer->Train(absl::MakeSpan(parameters), hooks);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    RETURN_IF_ERROR(WriteFileAtomically(noise_path, noise_csv));
    RETURN_IF_ERROR(WriteFileAtomically(path, csv));
    if (options.progress) {
      std::fprintf(stderr, "theory: sparsity %g: %d estimates in %.1f s -> %s\n", sparsity, measurements, seconds,
                   path.c_str());
    }
    entry.Add("status", "measured")
        .Add("measurements", measurements)
        .Add("noise_measurements", noise_measurements)
        .Add("steps", result.steps)
        .Add("seconds", seconds);
    sparsities.Add(entry);
  }
  JsonObject summary;
  summary.Add("remeasure_batch_size", batch_size)
      .Add("lipschitz_interval", interval)
      .Add("lipschitz_sample", examples->size())
      .Add("noise_sample", noise_sample)
      .Add("sparsities", sparsities);
  return summary;
}

}  // namespace parsity::experiments
