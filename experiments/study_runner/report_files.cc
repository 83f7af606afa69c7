#include "experiments/study_runner/report_files.h"

#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "tools/base/csv.h"

namespace parsity::experiments::report {

using theory::ScalingFit;

void AppendCurvesCsv(const std::vector<Curve>& curves, absl::string_view source, std::string& csv) {
  for (const Curve& curve : curves) {
    for (size_t i = 0; i < curve.observed.batch_sizes.size(); ++i) {
      const double b = curve.observed.batch_sizes[i];
      const std::optional<double> predicted = PredictedAt(curve, b);
      absl::StrAppend(&csv, source, ",", curve.workload, ",", CsvNumber(curve.sparsity), ",", b, ",",
                      curve.observed.steps[i], ",", curve.fit ? CsvNumber(theory::FittedSteps(*curve.fit, b)) : "",
                      ",", curve.fit ? theory::ScalingRegimeName(curve.fit->regimes[i]) : "", ",",
                      predicted ? CsvNumber(*predicted) : "", "\n");
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
    absl::StrAppend(&csv, curve.workload, ",", CsvNumber(curve.sparsity), ",", curve.observed.steps.size(), ",",
                    CsvNumber(fit.min_steps), ",", CsvNumber(fit.min_steps_interval.lower), ",",
                    CsvNumber(fit.min_steps_interval.upper), ",", CsvNumber(fit.critical_batch_size), ",",
                    CsvNumber(fit.critical_batch_size_interval.lower), ",",
                    CsvNumber(fit.critical_batch_size_interval.upper), ",",
                    fit.critical_batch_size_at_bound ? "true" : "false", "\n");
  }
  return csv;
}

std::string NoiseCsv(const std::vector<Curve>& curves) {
  std::string csv = "workload,sparsity,step,gradient_norm_squared,covariance_trace,simple_noise_scale\n";
  for (const Curve& curve : curves) {
    for (const NoisePoint& point : curve.noise) {
      absl::StrAppend(&csv, curve.workload, ",", CsvNumber(curve.sparsity), ",", point.step, ",",
                      CsvNumber(point.gradient_norm_squared), ",", CsvNumber(point.covariance_trace), ",",
                      CsvNumber(point.simple_noise_scale), "\n");
    }
  }
  return csv;
}

std::string LipschitzCsv(const std::vector<Curve>& curves) {
  std::string csv = "workload,sparsity,step,lipschitz\n";
  for (const Curve& curve : curves) {
    for (const auto& [step, l] : curve.lipschitz) {
      absl::StrAppend(&csv, curve.workload, ",", CsvNumber(curve.sparsity), ",", step, ",", CsvNumber(l), "\n");
    }
  }
  return csv;
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

}  // namespace parsity::experiments::report
