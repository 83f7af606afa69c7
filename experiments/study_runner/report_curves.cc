#include "experiments/study_runner/report_curves.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "experiments/study_runner/result_store.h"
#include "experiments/study_runner/study_records.h"
#include "tools/base/atomic_file.h"
#include "tools/base/csv.h"
#include "tools/base/status_macros.h"

namespace parsity::experiments::report {

using theory::ScalingCurve;
using theory::ScalingFit;

std::string ShortNumber(double value) { return absl::StrFormat("%.4g", value); }

std::string Workload(const StudyRecord& record) {
  return absl::StrCat(record.dataset(), "/", record.model(), "/", record.optimizer());
}

std::vector<Curve> GroupCurves(const std::vector<StudyRecord>& records) {
  std::vector<Curve> curves;
  for (const StudyRecord& record : records) {
    if (curves.empty() || curves.back().workload != Workload(record) || curves.back().sparsity != record.sparsity()) {
      curves.emplace_back();
      curves.back().workload = Workload(record);
      curves.back().sparsity = record.sparsity();
    }
    Curve& curve = curves.back();
    curve.all_batch_sizes.push_back(record.batch_size());
    if (record.has_steps_to_result() && record.steps_to_result() > 0) {
      curve.observed.batch_sizes.push_back(static_cast<double>(record.batch_size()));
      curve.observed.steps.push_back(static_cast<double>(record.steps_to_result()));
    }
  }
  return curves;
}

absl::Status FitCurves(std::vector<Curve>& curves, int bootstrap_resamples) {
  for (Curve& curve : curves) {
    if (curve.observed.batch_sizes.size() < 2) {
      curve.note = absl::StrCat("not fitted: ", curve.observed.batch_sizes.size(),
                                " batch size(s) with a steps-to-result (a fit needs >= 2)");
      continue;
    }
    theory::ScalingFitOptions options;
    options.bootstrap_resamples = bootstrap_resamples;
    absl::StatusOr<ScalingFit> fit = theory::FitScalingCurve(curve.observed, options);
    if (!fit.ok()) {
      return absl::Status(fit.status().code(), absl::StrCat(curve.workload, " sparsity ", ShortNumber(curve.sparsity),
                                                            ": fit: ", fit.status().message()));
    }
    curve.fit = *std::move(fit);
  }
  return absl::OkStatus();
}

// The dense curve of a workload: its lowest sparsity.
const Curve* DenseCurve(const std::vector<Curve>& curves, const std::string& workload) {
  const Curve* dense = nullptr;
  for (const Curve& curve : curves) {
    if (curve.workload == workload && (dense == nullptr || curve.sparsity < dense->sparsity)) dense = &curve;
  }
  return dense;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

std::optional<double> PredictedAt(const Curve& curve, double batch_size) {
  if (!curve.predicted) return std::nullopt;
  for (size_t i = 0; i < curve.predicted->batch_sizes.size(); ++i) {
    if (curve.predicted->batch_sizes[i] == batch_size) return curve.predicted->steps[i];
  }
  return std::nullopt;
}

std::optional<double> ObservedAt(const Curve& curve, double batch_size) {
  for (size_t i = 0; i < curve.observed.batch_sizes.size(); ++i) {
    if (curve.observed.batch_sizes[i] == batch_size) return curve.observed.steps[i];
  }
  return std::nullopt;
}

std::vector<std::string> Workloads(const std::vector<Curve>& curves) {
  std::vector<std::string> workloads;
  for (const Curve& curve : curves) {
    if (std::find(workloads.begin(), workloads.end(), curve.workload) == workloads.end()) {
      workloads.push_back(curve.workload);
    }
  }
  return workloads;
}

// Median B_simple over a curve's noise measurements (the infinite ones, where |G|^2 <= 0, count as the largest).
std::optional<double> MedianNoiseScale(const Curve& curve) {
  if (curve.noise.empty()) return std::nullopt;
  std::vector<double> scales;
  for (const NoisePoint& point : curve.noise) scales.push_back(point.simple_noise_scale);
  return Median(scales);
}

namespace {

// Reads DIR/<workload>/sparsity_<s>/lipschitz.csv (header, then step,L rows) when present.
absl::Status ReadLipschitz(const std::string& dir, Curve& curve) {
  const std::string path =
      absl::StrCat(dir, "/", curve.workload, "/", SparsityDirectoryName(curve.sparsity), "/lipschitz.csv");
  if (!PathExists(path)) return absl::OkStatus();
  ASSIGN_OR_RETURN(const CsvTable table, ReadCsv(path));
  for (size_t row = 0; row < table.rows.size(); ++row) {
    const std::vector<std::string>& fields = table.rows[row];
    int64_t step = 0;
    double lipschitz = 0;
    if (fields.size() < 2 || !absl::SimpleAtoi(fields[0], &step) || !absl::SimpleAtod(fields[1], &lipschitz) ||
        !std::isfinite(lipschitz) || lipschitz <= 0) {
      return absl::DataLossError(
          absl::StrCat(table.Where(row), ": expected step,L with L > 0, got \"", table.lines[row], "\""));
    }
    curve.lipschitz.emplace_back(step, lipschitz);
  }
  if (curve.lipschitz.empty()) return absl::OkStatus();
  double sum = 0, max = 0;
  for (const auto& [step, l] : curve.lipschitz) {
    sum += l;
    max = std::max(max, l);
  }
  curve.lipschitz_mean = sum / curve.lipschitz.size();
  curve.lipschitz_max = max;
  return absl::OkStatus();
}

// Reads DIR/<workload>/sparsity_<s>/gradient_noise.csv when present (columns found by the header's names).
absl::Status ReadNoise(const std::string& dir, Curve& curve) {
  const std::string path =
      absl::StrCat(dir, "/", curve.workload, "/", SparsityDirectoryName(curve.sparsity), "/gradient_noise.csv");
  if (!PathExists(path)) return absl::OkStatus();
  ASSIGN_OR_RETURN(const CsvTable table, ReadCsv(path));
  if (table.header.empty()) return absl::DataLossError(absl::StrCat(path, ": empty (expected a header line)"));
  const auto column = [&](absl::string_view name) -> absl::StatusOr<size_t> {
    const std::optional<size_t> index = table.Column(name);
    if (!index) return absl::DataLossError(absl::StrCat(path, ": the header has no column \"", name, "\""));
    return *index;
  };
  ASSIGN_OR_RETURN(const size_t step_column, column("step"));
  ASSIGN_OR_RETURN(const size_t norm_column, column("gradient_norm_squared"));
  ASSIGN_OR_RETURN(const size_t trace_column, column("covariance_trace"));
  ASSIGN_OR_RETURN(const size_t scale_column, column("simple_noise_scale"));
  for (size_t row = 0; row < table.rows.size(); ++row) {
    const std::vector<std::string>& fields = table.rows[row];
    NoisePoint point;
    const auto number = [&](size_t index, double* value) {
      if (index >= fields.size()) return false;
      // B_simple is +infinity when |G|^2 <= 0: "inf" (CsvNumber), or "null" in files written before CsvNumber.
      if (fields[index] == "null") {
        *value = std::numeric_limits<double>::infinity();
        return true;
      }
      return absl::SimpleAtod(fields[index], value);
    };
    if (step_column >= fields.size() || !absl::SimpleAtoi(fields[step_column], &point.step) ||
        !number(norm_column, &point.gradient_norm_squared) || !number(trace_column, &point.covariance_trace) ||
        !number(scale_column, &point.simple_noise_scale)) {
      return absl::DataLossError(absl::StrCat(table.Where(row), ": cannot be parsed: \"", table.lines[row], "\""));
    }
    curve.noise.push_back(point);
  }
  return absl::OkStatus();
}

// REQUIRES: both curves have L measurements.
LipschitzComparison CompareLipschitz(const Curve& dense, const Curve& sparse) {
  LipschitzComparison comparison;
  comparison.up_to_step = std::min(dense.lipschitz.back().first, sparse.lipschitz.back().first);
  const auto window = [&](const Curve& curve) {
    std::vector<double> values;
    for (const auto& [step, l] : curve.lipschitz) {
      if (step <= comparison.up_to_step) values.push_back(l);
    }
    return values;
  };
  const auto mean = [](const std::vector<double>& values) {
    double sum = 0;
    for (double value : values) sum += value;
    return sum / values.size();
  };
  const std::vector<double> dense_values = window(dense), sparse_values = window(sparse);
  comparison.dense_count = static_cast<int>(dense_values.size());
  comparison.sparse_count = static_cast<int>(sparse_values.size());
  comparison.dense_median = Median(dense_values);
  comparison.sparse_median = Median(sparse_values);
  comparison.dense_mean = mean(dense_values);
  comparison.sparse_mean = mean(sparse_values);
  std::map<int64_t, double> dense_at(dense.lipschitz.begin(), dense.lipschitz.end());
  for (const auto& [step, l] : sparse.lipschitz) {
    const auto it = dense_at.find(step);
    if (it == dense_at.end()) continue;
    ++comparison.matched;
    if (l > it->second) ++comparison.sparse_above;
  }
  return comparison;
}

absl::Status Predict(std::vector<Curve>& curves) {
  for (Curve& curve : curves) {
    const Curve* dense = DenseCurve(curves, curve.workload);
    if (dense == &curve || dense->lipschitz.empty() || curve.lipschitz.empty()) continue;
    curve.lipschitz_vs_dense = CompareLipschitz(*dense, curve);
    if (dense->observed.steps.empty() || curve.observed.steps.empty()) continue;
    ASSIGN_OR_RETURN(ScalingCurve predicted,
                     theory::PredictSparseCurve(dense->observed, curve.lipschitz_vs_dense->dense_median,
                                                curve.lipschitz_vs_dense->sparse_median));
    absl::StatusOr<theory::PredictionScore> score = theory::ScoreCurvePrediction(predicted, curve.observed);
    if (!score.ok()) continue;  // No shared batch size.
    curve.predicted = std::move(predicted);
    curve.score = *score;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Curve>> LoadCurves(const std::string& dir, int bootstrap_resamples,
                                              std::vector<StudyRecord>* records_out) {
  ASSIGN_OR_RETURN(std::vector<StudyRecord> records, ReadStudyRecords(dir));
  if (records.empty()) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": no study.json under <dataset>/<network>/<optimizer>/sparsity_<s>/<batch_size>/"));
  }
  std::vector<Curve> curves = GroupCurves(records);
  RETURN_IF_ERROR(FitCurves(curves, bootstrap_resamples));
  for (Curve& curve : curves) {
    RETURN_IF_ERROR(ReadLipschitz(dir, curve));
    RETURN_IF_ERROR(ReadNoise(dir, curve));
  }
  RETURN_IF_ERROR(Predict(curves));
  if (records_out != nullptr) *records_out = std::move(records);
  return curves;
}

}  // namespace parsity::experiments::report
