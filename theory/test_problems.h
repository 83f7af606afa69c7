// Closed-form problems for testing the theory estimators (testonly): a quadratic with a chosen spectrum and a
// least-squares regression with Gaussian inputs and noise, both as GradientOracles with exact double-precision
// references and population (infinite-data) values.
//
//   QuadraticOracle quadratic(SymmetricMatrixWithSpectrum({10, 5, 1, ...}, /*seed=*/1));
//   ASSIGN_OR_RETURN(HessianEigenvalueEstimate top, EstimateHessianTopEigenvalue(quadratic, w));   // ~10
#ifndef PARSITY_THEORY_TEST_PROBLEMS_H_
#define PARSITY_THEORY_TEST_PROBLEMS_H_

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "Eigen/Core"
#include "absl/types/span.h"
#include "theory/gradient_oracle.h"
#include "training/data/examples.h"
#include "training/nn/network.h"
#include "training/nn/mask.h"

namespace parsity::theory::testing {

// A standard normal deviate by Box-Muller on 53-bit uniforms of raw engine output (portable).
double StandardNormal(std::mt19937_64& engine);

// A = Q diag(eigenvalues) Q^T, Q orthogonal (the Q factor of a Gaussian matrix from std::mt19937_64(seed)).
Eigen::MatrixXd SymmetricMatrixWithSpectrum(const std::vector<double>& eigenvalues, uint64_t seed);

// f(w) = 1/2 w^T A w, a single "example" (example_count() == 1). The gradient A w is computed in double and rounded
// to float, so each entry is within half a float ulp of the exact value. REQUIRES: A square and symmetric.
class QuadraticOracle final : public GradientOracle {
 public:
  explicit QuadraticOracle(Eigen::MatrixXd a, const nn::Mask* mask = nullptr);
  const Eigen::MatrixXd& matrix() const { return a_; }

 protected:
  double ComputeGradient(absl::Span<const float> w, absl::Span<float> gradient) override;
  double ComputeBatchGradient(absl::Span<const float> w, absl::Span<const int64_t> indices,
                              absl::Span<float> gradient) override;

 private:
  Eigen::MatrixXd a_;
};

// The data model of LeastSquaresOracle: x ~ N(0, C) with C = diag(variances), y = x^T w_star + noise_std * e,
// e ~ N(0, 1) independent of x.
struct LeastSquaresModel {
  std::vector<double> variances;  // Diagonal of C, d entries > 0.
  std::vector<double> w_star;     // d entries.
  double noise_std = 1;

  // Population values at w (u = w - w_star) of the per-example gradient g = x (x^T w - y) = x x^T u - x noise_std e:
  //   G = E g = C u,   Sigma = Cov g = (u^T C u + noise_std^2) C + C u u^T C   (Gaussian fourth moments),
  // restricted to the kept coordinates of `mask` (null: all) and taken at the pruned point m ⊙ w, as the masked
  // oracles are: |P G|^2 and tr(P Sigma P).
  double PopulationGradientNormSquared(absl::Span<const float> w, const nn::Mask* mask = nullptr) const;
  double PopulationCovarianceTrace(absl::Span<const float> w, const nn::Mask* mask = nullptr) const;
  // G^T Sigma G = (u^T C u + noise_std^2) u^T C^3 u + (u^T C^2 u)^2, unmasked: the variance of G^T g, so that
  // |G_bar|^2 - |G|^2 ≈ 2 G^T (G_bar - G) has standard deviation 2 sqrt(G^T Sigma G / n) for a mean of n examples.
  double PopulationGradientVariance(absl::Span<const float> w) const;
};

// f_i(w) = 1/2 (x_i^T w - y_i)^2 over N examples drawn from `model` with std::mt19937_64(seed). Gradients are
// computed in double and rounded to float.
class LeastSquaresOracle final : public GradientOracle {
 public:
  LeastSquaresOracle(const LeastSquaresModel& model, int64_t examples, uint64_t seed,
                     const nn::Mask* mask = nullptr);

  // The exact (double) masked gradient of example i at the pruned point: m ⊙ grad f_i(m ⊙ w).
  Eigen::VectorXd ExampleGradient(absl::Span<const float> w, int64_t i) const;

  // Exact moments over the N examples, in double, masked: |G|^2 and sum_i |g_i - G|^2.
  struct Moments {
    double gradient_norm_squared = 0;
    double deviation_sum = 0;  // sum_i |g_i - G|^2: tr(Sigma_N) = deviation_sum / N, S^2 = deviation_sum / (N-1).
  };
  Moments ExactMoments(absl::Span<const float> w) const;

 protected:
  double ComputeGradient(absl::Span<const float> w, absl::Span<float> gradient) override;
  double ComputeBatchGradient(absl::Span<const float> w, absl::Span<const int64_t> indices,
                              absl::Span<float> gradient) override;

 private:
  Eigen::MatrixXd x_;  // N x d.
  Eigen::VectorXd y_;  // N.
};

// A tiny ReLU network for estimator tests on the real training engine: input 6x6x1, fc1 36->16, ReLU, fc2 16->10
// (762 parameters).
std::unique_ptr<nn::Network> TinyNetwork();

// `count` examples for TinyNetwork: standard normal pixels, labels from a fixed random linear "teacher" (argmax of
// 10 projections) so that the loss has structure. Deterministic in `seed`.
data::Examples TinyNetworkExamples(int64_t count, uint64_t seed);

// A mask of `size` entries keeping each with probability 1/2 (from `seed`), at least one kept.
nn::Mask RandomHalfMask(int64_t size, uint64_t seed);

}  // namespace parsity::theory::testing

#endif  // PARSITY_THEORY_TEST_PROBLEMS_H_
