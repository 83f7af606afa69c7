// Checks the scaling model on the noisy quadratic model, where the theory's constants are exact: measures
// steps-to-result at batch sizes 1, 2, 4, ..., 2^max_log2_batch with the learning rate tuned per batch size, for SGD
// and for heavy-ball momentum, fits S(B) = S_min (1 + B_crit / B) to each curve, and compares with the theory's K(B).
// A table per optimizer on stdout, progress on stderr, and one JSON object as the last stdout line.
//
//   bazel run //theory:noisy_quadratic_check
//   bazel run //theory:noisy_quadratic_check -- --dimension=256 --goal=0.05 --seed=1 --criterion=loss
//
// K(B) bounds a different quantity (the mean E||grad f||^2 over the run, with eta <= 1/L) than the simulation
// measures (the first step with criterion <= goal, every learning rate tried), so the comparison is of shapes: the
// closed-form critical batch size 2 sigma^2 / ((1 - m) eps), with eps := --goal in the criterion's units, against the
// fitted B_crit; and K(B)'s log error both as is and after the best constant factor ("shape").
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "theory/noisy_quadratic.h"
#include "theory/scaling_model.h"
#include "tools/base/json.h"
#include "tools/base/status_macros.h"

ABSL_FLAG(int32_t, dimension, 1000, "dimension d of the NQM (h_i = 1/i, C = H, w0 = 1), >= 1");
ABSL_FLAG(double, goal, 0.05, "goal eps on the criterion, > 0");
ABSL_FLAG(std::string, criterion, "loss", "what must reach the goal: loss or gradient_norm_squared");
ABSL_FLAG(uint64_t, seed, 0, "noise seed, the same for every learning rate and batch size");
ABSL_FLAG(double, momentum, 0.9, "heavy-ball momentum of the second curve, in (0, 1)");
ABSL_FLAG(int32_t, max_log2_batch, 14, "largest batch size is 2^this, in [1, 30]");
ABSL_FLAG(int64_t, max_steps, 1000000, "step budget per run");
ABSL_FLAG(int32_t, fine_points_per_octave, 4, "learning rates per factor 2 in the fine search");
ABSL_FLAG(int32_t, bootstrap_resamples, 1000, "bootstrap resamples for the fits' 95% intervals");

namespace parsity::theory {
namespace {

struct CurveReport {
  JsonObject json;
  ScalingFit fit;
};

absl::StatusOr<CurveReport> CheckOptimizer(const NoisyQuadratic& problem, const RunSettings& settings,
                                           const std::vector<int64_t>& batch_sizes, const TuningOptions& tuning,
                                           const std::string& name) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(const std::vector<TunedPoint> points,
                   MeasureStepsToResultCurve(problem, settings, batch_sizes, tuning));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << absl::StrFormat("%s: measured %d batch sizes in %.2f s\n", name, points.size(), seconds);

  ScalingCurve curve;
  for (const TunedPoint& point : points) {
    if (!point.reached) {
      return absl::FailedPreconditionError(absl::StrCat(name, ": no learning rate reached the goal at batch size ",
                                                        point.batch_size, " within ", settings.max_steps,
                                                        " steps; raise --max_steps or --goal"));
    }
    if (point.steps == 0) return absl::FailedPreconditionError("w0 already meets the goal: lower --goal");
    curve.batch_sizes.push_back(static_cast<double>(point.batch_size));
    curve.steps.push_back(static_cast<double>(point.steps));
  }
  ScalingFitOptions fit_options;
  fit_options.bootstrap_resamples = absl::GetFlag(FLAGS_bootstrap_resamples);
  fit_options.seed = settings.seed;
  ASSIGN_OR_RETURN(const ScalingFit fit, FitScalingCurve(curve, fit_options));
  const std::vector<double> fitted = FittedSteps(fit, curve.batch_sizes);
  ASSIGN_OR_RETURN(const PredictionScore fit_score, ScorePrediction(fitted, curve.steps));

