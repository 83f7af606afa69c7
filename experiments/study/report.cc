#include "experiments/study/report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "experiments/study/public_results.h"
#include "experiments/study/records.pb.h"
#include "experiments/study/result_store.h"
#include "theory/scaling_model.h"
#include "tools/base/atomic_file.h"
#include "tools/base/csv.h"
#include "tools/base/json.h"
#include "tools/base/status_macros.h"

namespace parsity::experiments {
namespace {

using theory::ScalingCurve;
using theory::ScalingFit;

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
  ScalingCurve observed;                 // The studies with a steps-to-result.
  std::optional<ScalingFit> fit;
  std::string note;  // Why there is no fit.
  std::optional<double> lipschitz_mean, lipschitz_max;
  std::vector<std::pair<int64_t, double>> lipschitz;      // (step, L).
  std::optional<LipschitzComparison> lipschitz_vs_dense;  // Sparse curves with L for both.
  std::vector<NoisePoint> noise;                          // gradient_noise.csv, by step.
  std::optional<ScalingCurve> predicted;
  std::optional<theory::PredictionScore> score;
};

std::string Workload(const StudyRecord& record) {
  return absl::StrCat(record.dataset(), "/", record.model(), "/", record.optimizer());
}

std::string Slug(const std::string& workload) { return absl::StrReplaceAll(workload, {{"/", "_"}}); }

std::string Num(double value) { return absl::StrFormat("%.4g", value); }

// 12345678 -> "12.3 million"; below a million, the plain number.
std::string Count(int64_t value) {
  if (value >= 1000000000) return absl::StrFormat("%.3g billion", value / 1e9);
  if (value >= 1000000) return absl::StrFormat("%.3g million", value / 1e6);
  return absl::StrCat(value);
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
      return absl::Status(fit.status().code(), absl::StrCat(curve.workload, " sparsity ", Num(curve.sparsity),
                                                            ": fit: ", fit.status().message()));
    }
    curve.fit = *std::move(fit);
  }
  return absl::OkStatus();
}

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
      // B_simple is +infinity when |G|^2 <= 0 (written as "inf" or "null" by the JSON number writer).
      if (fields[index] == "inf" || fields[index] == "null") {
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

void AppendCurvesCsv(const std::vector<Curve>& curves, absl::string_view source, std::string& csv) {
  for (const Curve& curve : curves) {
    for (size_t i = 0; i < curve.observed.batch_sizes.size(); ++i) {
      const double b = curve.observed.batch_sizes[i];
      const std::optional<double> predicted = PredictedAt(curve, b);
      absl::StrAppend(&csv, source, ",", curve.workload, ",", JsonNumber(curve.sparsity), ",", b, ",",
                      curve.observed.steps[i], ",", curve.fit ? JsonNumber(theory::FittedSteps(*curve.fit, b)) : "",
                      ",", curve.fit ? theory::ScalingRegimeName(curve.fit->regimes[i]) : "", ",",
                      predicted ? JsonNumber(*predicted) : "", "\n");
    }
  }
}

std::string FitsCsv(const std::vector<Curve>& curves) {
  std::string csv =
      "workload,sparsity,points,min_steps,min_steps_lower,min_steps_upper,critical_batch_size,"
      "critical_batch_size_lower,critical_batch_size_upper,critical_batch_size_at_bound\n";
  for (const Curve& curve : curves) {
    if (!curve.fit) continue;
    const ScalingFit& fit = *curve.fit;
    absl::StrAppend(&csv, curve.workload, ",", JsonNumber(curve.sparsity), ",", curve.observed.steps.size(), ",",
                    JsonNumber(fit.min_steps), ",", JsonNumber(fit.min_steps_interval.lower), ",",
                    JsonNumber(fit.min_steps_interval.upper), ",", JsonNumber(fit.critical_batch_size), ",",
                    JsonNumber(fit.critical_batch_size_interval.lower), ",",
                    JsonNumber(fit.critical_batch_size_interval.upper), ",",
                    fit.critical_batch_size_at_bound ? "true" : "false", "\n");
  }
  return csv;
}

std::string NoiseCsv(const std::vector<Curve>& curves) {
  std::string csv = "workload,sparsity,step,gradient_norm_squared,covariance_trace,simple_noise_scale\n";
  for (const Curve& curve : curves) {
    for (const NoisePoint& point : curve.noise) {
      absl::StrAppend(&csv, curve.workload, ",", JsonNumber(curve.sparsity), ",", point.step, ",",
                      JsonNumber(point.gradient_norm_squared), ",", JsonNumber(point.covariance_trace), ",",
                      std::isfinite(point.simple_noise_scale) ? JsonNumber(point.simple_noise_scale) : "inf", "\n");
    }
  }
  return csv;
}

// Median B_simple over a curve's noise measurements (the infinite ones, where |G|^2 <= 0, count as the largest).
std::optional<double> MedianNoiseScale(const Curve& curve) {
  if (curve.noise.empty()) return std::nullopt;
  std::vector<double> scales;
  for (const NoisePoint& point : curve.noise) scales.push_back(point.simple_noise_scale);
  return Median(scales);
}

std::string LipschitzCsv(const std::vector<Curve>& curves) {
  std::string csv = "workload,sparsity,step,lipschitz\n";
  for (const Curve& curve : curves) {
    for (const auto& [step, l] : curve.lipschitz) {
      absl::StrAppend(&csv, curve.workload, ",", JsonNumber(curve.sparsity), ",", step, ",", JsonNumber(l), "\n");
    }
  }
  return csv;
}

// The table sparsity x batch size of one workload, in markdown.
std::string MarkdownTable(const std::vector<Curve>& curves, const std::string& workload) {
  std::vector<int64_t> batch_sizes;
  for (const Curve& curve : curves) {
    if (curve.workload != workload) continue;
    for (int64_t b : curve.all_batch_sizes) {
      if (std::find(batch_sizes.begin(), batch_sizes.end(), b) == batch_sizes.end()) batch_sizes.push_back(b);
    }
  }
  std::sort(batch_sizes.begin(), batch_sizes.end());
  std::string md = "| sparsity \\ batch size |";
  for (int64_t b : batch_sizes) absl::StrAppend(&md, " ", b, " |");
  absl::StrAppend(&md, "\n|---|");
  for (size_t i = 0; i < batch_sizes.size(); ++i) absl::StrAppend(&md, "---|");
  absl::StrAppend(&md, "\n");
  for (const Curve& curve : curves) {
    if (curve.workload != workload) continue;
    absl::StrAppend(&md, "| ", JsonNumber(curve.sparsity), " |");
    for (int64_t b : batch_sizes) {
      const bool run =
          std::find(curve.all_batch_sizes.begin(), curve.all_batch_sizes.end(), b) != curve.all_batch_sizes.end();
      const std::optional<double> steps = ObservedAt(curve, static_cast<double>(b));
      absl::StrAppend(&md, " ", steps ? absl::StrCat(static_cast<int64_t>(*steps)) : (run ? "none" : "-"), " |");
    }
    absl::StrAppend(&md, "\n");
  }
  absl::StrAppend(&md, "\n(steps-to-result; \"none\": no trial reached the goal; \"-\": not run)\n");
  return md;
}

// Finding 1: steps fall with batch size through the three regimes.
std::string VerdictOne(const std::vector<Curve>& curves) {
  std::vector<std::string> parts;
  bool all_hold = true, any = false;
  for (const Curve& curve : curves) {
    const std::string name = absl::StrCat(curve.workload, " sparsity ", JsonNumber(curve.sparsity));
    if (curve.observed.steps.size() < 2) {
      parts.push_back(absl::StrCat(name, ": not measured (fewer than 2 batch sizes reached the goal)"));
      continue;
    }
    any = true;
    // observed is in increasing batch size (records are sorted).
    std::vector<std::string> rises;
    for (size_t i = 1; i < curve.observed.steps.size(); ++i) {
      if (curve.observed.steps[i] > curve.observed.steps[i - 1]) {
        rises.push_back(absl::StrCat("B=", curve.observed.batch_sizes[i - 1], "->", curve.observed.batch_sizes[i]));
      }
    }
    const double first = curve.observed.steps.front(), last = curve.observed.steps.back();
    std::vector<std::string> seen;
    std::vector<std::string> missing;
    for (theory::ScalingRegime regime :
         {theory::ScalingRegime::kPerfectScaling, theory::ScalingRegime::kDiminishingReturns,
          theory::ScalingRegime::kMaximalDataParallelism}) {
      const bool found = curve.fit && std::find(curve.fit->regimes.begin(), curve.fit->regimes.end(), regime) !=
                                          curve.fit->regimes.end();
      (found ? seen : missing).push_back(std::string(theory::ScalingRegimeName(regime)));
    }
    std::string regimes = absl::StrCat("regimes seen: ", seen.empty() ? "none" : absl::StrJoin(seen, ", "));
    if (!missing.empty()) absl::StrAppend(&regimes, "; not reached: ", absl::StrJoin(missing, ", "));
    if (rises.empty() && last < first) {
      parts.push_back(absl::StrCat(name, ": ", missing.empty() ? "holds" : "holds partly",
                                   ": steps fall monotonically from ", first,
                                   " (B=", curve.observed.batch_sizes.front(), ") to ", last,
                                   " (B=", curve.observed.batch_sizes.back(), "); ", regimes));
      if (!missing.empty()) all_hold = false;
    } else {
      all_hold = false;
      parts.push_back(
          absl::StrCat(name, ": does not hold: steps ",
                       rises.empty() ? "do not fall overall" : absl::StrCat("rise at ", absl::StrJoin(rises, ", ")),
                       " (", first, " at B=", curve.observed.batch_sizes.front(), ", ", last,
                       " at B=", curve.observed.batch_sizes.back(), "); ", regimes));
    }
  }
  if (!any) return absl::StrCat("not measured: ", absl::StrJoin(parts, ". "));
  return absl::StrCat(all_hold ? "holds" : "holds partly or not", " -- ", absl::StrJoin(parts, ". "));
}

// Finding 2: sparse networks need more steps at every batch size.
std::string VerdictTwo(const std::vector<Curve>& curves) {
  std::vector<std::string> parts;
  bool any = false, all = true;
  for (const Curve& curve : curves) {
    const Curve* dense = DenseCurve(curves, curve.workload);
    if (dense == &curve) continue;
    std::vector<double> ratios;
    std::vector<std::string> fewer;
    for (size_t i = 0; i < curve.observed.batch_sizes.size(); ++i) {
      const std::optional<double> base = ObservedAt(*dense, curve.observed.batch_sizes[i]);
      if (!base) continue;
      ratios.push_back(curve.observed.steps[i] / *base);
      if (curve.observed.steps[i] <= *base) fewer.push_back(absl::StrCat("B=", curve.observed.batch_sizes[i]));
    }
    const std::string name =
        absl::StrCat(curve.workload, " sparsity ", JsonNumber(curve.sparsity), " vs ", JsonNumber(dense->sparsity));
    if (ratios.empty()) {
      parts.push_back(absl::StrCat(name, ": not measured (no batch size where both reached the goal)"));
      continue;
    }
    any = true;
    const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
    if (fewer.empty()) {
      parts.push_back(absl::StrCat(name, ": holds: more steps at all ", ratios.size(), " shared batch sizes (ratio ",
                                   Num(*lo), " to ", Num(*hi), ")"));
    } else {
      all = false;
      parts.push_back(absl::StrCat(name, ": does not hold: no more steps at ", absl::StrJoin(fewer, ", "), " of ",
                                   ratios.size(), " shared batch sizes (ratio ", Num(*lo), " to ", Num(*hi), ")"));
    }
  }
  if (parts.empty()) return "not measured: only one sparsity level";
  if (!any) return absl::StrCat("not measured -- ", absl::StrJoin(parts, ". "));
  return absl::StrCat(all ? "holds" : "does not hold everywhere", " -- ", absl::StrJoin(parts, ". "));
}

// Finding 3: larger L for sparser networks (LipschitzComparison), and the L ratio predicts the step ratio.
std::string VerdictThree(const std::vector<Curve>& curves, double tolerance) {
  std::vector<std::string> parts;
  bool any = false, all_larger = true, all_predict = true;
  for (const Curve& curve : curves) {
    const Curve* dense = DenseCurve(curves, curve.workload);
    if (dense == &curve) continue;
    const std::string name =
        absl::StrCat(curve.workload, " sparsity ", JsonNumber(curve.sparsity), " vs ", JsonNumber(dense->sparsity));
    if (!curve.lipschitz_vs_dense) {
      parts.push_back(absl::StrCat(name, ": L not measured"));
      continue;
    }
    any = true;
    const LipschitzComparison& l = *curve.lipschitz_vs_dense;
    const bool larger = l.ratio() > 1;
    all_larger = all_larger && larger;
    std::string part =
        absl::StrCat(name, ": L ", larger ? "larger" : "NOT larger", " (median over steps <= ", l.up_to_step, ": ",
                     Num(l.sparse_median), " vs ", Num(l.dense_median), ", ratio ", Num(l.ratio()), "; larger at ",
                     l.sparse_above, " of ", l.matched, " matched steps)");
    if (curve.score) {
      // Geometric mean of the observed step ratios at the shared batch sizes.
      double log_sum = 0;
      int n = 0;
      for (size_t i = 0; i < curve.observed.batch_sizes.size(); ++i) {
        const std::optional<double> base = ObservedAt(*dense, curve.observed.batch_sizes[i]);
        if (!base) continue;
        log_sum += std::log(curve.observed.steps[i] / *base);
        ++n;
      }
      const bool predicts = curve.score->mean_abs_log_error <= tolerance;
      all_predict = all_predict && predicts;
      absl::StrAppend(&part, "; the L ratio ", predicts ? "predicts" : "does not predict",
                      " the step ratio (observed geometric mean ", Num(std::exp(log_sum / std::max(n, 1))),
                      "; mean |ln(pred/obs)| ", Num(curve.score->mean_abs_log_error), ", max ",
                      Num(curve.score->max_abs_log_error), " over ", curve.score->count, " batch sizes; tolerance ",
                      Num(tolerance), ")");
    } else {
      all_predict = false;
      absl::StrAppend(&part, "; prediction not scored (no shared batch size with a steps-to-result)");
    }
    parts.push_back(part);
  }
  if (parts.empty()) return "not measured: only one sparsity level";
  if (!any) return absl::StrCat("not measured -- ", absl::StrJoin(parts, ". "));
  const char* verdict = all_larger && all_predict ? "holds"
                        : all_larger              ? "holds partly (L is larger; the L ratio misses the step ratio)"
                                                  : "does not hold";
  return absl::StrCat(verdict, " -- ", absl::StrJoin(parts, ". "));
}

// What VerifyStore checked, for report.md: "" when the tree holds no trial folders (a hand-written fixture).
std::string StoreSentence(const StoreVerification& store) {
  if (store.trials == 0) return "";
  std::string sentence = absl::StrCat(" Their ", store.trials, " stored trials were verified: ", store.verified,
                                      " by their SHA-256 digests");
  if (store.legacy > 0) {
    absl::StrAppend(&sentence, ", ", store.legacy,
                    " (written before digests) by the agreement of metadata.json and measurements.csv");
  }
  absl::StrAppend(&sentence, ".");
  if (store.damaged_moved_aside > 0) {
    absl::StrAppend(&sentence, " ", store.damaged_moved_aside,
                    " damaged trial folders were found on resumes, moved aside and the trials trained again.");
  }
  return sentence;
}

// The first comment line of each workload's study_spec.textproto ("Resolved from ... --profile=quick ...").
std::string SpecSource(const std::string& dir, const std::string& workload) {
  absl::StatusOr<std::string> text = ReadFile(absl::StrCat(dir, "/", workload, "/study_spec.textproto"));
  if (!text.ok()) return "(no study_spec.textproto)";
  const std::string line = text->substr(0, text->find('\n'));
  absl::string_view first = line;
  if (!absl::ConsumePrefix(&first, "# ")) return "(study_spec.textproto has no source line)";
  return std::string(first);
}

// The protocol of a workload's studies, one line per distinct (trials, goal, budget, check interval), naming the
// batch sizes (and the sparsities) that used it.
std::string Protocol(const std::vector<StudyRecord>& records, const std::string& workload) {
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<double>>> by_protocol;
  std::vector<std::string> order;
  for (const StudyRecord& record : records) {
    if (Workload(record) != workload) continue;
    const std::string protocol =
        absl::StrCat(record.trials(), " trials, goal validation error ",
                     record.has_goal_error() ? JsonNumber(record.goal_error()) : "?", ", budget ",
                     record.has_max_steps() ? absl::StrCat(record.max_steps()) : "?", " steps, checks every ",
                     record.has_check_interval() ? absl::StrCat(record.check_interval()) : "?", " steps");
    if (by_protocol.find(protocol) == by_protocol.end()) order.push_back(protocol);
    auto& [batch_sizes, sparsities] = by_protocol[protocol];
    if (std::find(batch_sizes.begin(), batch_sizes.end(), record.batch_size()) == batch_sizes.end()) {
      batch_sizes.push_back(record.batch_size());
    }
    if (std::find(sparsities.begin(), sparsities.end(), record.sparsity()) == sparsities.end()) {
      sparsities.push_back(record.sparsity());
    }
  }
  std::string md;
  for (const std::string& protocol : order) {
    const auto& [batch_sizes, sparsities] = by_protocol[protocol];
    absl::StrAppend(&md, "- B = ", absl::StrJoin(batch_sizes, ", "), ": ", protocol, " (sparsity ",
                    absl::StrJoin(sparsities, ", ", [](std::string* out, double s) { out->append(JsonNumber(s)); }),
                    ")\n");
  }
  int trials = 0, stopped_early = 0;
  int64_t examples_trained = 0, examples_saved_at_most = 0;
  int64_t validation_evaluated = 0, validation_in_full_checks = 0;
  for (const StudyRecord& record : records) {
    if (Workload(record) != workload) continue;
    trials += record.trials();
    stopped_early += record.stopped_early();
    examples_trained += record.examples_trained();
    examples_saved_at_most += record.examples_saved_at_most();
    validation_evaluated += record.validation_examples_evaluated();
    validation_in_full_checks += record.validation_examples_in_full_checks();
  }
  if (validation_evaluated < validation_in_full_checks) {
    absl::StrAppend(&md,
                    "- Early exit of validation checks (training/trainer/validation_check.h; results identical "
                    "without it): the checks evaluated ",
                    Count(validation_evaluated), " validation examples instead of ", Count(validation_in_full_checks),
                    absl::StrFormat(" (%.0f%%)", 100.0 * static_cast<double>(validation_evaluated) /
                                                     static_cast<double>(validation_in_full_checks)),
                    "\n");
  }
  if (stopped_early > 0 || examples_saved_at_most > 0) {
    const double spared_share = static_cast<double>(examples_saved_at_most) /
                                static_cast<double>(std::max<int64_t>(1, examples_trained + examples_saved_at_most));
    absl::StrAppend(&md,
                    "- Exact early termination (experiments/study/early_termination.h; results identical without it): ",
                    stopped_early, " of ", trials, " trials stopped or skipped once they could no longer win; ",
                    Count(examples_trained), " training examples trained, and it spared at most ",
                    Count(examples_saved_at_most), " more (each stopped trial's remaining budget: an upper bound, ",
                    absl::StrFormat("%.0f%%", 100 * spared_share), " of what a run without it could have trained)\n");
  } else if (trials > 0) {
    absl::StrAppend(&md, "- No trial was stopped early (", Count(examples_trained), " training examples trained)\n");
  }
  return md;
}

JsonObject FitJson(const Curve& curve) {
  JsonObject json;
  json.Add("workload", curve.workload)
      .Add("sparsity", curve.sparsity)
      .Add("points", static_cast<int>(curve.observed.steps.size()));
  if (curve.fit) {
    json.Add("fit", theory::ScalingFitJson(*curve.fit));
    JsonArray regimes, batch_sizes;
    for (size_t i = 0; i < curve.fit->regimes.size(); ++i) {
      regimes.Add(theory::ScalingRegimeName(curve.fit->regimes[i]));
      batch_sizes.Add(curve.observed.batch_sizes[i]);
    }
    json.Add("batch_sizes", batch_sizes).Add("regimes", regimes);
  } else {
    json.AddNull("fit").Add("note", curve.note);
  }
  return json;
}

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

}  // namespace

