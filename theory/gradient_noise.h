// The gradient noise of McCandlish et al. 2018 (theory/README.md, "The theory"): the squared norm of the full gradient
// |G|^2, the trace of the per-example gradient covariance tr(Sigma), and the simple noise scale B_simple = tr(Sigma) /
// |G|^2, the batch size around which steps-to-result stops scaling perfectly. Two estimators: from per-example
// gradients of a sample, and the two-batch-size estimator of McCandlish et al.'s Appendix A. Design note:
// theory/README.md.
//
//   ASSIGN_OR_RETURN(GradientNoiseEstimate noise,
//                    EstimateGradientNoise(*oracle, parameters, {.sample_size = 1000, .seed = step}));
//   ASSIGN_OR_RETURN(TwoBatchNoiseEstimate two, EstimateTwoBatchGradientNoise(*oracle, parameters,
//                    {.small_batch = 32, .big_batch = 1024, .pairs = 8, .seed = step}));
//
// Setting: the oracle's N examples with masked per-example gradients g_i = m ⊙ grad f_i(w) (gradient_oracle.h);
// G = (1/N) sum_i g_i; Sigma_N = (1/N) sum_i (g_i - G)(g_i - G)^T, and S^2 = N/(N-1) tr(Sigma_N) the
// finite-population variance. Nothing is assumed of the distribution of the g_i beyond finite variance; the
// statements below are exact expectations over the random sample, not approximations.
//
// Per-example estimator (EstimateGradientNoise). A sample I of n distinct examples, drawn uniformly without
// replacement (data::ShuffledIndices from std::mt19937_64(seed); n = N takes every example, no randomness):
//   Gbar = (1/n) sum_{i in I} g_i,    covariance_trace = (1/(n-1)) sum_{i in I} |g_i - Gbar|^2,
//   gradient_norm_squared = |Gbar|^2 - (1 - n/N) covariance_trace / n.
// covariance_trace is unbiased for S^2, and gradient_norm_squared for |G|^2, because E|Gbar|^2 = |G|^2 +
// (1 - n/N) S^2 / n under sampling without replacement; with n = N both are the exact values over the N examples.
// The unbiased |G|^2 can come out <= 0 when the noise dominates (late in training, small n): then
// simple_noise_scale = tr / |G|^2 is reported as +infinity. Standard error of covariance_trace: roughly
// sd(|g_i - G|^2) / sqrt(n). Cost: one batch gradient of the n examples plus n single-example gradients.
//
// Two-batch estimator (EstimateTwoBatchGradientNoise), McCandlish et al. Appendix A. Per pair, a big batch of
// B_big example indices drawn uniformly WITH replacement (iid, their model of a minibatch), the small batch being its
// first B_small: then E|G_B|^2 = |G|^2 + tr(Sigma_N) / B exactly for both, and the per-pair estimates
//   |G|^2_est = (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small),
//   tr_est    = (|G_small|^2 - |G_big|^2) / (1/B_small - 1/B_big)
// are unbiased for |G|^2 and tr(Sigma_N) (note: N, not N - 1, in the denominator; the two targets differ by a
// factor (N-1)/N, 0.99998 on MNIST). They are averaged over `pairs` pairs from std::mt19937_64(seed); the
// reported noise scale is the ratio of the averages (biased, as any ratio; consistent as pairs grow). Cost: B_big
// examples of batch gradients per pair (two batched calls).
#ifndef PARSITY_THEORY_GRADIENT_NOISE_H_
#define PARSITY_THEORY_GRADIENT_NOISE_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "theory/gradient_oracle.h"

namespace parsity::theory {

struct GradientNoiseOptions {
  // Examples n in the sample: 2 <= n <= N, or 0 for all N examples (exact, no sampling).
  int64_t sample_size = 1000;
  uint64_t seed = 0;  // Of the sample.

  // Sharing the per-example pass among `parts` processes (experiments/measure.cc under MPI), every one calling with
  // the same w and options except `part`: the mean Gbar comes from `oracle`, which must then be a collective oracle
  // giving every process the same result (theory/sharded_gradient_oracle.h); this process computes the
  // per-example gradients of the sample positions [part n / parts, (part + 1) n / parts) with `per_example_oracle`
  // (its own, over the same examples and mask); and `sum_parts` adds one number over the processes (an all-reduce).
  // Every process returns the same estimate, which equals the one-process estimate up to the order of the float
  // additions. Defaults: one process does everything with `oracle`.
  int part = 0;
  int parts = 1;
  GradientOracle* per_example_oracle = nullptr;
  std::function<double(double)> sum_parts = nullptr;
};

struct GradientNoiseEstimate {
  int64_t sample_size = 0;                  // n.
  int64_t example_count = 0;                // N.
  double loss = 0;                          // Mean loss over the sample.
  double sample_gradient_norm_squared = 0;  // |Gbar|^2 (biased upwards by (1 - n/N) S^2 / n).
  double gradient_norm_squared = 0;         // Unbiased |G|^2; may be <= 0 when the noise dominates.
  double covariance_trace = 0;              // Unbiased S^2 = N/(N-1) tr(Sigma_N).
  double simple_noise_scale = 0;            // covariance_trace / gradient_norm_squared; +infinity if the latter <= 0.
};

// The per-example estimator (see the header comment). Errors: InvalidArgument when w does not have
// oracle.dimension() entries or is not finite, or the sample is too small or too large (sample_size 1, negative, or
// above N; N < 2 with sample_size 0), or the sharing options are inconsistent (parts < 1, part outside [0, parts),
// parts > 1 without per_example_oracle and sum_parts, a per_example_oracle of another dimension or example count);
// FailedPrecondition when a gradient is not finite.
absl::StatusOr<GradientNoiseEstimate> EstimateGradientNoise(GradientOracle& oracle, absl::Span<const float> w,
                                                            const GradientNoiseOptions& options = {});

struct TwoBatchNoiseOptions {
  int64_t small_batch = 0;  // B_small >= 1.
  int64_t big_batch = 0;    // B_big > B_small.
  int64_t pairs = 10;       // Batch pairs averaged: >= 1 (>= 2 for standard errors).
  uint64_t seed = 0;        // Of the batches.
};

struct TwoBatchNoiseEstimate {
  int64_t pairs = 0;
  double gradient_norm_squared = 0;  // Mean of the per-pair |G|^2 estimates (unbiased; may be <= 0).
  double covariance_trace = 0;       // Mean of the per-pair tr(Sigma_N) estimates (unbiased).
  double simple_noise_scale = 0;     // covariance_trace / gradient_norm_squared; +infinity if the latter <= 0.
  // Standard errors of the two means: the sample standard deviation of the per-pair estimates / sqrt(pairs); NaN
  // with one pair.
  double gradient_norm_squared_standard_error = 0;
  double covariance_trace_standard_error = 0;
};

// The two-batch estimator (see the header comment). Errors: InvalidArgument when w does not have
// oracle.dimension() entries or is not finite, small_batch < 1, big_batch <= small_batch, or pairs < 1;
// FailedPrecondition when a gradient is not finite.
absl::StatusOr<TwoBatchNoiseEstimate> EstimateTwoBatchGradientNoise(GradientOracle& oracle, absl::Span<const float> w,
                                                                    const TwoBatchNoiseOptions& options);

}  // namespace parsity::theory

#endif  // PARSITY_THEORY_GRADIENT_NOISE_H_
