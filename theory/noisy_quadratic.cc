#include "theory/noisy_quadratic.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tools/base/check.h"
#include "tools/base/status_macros.h"

namespace parsity::theory {
namespace {

constexpr double kTwoToMinus53 = 1.0 / 9007199254740992.0;
constexpr double kTwoPi = 6.283185307179586476925286766559;

enum class Sign { kPositive, kNonNegative, kAny };

absl::Status CheckVector(absl::string_view name, const std::vector<double>& values, size_t size, Sign sign) {
  if (values.size() != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("NoisyQuadratic.", name, " has ", values.size(), " entries, curvatures has ", size));
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const double value = values[i];
    const bool ok = std::isfinite(value) && (sign == Sign::kAny || (sign == Sign::kPositive ? value > 0 : value >= 0));
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("NoisyQuadratic.", name, "[", i, "] = ", value, " must be finite",
                       sign == Sign::kPositive ? " and > 0" : (sign == Sign::kNonNegative ? " and >= 0" : "")));
    }
  }
  return absl::OkStatus();
}

// Per-coordinate weights q_i of the criterion sum_i q_i w_i^2.
std::vector<double> CriterionWeights(const NoisyQuadratic& problem, Criterion criterion) {
  std::vector<double> weights(problem.curvatures.size());
  for (size_t i = 0; i < weights.size(); ++i) {
    const double h = problem.curvatures[i];
    weights[i] = criterion == Criterion::kLoss ? 0.5 * h : h * h;
  }
  return weights;
}

// The lockstep race of several learning rates (TuneLearningRate's contract). `learning_rates` ascending.
struct RaceResult {
  int winner = -1;  // Index into learning_rates, -1 if none reached the goal.
  int64_t steps = 0;
  std::vector<RunResult> runs;  // One per learning rate: reached only for the winner(s) at `steps`.
};

template <bool kMomentum>
void RaceStep(absl::Span<const double> h, absl::Span<const double> noise_scale, absl::Span<const double> weights,
              absl::Span<const double> z, double learning_rate, double momentum, double* w, double* v, double& value) {
  const size_t d = h.size();
  double accumulator = 0;
  for (size_t i = 0; i < d; ++i) {
    const double gradient = h[i] * w[i] + noise_scale[i] * z[i];
    double wi;
    if constexpr (kMomentum) {
      const double vi = momentum * v[i] + gradient;
      v[i] = vi;
      wi = w[i] - learning_rate * vi;
    } else {
      wi = w[i] - learning_rate * gradient;
    }
    w[i] = wi;
    accumulator += weights[i] * wi * wi;
  }
  value = accumulator;
}

RaceResult Race(const NoisyQuadratic& problem, const RunSettings& settings, absl::Span<const double> learning_rates) {
  const size_t d = problem.curvatures.size();
  const size_t runs = learning_rates.size();
  const std::vector<double> weights = CriterionWeights(problem, settings.criterion);
  std::vector<double> noise_scale(d);
  for (size_t i = 0; i < d; ++i) {
    noise_scale[i] = std::sqrt(problem.noise_variances[i] / static_cast<double>(settings.batch_size));
  }
  const double initial_value = CriterionValue(problem, settings.criterion, problem.initial_point);
  const double divergence_threshold = kDivergenceFactor * std::max(initial_value, settings.goal);

  RaceResult result;
  result.runs.assign(runs, RunResult{});
  for (RunResult& run : result.runs) run.final_value = initial_value;
  if (initial_value <= settings.goal) {
    for (RunResult& run : result.runs) run.reached = true;
    result.winner = runs > 0 ? 0 : -1;
    return result;
  }

  std::vector<double> w(runs * d), v(runs * d, 0.0);
  for (size_t r = 0; r < runs; ++r) std::copy(problem.initial_point.begin(), problem.initial_point.end(), &w[r * d]);
  std::vector<char> live(runs, 1);
  size_t live_count = runs;
  std::vector<double> z(d + (d % 2));
  std::mt19937_64 engine(settings.seed);
  const bool momentum = settings.momentum != 0;

  for (int64_t step = 1; step <= settings.max_steps && live_count > 0; ++step) {
    FillStandardNormals(engine, absl::MakeSpan(z));
    for (size_t r = 0; r < runs; ++r) {
      if (!live[r]) continue;
      double value = 0;
      if (momentum) {
        RaceStep<true>(problem.curvatures, noise_scale, weights, z, learning_rates[r], settings.momentum, &w[r * d],
                       &v[r * d], value);
      } else {
        RaceStep<false>(problem.curvatures, noise_scale, weights, z, learning_rates[r], 0.0, &w[r * d], nullptr, value);
      }
      RunResult& run = result.runs[r];
      run.steps = step;
      run.final_value = value;
      if (!(value <= divergence_threshold)) {  // Also catches NaN.
        run.diverged = true;
        live[r] = 0;
        --live_count;
      } else if (value <= settings.goal) {
        run.reached = true;
        if (result.winner < 0) {
          result.winner = static_cast<int>(r);
          result.steps = step;
        }
      }
    }
    if (result.winner >= 0) return result;
  }
  return result;
}

