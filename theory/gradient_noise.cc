#include "theory/gradient_noise.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/base/aligned_vector.h"
#include "training/data/shuffle.h"

namespace parsity::theory {
namespace {

bool AllFinite(absl::Span<const float> values) {
  for (const float value : values) {
    if (!std::isfinite(value)) return false;
  }
  return true;
}

double SquaredNorm(absl::Span<const float> values) {
  double sum = 0;
  for (const float value : values) sum += static_cast<double>(value) * value;
  return sum;
}

double NoiseScale(double covariance_trace, double gradient_norm_squared) {
  return gradient_norm_squared > 0 ? covariance_trace / gradient_norm_squared : std::numeric_limits<double>::infinity();
}

double Mean(const std::vector<double>& values) {
  double sum = 0;
  for (const double value : values) sum += value;
  return sum / static_cast<double>(values.size());
}

// Sample standard deviation / sqrt(count), two-pass; NaN for fewer than two values.
double StandardError(const std::vector<double>& values, double mean) {
  const auto count = static_cast<double>(values.size());
  if (values.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  double squares = 0;
  for (const double value : values) squares += (value - mean) * (value - mean);
  return std::sqrt(squares / (count - 1) / count);
}

absl::Status CheckPoint(const GradientOracle& oracle, absl::Span<const float> w, absl::string_view what) {
  if (static_cast<int64_t>(w.size()) != oracle.dimension()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the point has ", w.size(), " entries, the model ", oracle.dimension()));
  }
  if (!AllFinite(w)) return absl::InvalidArgumentError(absl::StrCat(what, ": the point is not finite"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GradientNoiseEstimate> EstimateGradientNoise(GradientOracle& oracle, absl::Span<const float> w,
                                                            const GradientNoiseOptions& options) {
  constexpr absl::string_view kWhat = "gradient noise";
  if (absl::Status status = CheckPoint(oracle, w, kWhat); !status.ok()) return status;
  const int64_t population = oracle.example_count();
  const int64_t n = options.sample_size == 0 ? population : options.sample_size;
  if (n < 2 || n > population) {
    return absl::InvalidArgumentError(absl::StrCat(kWhat, ": sample_size ", options.sample_size,
                                                   " must be 0 (all) or in [2, ", population,
                                                   "], the examples available (at least 2 needed)"));
  }
  if (options.parts < 1 || options.part < 0 || options.part >= options.parts) {
    return absl::InvalidArgumentError(absl::StrCat(kWhat, ": part ", options.part, " of ", options.parts,
                                                   " parts: need parts >= 1 and 0 <= part < parts"));
  }
  if (options.parts > 1 && (options.per_example_oracle == nullptr || !options.sum_parts)) {
    return absl::InvalidArgumentError(
        absl::StrCat(kWhat, ": ", options.parts, " parts need per_example_oracle and sum_parts"));
  }
  GradientOracle& per_example = options.per_example_oracle != nullptr ? *options.per_example_oracle : oracle;
  if (per_example.dimension() != oracle.dimension() || per_example.example_count() != population) {
    return absl::InvalidArgumentError(absl::StrCat(kWhat, ": per_example_oracle has ", per_example.dimension(),
                                                   " parameters and ", per_example.example_count(),
                                                   " examples, the oracle ", oracle.dimension(), " and ", population));
  }
  std::vector<int64_t> sample;
  if (n == population) {
    sample.resize(population);
    for (int64_t i = 0; i < population; ++i) sample[i] = i;
  } else {
    std::mt19937_64 engine(options.seed);
    sample = data::ShuffledIndices(population, engine);
    sample.resize(n);
  }

  const int64_t dimension = oracle.dimension();
  AlignedFloatVector mean(dimension), gradient(dimension);
  GradientNoiseEstimate estimate;
  estimate.sample_size = n;
  estimate.example_count = population;
  estimate.loss = oracle.BatchGradient(w, sample, absl::MakeSpan(mean));
  if (!AllFinite(mean)) return absl::FailedPreconditionError(absl::StrCat(kWhat, ": the gradient is not finite"));
  // Two passes (the mean first) avoid the cancellation of sum |g_i|^2 - n |Gbar|^2 when |G|^2 >> tr / n.
  double deviation_sum = 0;
  const int64_t begin = options.part * n / options.parts, end = (options.part + 1) * n / options.parts;
  for (int64_t position = begin; position < end; ++position) {
    per_example.BatchGradient(w, absl::MakeConstSpan(&sample[position], 1), absl::MakeSpan(gradient));
    double deviation = 0;
    for (int64_t j = 0; j < dimension; ++j) {
      const double difference = static_cast<double>(gradient[j]) - mean[j];
      deviation += difference * difference;
    }
    deviation_sum += deviation;
  }
  // A part's non-finite sum makes the total non-finite, so every process returns the same error.
  if (options.parts > 1) deviation_sum = options.sum_parts(deviation_sum);
  if (!std::isfinite(deviation_sum)) {
    return absl::FailedPreconditionError(absl::StrCat(kWhat, ": a per-example gradient is not finite"));
  }
  estimate.covariance_trace = deviation_sum / static_cast<double>(n - 1);
  estimate.sample_gradient_norm_squared = SquaredNorm(mean);
  const double finite_population = 1.0 - static_cast<double>(n) / static_cast<double>(population);
  estimate.gradient_norm_squared =
      estimate.sample_gradient_norm_squared - finite_population * estimate.covariance_trace / static_cast<double>(n);
  estimate.simple_noise_scale = NoiseScale(estimate.covariance_trace, estimate.gradient_norm_squared);
  return estimate;
}

absl::StatusOr<TwoBatchNoiseEstimate> EstimateTwoBatchGradientNoise(GradientOracle& oracle, absl::Span<const float> w,
                                                                    const TwoBatchNoiseOptions& options) {
  constexpr absl::string_view kWhat = "two-batch gradient noise";
  if (absl::Status status = CheckPoint(oracle, w, kWhat); !status.ok()) return status;
  const int64_t small = options.small_batch, big = options.big_batch;
  if (small < 1 || big <= small) {
    return absl::InvalidArgumentError(absl::StrCat(kWhat, ": small_batch ", small, " and big_batch ", big,
                                                   " must satisfy 1 <= small_batch < big_batch"));
  }
  if (options.pairs < 1) {
    return absl::InvalidArgumentError(absl::StrCat(kWhat, ": pairs ", options.pairs, " must be >= 1"));
  }
  const int64_t dimension = oracle.dimension();
  const auto population = static_cast<uint64_t>(oracle.example_count());
  std::mt19937_64 engine(options.seed);
  std::vector<int64_t> indices(big);
  AlignedFloatVector small_gradient(dimension), rest_gradient(dimension);
  const double small_weight = static_cast<double>(small) / static_cast<double>(big);
  std::vector<double> norms, traces;  // The per-pair estimates.
  for (int64_t pair = 0; pair < options.pairs; ++pair) {
    for (int64_t& index : indices) index = static_cast<int64_t>(data::UniformIndex(engine, population));
    const absl::Span<const int64_t> all(indices);
    oracle.BatchGradient(w, all.subspan(0, small), absl::MakeSpan(small_gradient));
    oracle.BatchGradient(w, all.subspan(small), absl::MakeSpan(rest_gradient));
    // G_big is the example-weighted mean of the small batch and the rest of the big one.
    double small_norm = 0, big_norm = 0;
    for (int64_t j = 0; j < dimension; ++j) {
      const double g_small = small_gradient[j];
      const double g_big = small_weight * g_small + (1 - small_weight) * static_cast<double>(rest_gradient[j]);
      small_norm += g_small * g_small;
      big_norm += g_big * g_big;
    }
    if (!std::isfinite(small_norm) || !std::isfinite(big_norm)) {
      return absl::FailedPreconditionError(absl::StrCat(kWhat, ": a batch gradient is not finite"));
    }
    const double b_small = static_cast<double>(small), b_big = static_cast<double>(big);
    const double norm = (b_big * big_norm - b_small * small_norm) / (b_big - b_small);
    const double trace = (small_norm - big_norm) / (1 / b_small - 1 / b_big);
    norms.push_back(norm);
    traces.push_back(trace);
  }
  TwoBatchNoiseEstimate estimate;
  estimate.pairs = options.pairs;
  estimate.gradient_norm_squared = Mean(norms);
  estimate.covariance_trace = Mean(traces);
  estimate.simple_noise_scale = NoiseScale(estimate.covariance_trace, estimate.gradient_norm_squared);
  estimate.gradient_norm_squared_standard_error = StandardError(norms, estimate.gradient_norm_squared);
  estimate.covariance_trace_standard_error = StandardError(traces, estimate.covariance_trace);
  return estimate;
}

}  // namespace parsity::theory