  TheoryConstants constants;
  constants.lipschitz = LipschitzConstant(problem);
  constants.gap = InitialGap(problem);
  constants.noise_variance = NoiseVariance(problem);
  constants.goal = settings.goal;
  constants.momentum = settings.momentum;
  std::vector<double> theory;
  double mean_log_ratio = 0;  // ln(observed / K), averaged: the best constant factor in log space.
  for (size_t i = 0; i < points.size(); ++i) {
    ASSIGN_OR_RETURN(const double k, TheoryStepsToResult(constants, curve.batch_sizes[i]));
    theory.push_back(k);
    mean_log_ratio += std::log(curve.steps[i] / k) / static_cast<double>(points.size());
  }
  ASSIGN_OR_RETURN(const PredictionScore theory_score, ScorePrediction(theory, curve.steps));
  std::vector<double> theory_shape;
  for (double k : theory) theory_shape.push_back(k * std::exp(mean_log_ratio));
  ASSIGN_OR_RETURN(const PredictionScore shape_score, ScorePrediction(theory_shape, curve.steps));
  ASSIGN_OR_RETURN(const double theory_critical, TheoryCriticalBatchSize(constants));
  ASSIGN_OR_RETURN(const double theory_floor, TheoryMinimalSteps(constants));

  std::cout << absl::StrFormat("# %s (momentum %g): L = %g, Delta = %.6g, sigma^2 = %.6g, goal (%s) = %g\n", name,
                               settings.momentum, constants.lipschitz, constants.gap, constants.noise_variance,
                               CriterionName(settings.criterion), settings.goal);
  std::cout << absl::StrFormat("%8s %10s %9s %11s %8s %11s  %s\n", "batch", "tuned_lr", "steps", "fitted_S(B)",
                               "log_err", "theory_K(B)", "regime");
  int counts[3] = {0, 0, 0};
  for (size_t i = 0; i < points.size(); ++i) {
    counts[static_cast<int>(fit.regimes[i])]++;
    std::cout << absl::StrFormat("%8d %10.4g %9d %11.1f %+8.3f %11.4g  %s\n", points[i].batch_size,
                                 points[i].learning_rate, points[i].steps, fitted[i], -fit.log_residuals[i], theory[i],
                                 ScalingRegimeName(fit.regimes[i]));
  }
  std::cout << absl::StrFormat(
      "# fit: S_min = %.4g [%.4g, %.4g], B_crit = %.4g [%.4g, %.4g] (95%% bootstrap), mean |log err| = %.4f, "
      "max %.4f\n",
      fit.min_steps, fit.min_steps_interval.lower, fit.min_steps_interval.upper, fit.critical_batch_size,
      fit.critical_batch_size_interval.lower, fit.critical_batch_size_interval.upper, fit_score.mean_abs_log_error,
      fit_score.max_abs_log_error);
  std::cout << absl::StrFormat(
      "# theory: B* = 2 sigma^2 / ((1 - m) eps) = %.4g (fitted / B* = %.3g), floor = %.4g; K(B) mean |log err| = "
      "%.3f as is, %.3f after the best constant factor %.3g\n\n",
      theory_critical, fit.critical_batch_size / theory_critical, theory_floor, theory_score.mean_abs_log_error,
      shape_score.mean_abs_log_error, std::exp(mean_log_ratio));