absl::StatusOr<JsonObject> WriteReport(const std::string& dir, const ReportOptions& options) {
  // Nothing is aggregated from a store whose trials fail their digests or disagree with its study.json files.
  ASSIGN_OR_RETURN(const StoreVerification store, VerifyStore(dir));
  std::vector<StudyRecord> records;
  ASSIGN_OR_RETURN(std::vector<Curve> curves, LoadCurves(dir, options.bootstrap_resamples, &records));
  std::vector<Curve> compare;
  if (!options.compare_dir.empty()) {
    RETURN_IF_ERROR(VerifyStore(options.compare_dir).status());
    ASSIGN_OR_RETURN(std::vector<StudyRecord> compare_records, ReadStudyRecords(options.compare_dir));
    if (compare_records.empty()) {
      // Not parsity's layout: Shallue et al.'s public data, at this run's goals.
      std::map<std::string, double> goals;
      for (const StudyRecord& record : records) goals[Workload(record)] = record.goal_error();
      ASSIGN_OR_RETURN(compare_records, ReadPublicStudyRecords(options.compare_dir, goals));
    }
    if (compare_records.empty()) {
      return absl::NotFoundError(absl::StrCat(
          options.compare_dir, ": no study.json of a workload of ", dir,
          " (parsity's layout <dataset>/<network>/<optimizer>/sparsity_<s>/<batch_size>/, or Shallue et al.'s "
          "<dataset>/<model>/<optimizer>/<batch_size>/)"));
    }
    compare = GroupCurves(compare_records);
    RETURN_IF_ERROR(FitCurves(compare, options.bootstrap_resamples));
  }

  // CSVs.
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/steps_to_result.csv"), StepsToResultCsv(records)));
  std::string curves_csv = "source,workload,sparsity,batch_size,steps,fitted_steps,regime,predicted_steps\n";
  AppendCurvesCsv(curves, "run", curves_csv);
  AppendCurvesCsv(compare, "compare", curves_csv);
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/curves.csv"), curves_csv));
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/fits.csv"), FitsCsv(curves)));
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/lipschitz.csv"), LipschitzCsv(curves)));
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/gradient_noise.csv"), NoiseCsv(curves)));

  // Plots.
  const std::vector<std::string> workloads = Workloads(curves);
  std::map<std::string, std::vector<std::string>> plots;  // workload -> PNG paths relative to dir.
  JsonArray plots_json;
  std::string plot_note;
  if (options.plot_script.empty()) {
    plot_note = "Plots not drawn (no plot script given).\n";
  } else {
    RETURN_IF_ERROR(CreateDirectories(absl::StrCat(dir, "/plots")));
    const std::string command = absl::StrCat("'", options.python, "' '", options.plot_script, "' '", dir, "' 1>&2");
    const int code = std::system(command.c_str());
    if (code != 0) {
      return absl::InternalError(absl::StrCat(options.plot_script, " failed on ", dir, " (exit status ", code, ")"));
    }
    for (const std::string& workload : workloads) {
      for (absl::string_view kind : {"steps", "normalized", "lipschitz", "noise", "prediction"}) {
        const std::string png = absl::StrCat("plots/", Slug(workload), "_", kind, ".png");
        if (PathExists(absl::StrCat(dir, "/", png))) {
          plots[workload].push_back(png);
          plots_json.Add(absl::StrCat(dir, "/", png));
        }
      }
    }
  }

  const std::string verdict1 = VerdictOne(curves);
  const std::string verdict2 = VerdictTwo(curves);
  const std::string verdict3 = VerdictThree(curves, options.prediction_tolerance);

  // report.md.
  std::string md = absl::StrCat("# Steps-to-result vs batch size and sparsity: ", dir, "\n\n",
                                "Regenerated from the result files by `//experiments:report` (", records.size(),
                                " studies).", StoreSentence(store), "\n\n## What was run\n\n");
  for (const std::string& workload : workloads) {
    absl::StrAppend(&md, "**", workload, "**: ", SpecSource(dir, workload), "\n\n", Protocol(records, workload), "\n");
  }
  absl::StrAppend(&md, "## Steps-to-result\n\n");
  for (const std::string& workload : workloads) {
    absl::StrAppend(&md, "### ", workload, "\n\n", MarkdownTable(curves, workload), "\n");
  }
  if (!compare.empty()) {
    absl::StrAppend(&md, "### Compared run: ", options.compare_dir, "\n\n");
    for (const std::string& workload : Workloads(compare)) {
      absl::StrAppend(&md, "#### ", workload, "\n\n", MarkdownTable(compare, workload), "\n");
    }
  }
  absl::StrAppend(&md, "## Fits S(B) = S_min (1 + B_crit / B)\n\n95% bootstrap intervals (",
                  options.bootstrap_resamples,
                  " resamples); regimes: PS perfect scaling (B <= B_crit/4), DR diminishing returns, MDP maximal "
                  "data parallelism (B >= 4 B_crit).\n\n"
                  "| workload | sparsity | points | S_min [CI] | B_crit [CI] | RMS log residual | regimes |\n"
                  "|---|---|---|---|---|---|---|\n");
  for (const Curve& curve : curves) {
    if (!curve.fit) {
      absl::StrAppend(&md, "| ", curve.workload, " | ", JsonNumber(curve.sparsity), " | ", curve.observed.steps.size(),
                      " | ", curve.note, " | | | |\n");
      continue;
    }
    const ScalingFit& fit = *curve.fit;
    std::vector<std::string> regimes;
    for (size_t i = 0; i < fit.regimes.size(); ++i) {
      const theory::ScalingRegime r = fit.regimes[i];
      regimes.push_back(absl::StrCat(curve.observed.batch_sizes[i], ":",
                                     r == theory::ScalingRegime::kPerfectScaling       ? "PS"
                                     : r == theory::ScalingRegime::kDiminishingReturns ? "DR"
                                                                                       : "MDP"));
    }
    absl::StrAppend(&md, "| ", curve.workload, " | ", JsonNumber(curve.sparsity), " | ", curve.observed.steps.size(),
                    " | ", Num(fit.min_steps), " [", Num(fit.min_steps_interval.lower), ", ",
                    Num(fit.min_steps_interval.upper), "] | ", Num(fit.critical_batch_size), " [",
                    Num(fit.critical_batch_size_interval.lower), ", ", Num(fit.critical_batch_size_interval.upper), "]",
                    fit.critical_batch_size_at_bound ? " (at search bound)" : "", " | ", Num(fit.rms_log_residual),
                    " | ", absl::StrJoin(regimes, " "), " |\n");
  }
  absl::StrAppend(&md, "\n## Lipschitz constant L along training\n\n");
  bool any_l = false;
  for (const Curve& curve : curves) any_l = any_l || curve.lipschitz_mean.has_value();
  if (!any_l) {
    absl::StrAppend(&md, "Not measured (no `<workload>/sparsity_<s>/lipschitz.csv`).\n");
  } else {
    absl::StrAppend(
        &md,
        "Trajectory estimates (theory/README.md, \"The theory\") along each sparsity's retrained best "
        "trial, over that whole trial:\n\n"
        "| workload | sparsity | measurements | last step | mean L | max L |\n|---|---|---|---|---|---|\n");
    for (const Curve& curve : curves) {
      if (curve.lipschitz.empty()) continue;
      absl::StrAppend(&md, "| ", curve.workload, " | ", JsonNumber(curve.sparsity), " | ", curve.lipschitz.size(),
                      " | ", curve.lipschitz.back().first, " | ", Num(*curve.lipschitz_mean), " | ",
                      Num(*curve.lipschitz_max), " |\n");
    }
    absl::StrAppend(
        &md,
        "\nL falls as training goes on, and a sparse network's best trial usually runs longer, so its whole-trial "
        "mean includes a flatter late phase the dense trial never reached. Each sparse network is therefore compared "
        "with the dense one over their common steps (up to the shorter trial's last measurement), by the median "
        "(single-step estimates have spikes: a step along a sharp direction); the theory's prediction below uses "
        "this median ratio.\n\n"
        "| workload | sparsity vs dense | steps <= | median L sparse / dense | ratio | mean L sparse / dense | "
        "sparse larger at matched steps |\n|---|---|---|---|---|---|---|\n");
    for (const Curve& curve : curves) {
      if (!curve.lipschitz_vs_dense) continue;
      const LipschitzComparison& l = *curve.lipschitz_vs_dense;
      absl::StrAppend(&md, "| ", curve.workload, " | ", JsonNumber(curve.sparsity), " vs ",
                      JsonNumber(DenseCurve(curves, curve.workload)->sparsity), " | ", l.up_to_step, " | ",
                      Num(l.sparse_median), " / ", Num(l.dense_median), " | ", Num(l.ratio()), " | ",
                      Num(l.sparse_mean), " / ", Num(l.dense_mean), " | ", l.sparse_above, " of ", l.matched, " |\n");
    }
  }
  bool any_noise = false;
  for (const Curve& curve : curves) any_noise = any_noise || !curve.noise.empty();
  absl::StrAppend(&md, "\n## Gradient noise along training\n\n");
  if (!any_noise) {
    absl::StrAppend(&md, "Not measured (no `<workload>/sparsity_<s>/gradient_noise.csv`).\n");
  } else {
    absl::StrAppend(
        &md,
        "Per-example estimates (theory/gradient_noise.h) at the points of the L estimates: |G|^2 the squared full "
        "gradient, tr(Sigma) the per-example gradient variance (sigma^2 of the theory), B_simple = tr(Sigma) / |G|^2 "
        "(McCandlish et al.), which predicts the critical batch size B_crit up to a factor of order one and grows as "
        "training goes on and |G| falls. Medians over the measurements, against the fitted B_crit:\n\n"
        "| workload | sparsity | measurements | median abs G^2 | median tr(Sigma) | median B_simple | last B_simple | "
        "fitted B_crit [CI] |\n|---|---|---|---|---|---|---|---|\n");
    for (const Curve& curve : curves) {
      if (curve.noise.empty()) continue;
      std::vector<double> norms, traces;
      for (const NoisePoint& point : curve.noise) {
        norms.push_back(point.gradient_norm_squared);
        traces.push_back(point.covariance_trace);
      }
      const double last = curve.noise.back().simple_noise_scale;
      absl::StrAppend(&md, "| ", curve.workload, " | ", JsonNumber(curve.sparsity), " | ", curve.noise.size(), " | ",
                      Num(Median(norms)), " | ", Num(Median(traces)), " | ", Num(*MedianNoiseScale(curve)), " | ",
                      std::isfinite(last) ? Num(last) : "inf", " | ",
                      curve.fit ? absl::StrCat(Num(curve.fit->critical_batch_size), " [",
                                               Num(curve.fit->critical_batch_size_interval.lower), ", ",
                                               Num(curve.fit->critical_batch_size_interval.upper), "]")
                                : "no fit",
                      " |\n");
    }
  }
  absl::StrAppend(&md,
                  "\n## Theory: predicted sparse steps = dense steps x L_sparse / L_dense (median L over the common "
                  "steps)\n\n");
  bool any_prediction = false;
  for (const Curve& curve : curves) {
    if (!curve.score) continue;
    if (!any_prediction) {
      absl::StrAppend(&md,
                      "| workload | sparsity | batch sizes | mean abs ln(pred/obs) | max |\n|---|---|---|---|---|\n");
    }
    any_prediction = true;
    absl::StrAppend(&md, "| ", curve.workload, " | ", JsonNumber(curve.sparsity), " | ", curve.score->count, " | ",
                    Num(curve.score->mean_abs_log_error), " | ", Num(curve.score->max_abs_log_error), " |\n");
  }
  if (!any_prediction) absl::StrAppend(&md, "Not measured (needs L for the dense and a sparse network).\n");
  absl::StrAppend(&md, "\n## Verdicts on the paper's findings (computed from this run)\n\n",
                  "1. **Steps fall with batch size through three regimes**: ", verdict1, "\n",
                  "2. **Sparse networks need more steps at every batch size**: ", verdict2, "\n",
                  "3. **Larger L for sparser networks; the L ratio predicts the step ratio**: ", verdict3, "\n\n",
                  "## Plots\n\n", plot_note);
  for (const std::string& workload : workloads) {
    for (const std::string& png : plots[workload]) absl::StrAppend(&md, "![", png, "](", png, ")\n\n");
  }
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/report.md"), md));

  // Summary.
  JsonArray table, fits, lipschitz, lipschitz_comparisons, noise, predictions;
  for (const StudyRecord& record : records) {
    JsonObject row;
    row.Add("workload", Workload(record)).Add("sparsity", record.sparsity()).Add("batch_size", record.batch_size());
    if (record.has_steps_to_result()) {
      row.Add("steps_to_result", record.steps_to_result());
    } else {
      row.AddNull("steps_to_result");
    }
    table.Add(row);
  }
  for (const Curve& curve : curves) {
    fits.Add(FitJson(curve));
    if (curve.lipschitz_mean) {
      lipschitz.Add(JsonObject()
                        .Add("workload", curve.workload)
                        .Add("sparsity", curve.sparsity)
                        .Add("mean", *curve.lipschitz_mean)
                        .Add("max", *curve.lipschitz_max)
                        .Add("measurements", static_cast<int>(curve.lipschitz.size())));
    }
    if (!curve.noise.empty()) {
      const double last = curve.noise.back().simple_noise_scale;
      JsonObject entry;
      entry.Add("workload", curve.workload)
          .Add("sparsity", curve.sparsity)
          .Add("measurements", static_cast<int>(curve.noise.size()));
      const double median = *MedianNoiseScale(curve);
      if (std::isfinite(median)) {
        entry.Add("median_simple_noise_scale", median);
      } else {
        entry.AddNull("median_simple_noise_scale");
      }
      if (std::isfinite(last)) {
        entry.Add("last_simple_noise_scale", last);
      } else {
        entry.AddNull("last_simple_noise_scale");
      }
      noise.Add(entry);
    }
    if (curve.lipschitz_vs_dense) {
      const LipschitzComparison& l = *curve.lipschitz_vs_dense;
      lipschitz_comparisons.Add(JsonObject()
                                    .Add("workload", curve.workload)
                                    .Add("sparsity", curve.sparsity)
                                    .Add("up_to_step", l.up_to_step)
                                    .Add("median", l.sparse_median)
                                    .Add("dense_median", l.dense_median)
                                    .Add("ratio", l.ratio())
                                    .Add("mean", l.sparse_mean)
                                    .Add("dense_mean", l.dense_mean)
                                    .Add("matched_steps", l.matched)
                                    .Add("larger_at", l.sparse_above));
    }
    if (curve.score) {
      predictions.Add(JsonObject()
                          .Add("workload", curve.workload)
                          .Add("sparsity", curve.sparsity)
                          .Add("mean_abs_log_error", curve.score->mean_abs_log_error)
                          .Add("max_abs_log_error", curve.score->max_abs_log_error)
                          .Add("count", curve.score->count));
    }
  }
  int64_t examples_trained = 0, examples_saved_at_most = 0;
  int64_t validation_evaluated = 0, validation_in_full_checks = 0;
  for (const StudyRecord& record : records) {
    examples_trained += record.examples_trained();
    examples_saved_at_most += record.examples_saved_at_most();
    validation_evaluated += record.validation_examples_evaluated();
    validation_in_full_checks += record.validation_examples_in_full_checks();
  }
  JsonObject summary;
  summary.Add("dir", dir)
      .Add("studies", static_cast<int>(records.size()))
      .Add("examples_trained", examples_trained)
      .Add("examples_saved_at_most", examples_saved_at_most)
      .Add("validation_examples_evaluated", validation_evaluated)
      .Add("validation_examples_in_full_checks", validation_in_full_checks)
      .Add("table", table)
      .Add("fits", fits)
      .Add("lipschitz", lipschitz)
      .Add("lipschitz_vs_dense", lipschitz_comparisons)
      .Add("gradient_noise", noise)
      .Add("predictions", predictions)
      .Add("verdicts", JsonObject().Add("1", verdict1).Add("2", verdict2).Add("3", verdict3))
      .Add("store", JsonObject()
                        .Add("trials", store.trials)
                        .Add("verified", store.verified)
                        .Add("legacy", store.legacy)
                        .Add("damaged_moved_aside", store.damaged_moved_aside))
      .Add("report", absl::StrCat(dir, "/report.md"))
      .Add("plots", plots_json);
  return summary;
}

std::string FindPlotScript(const char* argv0) {
  constexpr absl::string_view kScript = "tools/plots/plot_study.py";
  std::vector<std::string> candidates;
  if (const char* runfiles = std::getenv("RUNFILES_DIR"); runfiles != nullptr && runfiles[0] != '\0') {
    candidates.push_back(absl::StrCat(runfiles, "/parsity/", kScript));
  }
  if (argv0 != nullptr) candidates.push_back(absl::StrCat(argv0, ".runfiles/parsity/", kScript));
  candidates.push_back(std::string(kScript));
  for (const std::string& candidate : candidates) {
    if (PathExists(candidate)) return candidate;
  }
  return "";
}

}  // namespace parsity::experiments
