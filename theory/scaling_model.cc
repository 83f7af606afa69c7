#include "theory/scaling_model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "boost/math/tools/minima.hpp"
#include "tools/base/check.h"
#include "tools/base/json.h"
#include "tools/base/status_macros.h"

namespace parsity::theory {
namespace {

bool PositiveFinite(double value) { return std::isfinite(value) && value > 0; }

absl::Status CheckBatchSize(double batch_size) {
  if (!PositiveFinite(batch_size)) {
    return absl::InvalidArgumentError(absl::StrCat("batch size ", batch_size, " must be finite and > 0"));
  }
  return absl::OkStatus();
}

// The search range of u = ln B_crit around the data's batch sizes: a factor 1e4 beyond either end.
constexpr double kSearchFactor = 1e4;
constexpr int kGridPoints = 100;

// ln(1 + e^x) without overflow.
double Softplus(double x) { return x > 35 ? x : std::log1p(std::exp(x)); }

// The log-space least squares with B_crit = e^u profiled out (FitScalingCurve's contract).
class LogSpaceProblem {
 public:
  LogSpaceProblem(std::vector<double> log_batch, std::vector<double> log_steps, std::vector<double> weights)
      : log_batch_(std::move(log_batch)), log_steps_(std::move(log_steps)), weights_(std::move(weights)) {
    for (double w : weights_) weight_sum_ += w;
  }

  // The optimal ln S_min for u.
  double LogMinSteps(double u) const {
    double sum = 0;
    for (size_t i = 0; i < log_batch_.size(); ++i) {
      sum += weights_[i] * (log_steps_[i] - Softplus(u - log_batch_[i]));
    }
    return sum / weight_sum_;
  }

  // The weighted sum of squared residuals at u with ln S_min profiled out.
  double Objective(double u) const {
    const double log_min_steps = LogMinSteps(u);
    double sum = 0;
    for (size_t i = 0; i < log_batch_.size(); ++i) {
      const double r = log_steps_[i] - log_min_steps - Softplus(u - log_batch_[i]);
      sum += weights_[i] * r * r;
    }
    return sum;
  }

  // Grid bracket, then Brent. Returns the optimal u in [lo, hi].
  double Minimize(double lo, double hi) const {
    const double spacing = (hi - lo) / (kGridPoints - 1);
    int best = 0;
    double best_value = std::numeric_limits<double>::infinity();
    for (int j = 0; j < kGridPoints; ++j) {
      const double value = Objective(lo + spacing * j);
      if (value < best_value) {
        best_value = value;
        best = j;
      }
    }
    const double a = lo + spacing * std::max(best - 1, 0);
    const double b = lo + spacing * std::min(best + 1, kGridPoints - 1);
    boost::uintmax_t max_iterations = 200;
    const std::pair<double, double> result = boost::math::tools::brent_find_minima(
        [this](double u) { return Objective(u); }, a, b, std::numeric_limits<double>::digits / 2, max_iterations);
    double u = lo + spacing * best, value = best_value;
    if (result.second <= value) std::tie(u, value) = result;
    // Brent stops at ~sqrt(machine epsilon) in u; Gauss-Newton steps on the profiled residuals take a near-exact fit
    // the rest of the way. A step is kept only if it stays in [lo, hi] and lowers the objective.
    for (int iteration = 0; iteration < 5; ++iteration) {
      const double next = std::clamp(u + GaussNewtonStep(u), lo, hi);
      const double next_value = Objective(next);
      if (!(next_value < value)) break;
      u = next;
      value = next_value;
    }
    return u;
  }