  JsonArray rows;
  for (size_t i = 0; i < points.size(); ++i) {
    rows.Add(JsonObject()
                 .Add("batch_size", points[i].batch_size)
                 .Add("learning_rate", points[i].learning_rate)
                 .Add("steps", points[i].steps)
                 .Add("fitted_steps", fitted[i])
                 .Add("theory_steps", theory[i])
                 .Add("regime", ScalingRegimeName(fit.regimes[i])));
  }
  CurveReport report;
  report.fit = fit;
  report.json.Add("momentum", settings.momentum)
      .Add("fit", ScalingFitJson(fit)
                      .Add("mean_abs_log_error", fit_score.mean_abs_log_error)
                      .Add("max_abs_log_error", fit_score.max_abs_log_error))
      .Add("closed_form", JsonObject()
                              .Add("critical_batch_size", theory_critical)
                              .Add("min_steps", theory_floor)
                              .Add("mean_abs_log_error", theory_score.mean_abs_log_error)
                              .Add("shape_factor", std::exp(mean_log_ratio))
                              .Add("shape_mean_abs_log_error", shape_score.mean_abs_log_error))
      .Add("regime_counts", JsonObject()
                                .Add("PERFECT_SCALING", counts[0])
                                .Add("DIMINISHING_RETURNS", counts[1])
                                .Add("MAXIMAL_DATA_PARALLELISM", counts[2]))
      .Add("seconds", seconds)
      .Add("points", rows);
  return report;
}

absl::Status Run() {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(const NoisyQuadratic problem, MakeInverseIndexQuadratic(absl::GetFlag(FLAGS_dimension)));
  const int max_log2_batch = absl::GetFlag(FLAGS_max_log2_batch);
  if (max_log2_batch < 1 || max_log2_batch > 30) {
    return absl::InvalidArgumentError(absl::StrCat("--max_log2_batch = ", max_log2_batch, " is not in [1, 30]"));
  }
  const double momentum = absl::GetFlag(FLAGS_momentum);
  if (!(momentum > 0 && momentum < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("--momentum = ", momentum, " is not in (0, 1)"));
  }
  std::vector<int64_t> batch_sizes;
  for (int j = 0; j <= max_log2_batch; ++j) batch_sizes.push_back(int64_t{1} << j);

  RunSettings settings;
  settings.goal = absl::GetFlag(FLAGS_goal);
  if (!(settings.goal > 0) || !std::isfinite(settings.goal)) {
    return absl::InvalidArgumentError(absl::StrCat("--goal = ", settings.goal, " must be finite and > 0"));
  }
  ASSIGN_OR_RETURN(settings.criterion, ParseCriterion(absl::GetFlag(FLAGS_criterion)));
  settings.max_steps = absl::GetFlag(FLAGS_max_steps);
  settings.seed = absl::GetFlag(FLAGS_seed);
  RETURN_IF_ERROR(ValidateRunSettings(settings));
  TuningOptions tuning;
  tuning.fine_points_per_octave = absl::GetFlag(FLAGS_fine_points_per_octave);
  RETURN_IF_ERROR(ValidateTuningOptions(tuning));

  ASSIGN_OR_RETURN(const CurveReport sgd, CheckOptimizer(problem, settings, batch_sizes, tuning, "sgd"));
  RunSettings momentum_settings = settings;
  momentum_settings.momentum = momentum;
  ASSIGN_OR_RETURN(const CurveReport heavy_ball,
                   CheckOptimizer(problem, momentum_settings, batch_sizes, tuning, "momentum"));

  // The momentum model (scaling_model.h): K_m(B) = (1 - m) K_0((1 - m) B).
  const double critical_ratio = heavy_ball.fit.critical_batch_size / sgd.fit.critical_batch_size;
  const double floor_ratio = heavy_ball.fit.min_steps / sgd.fit.min_steps;
  std::cout << absl::StrFormat(
      "# momentum vs sgd: fitted B_crit ratio %.3g (model 1 / (1 - m) = %.3g), S_min ratio %.3g (model 1 - m = "
      "%.3g)\n",
      critical_ratio, 1 / (1 - momentum), floor_ratio, 1 - momentum);

  JsonObject summary;
  summary
      .Add("problem", JsonObject()
                          .Add("model", "noisy_quadratic")
                          .Add("curvatures", "h_i = 1/i")
                          .Add("noise_covariance", "C = H")
                          .Add("dimension", absl::GetFlag(FLAGS_dimension))
                          .Add("criterion", CriterionName(settings.criterion))
                          .Add("goal", settings.goal)
                          .Add("lipschitz", LipschitzConstant(problem))
                          .Add("gap", InitialGap(problem))
                          .Add("noise_variance", NoiseVariance(problem))
                          .Add("seed", settings.seed))
      .Add("sgd", sgd.json)
      .Add("momentum", heavy_ball.json)
      .Add("momentum_vs_sgd", JsonObject()
                                  .Add("critical_batch_size_ratio", critical_ratio)
                                  .Add("model_critical_batch_size_ratio", 1 / (1 - momentum))
                                  .Add("min_steps_ratio", floor_ratio)
                                  .Add("model_min_steps_ratio", 1 - momentum))
      .Add("seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  std::cout << summary.ToString() << std::endl;
  return absl::OkStatus();
}

}  // namespace
}  // namespace parsity::theory

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Simulates SGD and momentum on the noisy quadratic model over batch sizes 1..2^k, fits the scaling model and "
      "compares with the theory; one JSON object as the last stdout line.");
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = parsity::theory::Run();
  if (!status.ok()) {
    std::cerr << "noisy_quadratic_check: " << status << "\n";
    parsity::JsonObject summary;
    summary.Add("error", status.ToString());
    std::cout << summary.ToString() << std::endl;
    return 1;
  }
  return 0;
}
