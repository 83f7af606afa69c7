// The curves of a results directory, as the report sees them: one per (workload, sparsity), with its observed
// steps-to-result per batch size, the fit S(B) = S_min (1 + B_crit / B), the L and gradient-noise measurements along
// its best trial, and, for sparse curves, the prediction from the dense curve and the L ratio (theory/README.md,
// "The theory"). report.h writes them out; report_verdicts.h judges the paper's findings on them.
//
//   ASSIGN_OR_RETURN(std::vector<report::Curve> curves, report::LoadCurves(dir, 1000, &records));
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_CURVES_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_CURVES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "experiments/study_runner/records.pb.h"
#include "theory/scaling_model.h"

namespace parsity::experiments::report {

// The L of a sparse network against the dense one's over their common steps: the measurements at steps up to the
// shorter trajectory's last one. L falls as training goes on, so whole trajectories of different lengths are not
// comparable; single-step estimates have spikes (a step along a sharp direction), so the median is the summary.
struct LipschitzComparison {
  int64_t up_to_step = 0;
  int dense_count = 0, sparse_count = 0;  // Measurements at steps <= up_to_step.
  double dense_median = 0, sparse_median = 0;
  double dense_mean = 0, sparse_mean = 0;
  int matched = 0;       // Steps both measured.
  int sparse_above = 0;  // Of those, where the sparse L is the larger.
  double ratio() const { return sparse_median / dense_median; }
};

// One row of a gradient_noise.csv (theory_measurements.h): the per-example estimates at one step.
struct NoisePoint {
  int64_t step = 0;
  double gradient_norm_squared = 0;  // |G|^2, unbiased (may be <= 0).
  double covariance_trace = 0;       // tr(Sigma).
  double simple_noise_scale = 0;     // B_simple = tr(Sigma) / |G|^2 (+inf when |G|^2 <= 0).
};

// One (workload, sparsity) curve of a results directory.
struct Curve {
  std::string workload;
  double sparsity = 0;
  std::vector<int64_t> all_batch_sizes;  // Every study, with or without a steps-to-result.
  theory::ScalingCurve observed;                 // The studies with a steps-to-result.
  std::optional<theory::ScalingFit> fit;
  std::string note;  // Why there is no fit.
  std::optional<double> lipschitz_mean, lipschitz_max;
  std::vector<std::pair<int64_t, double>> lipschitz;      // (step, L).
  std::optional<LipschitzComparison> lipschitz_vs_dense;  // Sparse curves with L for both.
  std::vector<NoisePoint> noise;                          // gradient_noise.csv, by step.
  std::optional<theory::ScalingCurve> predicted;
  std::optional<theory::PredictionScore> score;
};

// `value` to 4 significant digits ("%.4g"), for prose.
std::string ShortNumber(double value);

// "dataset/network/optimizer" of a study record.
std::string Workload(const StudyRecord& record);

// The records grouped into one curve per (workload, sparsity), in the records' order (sorted by ReadStudyRecords).
std::vector<Curve> GroupCurves(const std::vector<StudyRecord>& records);

// Fits S(B) = S_min (1 + B_crit / B) to every curve with >= 2 points; the others get a note. Errors: the fit's, naming
// the curve.
absl::Status FitCurves(std::vector<Curve>& curves, int bootstrap_resamples);

// The dense curve of a workload: its lowest sparsity.
const Curve* DenseCurve(const std::vector<Curve>& curves, const std::string& workload);

// The median of `values` (the mean of the middle two for an even count). REQUIRES: values not empty.
double Median(std::vector<double> values);

// The predicted steps of `curve` at `batch_size`, if predicted there.
std::optional<double> PredictedAt(const Curve& curve, double batch_size);

// The observed steps-to-result of `curve` at `batch_size`, if any.
std::optional<double> ObservedAt(const Curve& curve, double batch_size);

// The distinct workloads of `curves`, in order of first appearance.
std::vector<std::string> Workloads(const std::vector<Curve>& curves);

// Median B_simple over a curve's noise measurements (the infinite ones, where |G|^2 <= 0, count as the largest).
std::optional<double> MedianNoiseScale(const Curve& curve);

// The curves of results directory `dir`: every study.json grouped, fitted (`bootstrap_resamples`), with L and the
// gradient noise read from <workload>/sparsity_<s>/{lipschitz,gradient_noise}.csv and the sparse curves' predictions
// from the dense L ratio. The records, sorted, go to `records_out` when not null. Errors: NotFound without any
// study.json; DataLoss naming an unparsable file; those of the fits.
absl::StatusOr<std::vector<Curve>> LoadCurves(const std::string& dir, int bootstrap_resamples,
                                              std::vector<StudyRecord>* records_out);

}  // namespace parsity::experiments::report

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_CURVES_H_
