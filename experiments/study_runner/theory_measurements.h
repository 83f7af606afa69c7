// The theory's measurements after a run's studies (theory/README.md, "The theory"): for each sparsity, the best trial
// of spec.theory().remeasure_batch_size() is retrained (same seed, metaparameters, mask: the same trajectory) with the
// trajectory Lipschitz estimator (theory/trajectory_lipschitz.h) every theory.lipschitz_interval steps, until it
// completes (or its budget ends), and at the same points (w_prev of each L estimate) the gradient noise
// (theory/gradient_noise.h: per-example over `noise_sample` training examples drawn anew each time, and the two-batch
// estimator with 10 pairs when theory.noise_batch_sizes is set). The estimates are written atomically to
//   DIR/<dataset>/<network>/<optimizer>/sparsity_<s>/lipschitz.csv       "step,lipschitz", one row per estimate
//   DIR/<dataset>/<network>/<optimizer>/sparsity_<s>/gradient_noise.csv  "step,loss,gradient_norm_squared,
//       covariance_trace,simple_noise_scale,sample_size,two_batch_gradient_norm_squared,two_batch_covariance_trace,
//       two_batch_simple_noise_scale" (the two-batch columns empty without noise_batch_sizes)
// which the report (report.h) reads. When both files exist they are kept (resume); a sparsity whose study has no best
// trial is skipped with a note.
//
//   ASSIGN_OR_RETURN(JsonObject theory, MeasureTheory(spec, dataset, "studies/quick", {}));
//
// The full gradients are over `lipschitz_sample` training examples, a fixed random subset (the paper uses all of
// them; 0 here means all too).
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_THEORY_MEASUREMENTS_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_THEORY_MEASUREMENTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "experiments/study.pb.h"
#include "experiments/study_runner/records.pb.h"
#include "tools/base/json.h"
#include "training/data/dataset.h"

namespace parsity::experiments {

struct TheoryMeasurementOptions {
  int64_t lipschitz_sample = 5000;  // Training examples of each full gradient; 0: all (the paper).
  int64_t noise_sample = 1000;      // Examples of each per-example noise estimate (one pass each); 0: all.
  uint64_t sample_seed = 0;         // Seeds the subset's std::mt19937_64.
  int threads = 2;                  // Of the gradient evaluations.
  bool progress = true;             // Lines on stderr.
};

// The study.json record of `spec`'s workload (data set, network AND optimizer: one output folder may hold several
// workloads) at `sparsity` and `batch_size`, or null when there is none or more than one.
const StudyRecord* FindStudyRecord(const std::vector<StudyRecord>& records, const StudySpec& spec, double sparsity,
                                   int64_t batch_size);

// True when `spec` asks for the measurements: theory.remeasure_batch_size set and theory.lipschitz_interval > 0.
bool WantsTheoryMeasurements(const StudySpec& spec);

// Measures as above into `root` (a run's output_dir holding the studies of the valid, resolved `spec`). Returns
//   {"remeasure_batch_size":32,"lipschitz_interval":50,"lipschitz_sample":5000,
//    "noise_sample":1000,
//    "sparsities":[{"sparsity":0,"file":"...","noise_file":"...","status":"measured"|"kept"|"skipped: ...",
//                   "measurements":8,"noise_measurements":8}]}
// Errors: DataLoss naming an unparsable study.json; those of pruning, Trainer::Create and the oracle; the write's.
absl::StatusOr<JsonObject> MeasureTheory(const StudySpec& spec, const data::Dataset& dataset, const std::string& root,
                                         const TheoryMeasurementOptions& options);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_THEORY_MEASUREMENTS_H_