// min * 2^(j / per_octave) for j = 0, 1, ... while <= max (with a relative slack of 1e-9 for rounding).
std::vector<double> LogGrid(double min, double max, int per_octave) {
  std::vector<double> grid;
  for (int j = 0;; ++j) {
    const double value = min * std::exp2(static_cast<double>(j) / per_octave);
    if (value > max * (1 + 1e-9)) break;
    grid.push_back(value);
  }
  return grid;
}

}  // namespace

absl::Status ValidateNoisyQuadratic(const NoisyQuadratic& problem) {
  const size_t d = problem.curvatures.size();
  if (d == 0) return absl::InvalidArgumentError("NoisyQuadratic.curvatures is empty");
  RETURN_IF_ERROR(CheckVector("curvatures", problem.curvatures, d, Sign::kPositive));
  RETURN_IF_ERROR(CheckVector("noise_variances", problem.noise_variances, d, Sign::kNonNegative));
  RETURN_IF_ERROR(CheckVector("initial_point", problem.initial_point, d, Sign::kAny));
  return absl::OkStatus();
}

absl::StatusOr<NoisyQuadratic> MakeInverseIndexQuadratic(int dimension) {
  if (dimension < 1) {
    return absl::InvalidArgumentError(absl::StrCat("NQM dimension = ", dimension, " must be >= 1"));
  }
  NoisyQuadratic problem;
  problem.curvatures.resize(dimension);
  for (int i = 0; i < dimension; ++i) problem.curvatures[i] = 1.0 / (i + 1);
  problem.noise_variances = problem.curvatures;
  problem.initial_point.assign(dimension, 1.0);
  return problem;
}

double LipschitzConstant(const NoisyQuadratic& problem) {
  return *std::max_element(problem.curvatures.begin(), problem.curvatures.end());
}

double InitialGap(const NoisyQuadratic& problem) {
  return CriterionValue(problem, Criterion::kLoss, problem.initial_point);
}

double NoiseVariance(const NoisyQuadratic& problem) {
  double sum = 0;
  for (double c : problem.noise_variances) sum += c;
  return sum;
}

absl::string_view CriterionName(Criterion criterion) {
  switch (criterion) {
    case Criterion::kLoss:
      return "loss";
    case Criterion::kGradientNormSquared:
      return "gradient_norm_squared";
  }
  return "unknown";
}

absl::StatusOr<Criterion> ParseCriterion(absl::string_view name) {
  if (name == "loss") return Criterion::kLoss;
  if (name == "gradient_norm_squared") return Criterion::kGradientNormSquared;
  return absl::InvalidArgumentError(
      absl::StrCat("criterion \"", name, "\" is not one of: loss, gradient_norm_squared"));
}

double CriterionValue(const NoisyQuadratic& problem, Criterion criterion, absl::Span<const double> w) {
  PARSITY_CHECK(w.size() == problem.curvatures.size());
  double sum = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const double h = problem.curvatures[i];
    sum += (criterion == Criterion::kLoss ? 0.5 * h : h * h) * w[i] * w[i];
  }
  return sum;
}