  // The Gauss-Newton step in u for residuals r_i(u) = y_i - a(u) - softplus(u - x_i) with a(u) = LogMinSteps(u)
  // profiled out (variable projection): dr_i/du = -(s_i - sum_j w_j s_j / sum_j w_j), s_i = sigmoid(u - x_i).
  double GaussNewtonStep(double u) const {
    const size_t n = log_batch_.size();
    std::vector<double> s(n);
    double mean_s = 0;
    for (size_t i = 0; i < n; ++i) {
      s[i] = 1 / (1 + std::exp(log_batch_[i] - u));
      mean_s += weights_[i] * s[i];
    }
    mean_s /= weight_sum_;
    const double log_min_steps = LogMinSteps(u);
    double jr = 0, jj = 0;
    for (size_t i = 0; i < n; ++i) {
      const double r = log_steps_[i] - log_min_steps - Softplus(u - log_batch_[i]);
      const double j = -(s[i] - mean_s);
      jr += weights_[i] * j * r;
      jj += weights_[i] * j * j;
    }
    return jj > 0 ? -jr / jj : 0;
  }

 private:
  std::vector<double> log_batch_;
  std::vector<double> log_steps_;
  std::vector<double> weights_;
  double weight_sum_ = 0;
};

// (1 - level) / 2 .. (1 + level) / 2 percentiles of `values`, linear interpolation between order statistics.
ConfidenceInterval PercentileInterval(std::vector<double> values, double level) {
  PARSITY_CHECK(!values.empty());
  std::sort(values.begin(), values.end());
  auto quantile = [&values](double p) {
    const double position = p * static_cast<double>(values.size() - 1);
    const size_t below = static_cast<size_t>(std::floor(position));
    const size_t above = std::min(below + 1, values.size() - 1);
    const double fraction = position - static_cast<double>(below);
    return values[below] + fraction * (values[above] - values[below]);
  };
  return {quantile((1 - level) / 2), quantile((1 + level) / 2)};
}

size_t UniformIndex(std::mt19937_64& engine, size_t n) {
  constexpr double kTwoToMinus53 = 1.0 / 9007199254740992.0;
  const double unit = static_cast<double>(engine() >> 11) * kTwoToMinus53;
  return std::min(static_cast<size_t>(unit * static_cast<double>(n)), n - 1);
}

}  // namespace

absl::string_view ScalingRegimeName(ScalingRegime regime) {
  switch (regime) {
    case ScalingRegime::kPerfectScaling:
      return "PERFECT_SCALING";
    case ScalingRegime::kDiminishingReturns:
      return "DIMINISHING_RETURNS";
    case ScalingRegime::kMaximalDataParallelism:
      return "MAXIMAL_DATA_PARALLELISM";
  }
  return "UNKNOWN";
}

// ---------------------------------------------------------------------------------------------------------------
// 1. The theory's closed form.

absl::Status ValidateTheoryConstants(const TheoryConstants& constants) {
  if (!PositiveFinite(constants.lipschitz)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TheoryConstants.lipschitz = ", constants.lipschitz, " must be finite and > 0"));
  }
  if (!PositiveFinite(constants.gap)) {
    return absl::InvalidArgumentError(absl::StrCat("TheoryConstants.gap = ", constants.gap, " must be finite and > 0"));
  }
  if (!std::isfinite(constants.noise_variance) || constants.noise_variance < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("TheoryConstants.noise_variance = ", constants.noise_variance, " must be finite and >= 0"));
  }
  if (!PositiveFinite(constants.goal)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TheoryConstants.goal = ", constants.goal, " must be finite and > 0"));
  }
  if (!(constants.momentum >= 0 && constants.momentum < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TheoryConstants.momentum = ", constants.momentum, " is not in [0, 1)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> TheoryStepsToResult(const TheoryConstants& constants, double batch_size) {
  RETURN_IF_ERROR(ValidateTheoryConstants(constants));
  RETURN_IF_ERROR(CheckBatchSize(batch_size));
  const double l = constants.lipschitz, delta = constants.gap, sigma2 = constants.noise_variance;
  const double eps = constants.goal, c = 1 / (1 - constants.momentum);  // eta_eff <= c / L.
  if (batch_size <= 2 * sigma2 * c / eps) return 8 * l * delta * sigma2 / (batch_size * eps * eps);
  return 2 * l * delta / (c * (eps - c * sigma2 / batch_size));
}

absl::StatusOr<double> TheoryLearningRate(const TheoryConstants& constants, double batch_size) {
  RETURN_IF_ERROR(ValidateTheoryConstants(constants));
  RETURN_IF_ERROR(CheckBatchSize(batch_size));
  const double cap = 1 / constants.lipschitz;
  if (constants.noise_variance == 0) return cap;
  const double interior =
      (1 - constants.momentum) * constants.goal * batch_size / (2 * constants.lipschitz * constants.noise_variance);
  return std::min(interior, cap);
}

absl::StatusOr<double> TheoryCriticalBatchSize(const TheoryConstants& constants) {
  RETURN_IF_ERROR(ValidateTheoryConstants(constants));
  return 2 * constants.noise_variance / ((1 - constants.momentum) * constants.goal);
}

absl::StatusOr<double> TheoryMinimalSteps(const TheoryConstants& constants) {
  RETURN_IF_ERROR(ValidateTheoryConstants(constants));
  return 2 * constants.lipschitz * constants.gap * (1 - constants.momentum) / constants.goal;
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Fitting.

absl::Status ValidateScalingCurve(const ScalingCurve& curve) {
  if (curve.batch_sizes.size() != curve.steps.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ScalingCurve has ", curve.batch_sizes.size(), " batch sizes but ", curve.steps.size(), " steps"));
  }
  if (curve.batch_sizes.empty()) return absl::InvalidArgumentError("ScalingCurve has no points");
  for (size_t i = 0; i < curve.steps.size(); ++i) {
    if (!PositiveFinite(curve.batch_sizes[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("ScalingCurve.batch_sizes[", i, "] = ", curve.batch_sizes[i], " must be finite and > 0"));
    }
    if (!PositiveFinite(curve.steps[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("ScalingCurve.steps[", i, "] = ", curve.steps[i], " must be finite and > 0"));
    }
  }
  return absl::OkStatus();
}

ScalingRegime ClassifyRegime(double batch_size, double critical_batch_size) {
  PARSITY_CHECK(batch_size > 0 && critical_batch_size >= 0);
  if (batch_size * kRegimeFactor <= critical_batch_size) return ScalingRegime::kPerfectScaling;
  if (batch_size >= kRegimeFactor * critical_batch_size) return ScalingRegime::kMaximalDataParallelism;
  return ScalingRegime::kDiminishingReturns;
}

absl::StatusOr<ScalingFit> FitScalingCurve(const ScalingCurve& curve, const ScalingFitOptions& options) {
  RETURN_IF_ERROR(ValidateScalingCurve(curve));
  const size_t n = curve.steps.size();
  const auto [min_it, max_it] = std::minmax_element(curve.batch_sizes.begin(), curve.batch_sizes.end());
  const double min_batch = *min_it, max_batch = *max_it;
  if (min_batch == max_batch) {
    return absl::InvalidArgumentError(
        absl::StrCat("FitScalingCurve needs at least 2 distinct batch sizes; all ", n, " points have ", min_batch));
  }
  std::vector<double> weights = options.weights;
  if (weights.empty()) weights.assign(n, 1.0);
  if (weights.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("ScalingFitOptions.weights has ", weights.size(), " entries for ", n, " points"));
  }
  for (size_t i = 0; i < n; ++i) {
    if (!PositiveFinite(weights[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("ScalingFitOptions.weights[", i, "] = ", weights[i], " must be finite and > 0"));
    }
  }
  if (options.bootstrap_resamples < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ScalingFitOptions.bootstrap_resamples = ", options.bootstrap_resamples, " must be >= 0"));
  }
  if (!(options.confidence_level > 0 && options.confidence_level < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ScalingFitOptions.confidence_level = ", options.confidence_level, " is not in (0, 1)"));
  }

  std::vector<double> log_batch(n), log_steps(n);
  for (size_t i = 0; i < n; ++i) {
    log_batch[i] = std::log(curve.batch_sizes[i]);
    log_steps[i] = std::log(curve.steps[i]);
  }
  const double lo = std::log(min_batch / kSearchFactor), hi = std::log(max_batch * kSearchFactor);

  const LogSpaceProblem problem(log_batch, log_steps, weights);
  const double u = problem.Minimize(lo, hi);
  ScalingFit fit;
  fit.critical_batch_size = std::exp(u);
  fit.min_steps = std::exp(problem.LogMinSteps(u));
  constexpr double kBoundTolerance = 1e-4;  // In ln B_crit.
  fit.critical_batch_size_at_bound = u - lo < kBoundTolerance || hi - u < kBoundTolerance;

  fit.log_residuals.resize(n);
  fit.regimes.resize(n);
  double sum_squares = 0;
  for (size_t i = 0; i < n; ++i) {
    const double r = log_steps[i] - std::log(FittedSteps(fit, curve.batch_sizes[i]));
    fit.log_residuals[i] = r;
    sum_squares += r * r;
    fit.max_abs_log_residual = std::max(fit.max_abs_log_residual, std::abs(r));
    fit.regimes[i] = ClassifyRegime(curve.batch_sizes[i], fit.critical_batch_size);
  }
  fit.rms_log_residual = std::sqrt(sum_squares / static_cast<double>(n));

  // Bootstrap.
  fit.min_steps_interval = {fit.min_steps, fit.min_steps};
  fit.critical_batch_size_interval = {fit.critical_batch_size, fit.critical_batch_size};
  if (options.bootstrap_resamples == 0) return fit;
  std::mt19937_64 engine(options.seed);
  std::vector<double> sample_min_steps, sample_critical;
  sample_min_steps.reserve(options.bootstrap_resamples);
  sample_critical.reserve(options.bootstrap_resamples);
  std::vector<double> rb(n), rs(n), rw(n);
  constexpr int kMaxDraws = 1000;
  for (int resample = 0; resample < options.bootstrap_resamples; ++resample) {
    bool distinct = false;
    for (int draw = 0; draw < kMaxDraws && !distinct; ++draw) {
      for (size_t i = 0; i < n; ++i) {
        const size_t j = UniformIndex(engine, n);
        rb[i] = log_batch[j];
        rs[i] = log_steps[j];
        rw[i] = weights[j];
      }
      distinct = std::any_of(rb.begin(), rb.end(), [&rb](double b) { return b != rb[0]; });
    }
    if (!distinct) continue;
    const LogSpaceProblem resampled(rb, rs, rw);
    const double resampled_u = resampled.Minimize(lo, hi);
    sample_critical.push_back(std::exp(resampled_u));
    sample_min_steps.push_back(std::exp(resampled.LogMinSteps(resampled_u)));
  }
  fit.bootstrap_resamples = static_cast<int>(sample_critical.size());
  if (fit.bootstrap_resamples > 0) {
    fit.min_steps_interval = PercentileInterval(std::move(sample_min_steps), options.confidence_level);
    fit.critical_batch_size_interval = PercentileInterval(std::move(sample_critical), options.confidence_level);
  }
  return fit;
}

double FittedSteps(const ScalingFit& fit, double batch_size) {
  return fit.min_steps * (1 + fit.critical_batch_size / batch_size);
}

std::vector<double> FittedSteps(const ScalingFit& fit, absl::Span<const double> batch_sizes) {
  std::vector<double> steps;
  steps.reserve(batch_sizes.size());
  for (double batch_size : batch_sizes) steps.push_back(FittedSteps(fit, batch_size));
  return steps;
}

JsonObject ScalingFitJson(const ScalingFit& fit) {
  JsonObject json;
  json.Add("min_steps", fit.min_steps)
      .Add("min_steps_ci", JsonArray().Add(fit.min_steps_interval.lower).Add(fit.min_steps_interval.upper))
      .Add("critical_batch_size", fit.critical_batch_size)
      .Add("critical_batch_size_ci",
           JsonArray().Add(fit.critical_batch_size_interval.lower).Add(fit.critical_batch_size_interval.upper))
      .Add("critical_batch_size_at_bound", fit.critical_batch_size_at_bound)
      .Add("bootstrap_resamples", fit.bootstrap_resamples)
      .Add("rms_log_residual", fit.rms_log_residual)
      .Add("max_abs_log_residual", fit.max_abs_log_residual);
  return json;
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Predictions.

absl::StatusOr<ScalingCurve> PredictSparseCurve(const ScalingCurve& dense, double lipschitz_dense,
                                                double lipschitz_sparse) {
  RETURN_IF_ERROR(ValidateScalingCurve(dense));
  if (!PositiveFinite(lipschitz_dense)) {
    return absl::InvalidArgumentError(absl::StrCat("lipschitz_dense = ", lipschitz_dense, " must be finite and > 0"));
  }
  if (!PositiveFinite(lipschitz_sparse)) {
    return absl::InvalidArgumentError(absl::StrCat("lipschitz_sparse = ", lipschitz_sparse, " must be finite and > 0"));
  }
  ScalingCurve sparse = dense;
  const double ratio = lipschitz_sparse / lipschitz_dense;
  for (double& steps : sparse.steps) steps *= ratio;
  return sparse;
}

absl::StatusOr<PredictionScore> ScorePrediction(absl::Span<const double> predicted, absl::Span<const double> observed) {
  if (predicted.size() != observed.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ScorePrediction: ", predicted.size(), " predictions for ", observed.size(), " observations"));
  }
  if (predicted.empty()) return absl::InvalidArgumentError("ScorePrediction: no points");
  PredictionScore score;
  double sum = 0;
  for (size_t i = 0; i < predicted.size(); ++i) {
    if (!PositiveFinite(predicted[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("ScorePrediction: predicted[", i, "] = ", predicted[i], " must be finite and > 0"));
    }
    if (!PositiveFinite(observed[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("ScorePrediction: observed[", i, "] = ", observed[i], " must be finite and > 0"));
    }
    const double error = std::abs(std::log(predicted[i] / observed[i]));
    sum += error;
    score.max_abs_log_error = std::max(score.max_abs_log_error, error);
  }
  score.count = static_cast<int>(predicted.size());
  score.mean_abs_log_error = sum / score.count;
  return score;
}

absl::StatusOr<PredictionScore> ScoreCurvePrediction(const ScalingCurve& predicted, const ScalingCurve& observed) {
  RETURN_IF_ERROR(ValidateScalingCurve(predicted));
  RETURN_IF_ERROR(ValidateScalingCurve(observed));
  absl::flat_hash_map<double, double> by_batch;
  for (size_t i = 0; i < predicted.steps.size(); ++i) {
    if (!by_batch.emplace(predicted.batch_sizes[i], predicted.steps[i]).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("ScoreCurvePrediction: predicted batch size ", predicted.batch_sizes[i], " repeats"));
    }
  }
  std::vector<double> matched_predicted, matched_observed;
  for (size_t i = 0; i < observed.steps.size(); ++i) {
    const auto it = by_batch.find(observed.batch_sizes[i]);
    if (it == by_batch.end()) continue;
    matched_predicted.push_back(it->second);
    matched_observed.push_back(observed.steps[i]);
  }
  if (matched_observed.empty()) {
    return absl::InvalidArgumentError("ScoreCurvePrediction: the curves share no batch size");
  }
  return ScorePrediction(matched_predicted, matched_observed);
}

}  // namespace parsity::theory