absl::Status ValidateRunSettings(const RunSettings& settings) {
  if (!(settings.learning_rate > 0) || !std::isfinite(settings.learning_rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat("RunSettings.learning_rate = ", settings.learning_rate, " must be finite and > 0"));
  }
  if (!(settings.momentum >= 0 && settings.momentum < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("RunSettings.momentum = ", settings.momentum, " is not in [0, 1)"));
  }
  if (settings.batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("RunSettings.batch_size = ", settings.batch_size, " must be >= 1"));
  }
  if (!(settings.goal > 0) || !std::isfinite(settings.goal)) {
    return absl::InvalidArgumentError(absl::StrCat("RunSettings.goal = ", settings.goal, " must be finite and > 0"));
  }
  if (settings.max_steps < 0) {
    return absl::InvalidArgumentError(absl::StrCat("RunSettings.max_steps = ", settings.max_steps, " must be >= 0"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RunResult> SimulateRun(const NoisyQuadratic& problem, const RunSettings& settings) {
  RETURN_IF_ERROR(ValidateNoisyQuadratic(problem));
  RETURN_IF_ERROR(ValidateRunSettings(settings));
  const double learning_rate[] = {settings.learning_rate};
  return Race(problem, settings, learning_rate).runs[0];
}

absl::StatusOr<std::vector<double>> ExpectedCriterion(const NoisyQuadratic& problem, const RunSettings& settings,
                                                      int64_t steps) {
  RETURN_IF_ERROR(ValidateNoisyQuadratic(problem));
  RETURN_IF_ERROR(ValidateRunSettings(settings));
  if (steps < 0) return absl::InvalidArgumentError(absl::StrCat("ExpectedCriterion: steps = ", steps, " < 0"));
  const size_t d = problem.curvatures.size();
  const std::vector<double> weights = CriterionWeights(problem, settings.criterion);
  const double eta = settings.learning_rate;
  const double m = settings.momentum;
  // Second moments of (w_i, v_i): E[w^2], E[w v], E[v^2].
  std::vector<double> ww(d), wv(d, 0.0), vv(d, 0.0);
  for (size_t i = 0; i < d; ++i) ww[i] = problem.initial_point[i] * problem.initial_point[i];
  std::vector<double> values;
  values.reserve(static_cast<size_t>(steps) + 1);
  auto criterion = [&] {
    double sum = 0;
    for (size_t i = 0; i < d; ++i) sum += weights[i] * ww[i];
    return sum;
  };
  values.push_back(criterion());
  for (int64_t k = 0; k < steps; ++k) {
    for (size_t i = 0; i < d; ++i) {
      const double h = problem.curvatures[i];
      const double q = problem.noise_variances[i] / static_cast<double>(settings.batch_size);
      const double a = 1 - eta * h, b = -eta * m;
      const double new_ww = a * a * ww[i] + 2 * a * b * wv[i] + b * b * vv[i] + q * eta * eta;
      const double new_wv = a * h * ww[i] + (a * m + b * h) * wv[i] + b * m * vv[i] - q * eta;
      const double new_vv = h * h * ww[i] + 2 * h * m * wv[i] + m * m * vv[i] + q;
      ww[i] = new_ww;
      wv[i] = new_wv;
      vv[i] = new_vv;
    }
    values.push_back(criterion());
  }
  return values;
}

absl::Status ValidateTuningOptions(const TuningOptions& options) {
  if (!(options.min_learning_rate > 0) || !std::isfinite(options.min_learning_rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat("TuningOptions.min_learning_rate = ", options.min_learning_rate, " must be finite and > 0"));
  }
  if (!(options.max_learning_rate >= options.min_learning_rate) || !std::isfinite(options.max_learning_rate)) {
    return absl::InvalidArgumentError(absl::StrCat("TuningOptions.max_learning_rate = ", options.max_learning_rate,
                                                   " must be finite and >= min_learning_rate"));
  }
  if (options.coarse_points_per_octave < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("TuningOptions.coarse_points_per_octave = ", options.coarse_points_per_octave, " must be >= 1"));
  }
  if (options.fine_points_per_octave < options.coarse_points_per_octave) {
    return absl::InvalidArgumentError(
        absl::StrCat("TuningOptions.fine_points_per_octave = ", options.fine_points_per_octave,
                     " must be >= coarse_points_per_octave"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TunedPoint> TuneLearningRate(const NoisyQuadratic& problem, const RunSettings& settings,
                                            const TuningOptions& options) {
  RETURN_IF_ERROR(ValidateNoisyQuadratic(problem));
  RETURN_IF_ERROR(ValidateRunSettings(settings));
  RETURN_IF_ERROR(ValidateTuningOptions(options));
  TunedPoint point;
  point.batch_size = settings.batch_size;
  point.steps = settings.max_steps;

  const std::vector<double> coarse =
      LogGrid(options.min_learning_rate, options.max_learning_rate, options.coarse_points_per_octave);
  const RaceResult coarse_race = Race(problem, settings, coarse);
  point.runs = static_cast<int>(coarse.size());
  if (coarse_race.winner < 0) return point;

  // Fine grid: one coarse spacing either side of the coarse winner, clipped to [min, max].
  const double center = coarse[coarse_race.winner];
  const int half = options.fine_points_per_octave / options.coarse_points_per_octave;
  std::vector<double> fine;
  for (int k = -half; k <= half; ++k) {
    const double value = center * std::exp2(static_cast<double>(k) / options.fine_points_per_octave);
    if (value >= options.min_learning_rate * (1 - 1e-9) && value <= options.max_learning_rate * (1 + 1e-9)) {
      fine.push_back(k == 0 ? center : value);
    }
  }
  const RaceResult fine_race = Race(problem, settings, fine);
  point.runs += static_cast<int>(fine.size());
  PARSITY_CHECK(fine_race.winner >= 0);  // The coarse winner is in the fine grid and reaches the goal again.
  point.reached = true;
  point.learning_rate = fine[fine_race.winner];
  point.steps = fine_race.steps;
  return point;
}

absl::StatusOr<std::vector<TunedPoint>> MeasureStepsToResultCurve(const NoisyQuadratic& problem,
                                                                  const RunSettings& settings,
                                                                  absl::Span<const int64_t> batch_sizes,
                                                                  const TuningOptions& options) {
  if (batch_sizes.empty()) return absl::InvalidArgumentError("MeasureStepsToResultCurve: no batch sizes");
  std::vector<TunedPoint> points;
  points.reserve(batch_sizes.size());
  for (int64_t batch_size : batch_sizes) {
    if (batch_size < 1) {
      return absl::InvalidArgumentError(absl::StrCat("MeasureStepsToResultCurve: batch size ", batch_size, " < 1"));
    }
    RunSettings at_batch = settings;
    at_batch.batch_size = batch_size;
    ASSIGN_OR_RETURN(TunedPoint point, TuneLearningRate(problem, at_batch, options));
    points.push_back(point);
  }
  return points;
}

void StandardNormalPair(std::mt19937_64& engine, double& first, double& second) {
  const double u1 = (static_cast<double>(engine() >> 11) + 1) * kTwoToMinus53;  // (0, 1]
  const double u2 = static_cast<double>(engine() >> 11) * kTwoToMinus53;        // [0, 1)
  const double radius = std::sqrt(-2 * std::log(u1));
  const double angle = kTwoPi * u2;
  first = radius * std::cos(angle);
  second = radius * std::sin(angle);
}

void FillStandardNormals(std::mt19937_64& engine, absl::Span<double> out) {
  size_t i = 0;
  for (; i + 1 < out.size(); i += 2) StandardNormalPair(engine, out[i], out[i + 1]);
  if (i < out.size()) {
    double discarded;
    StandardNormalPair(engine, out[i], discarded);
  }
}

}  // namespace parsity::theory
