#include "theory/hessian_top_eigenvalue.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "Eigen/Core"
#include "Eigen/Eigenvalues"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "theory/test_problems.h"
#include "tools/base/status_matchers.h"
#include "training/nn/mask.h"

namespace parsity::theory {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int kDimension = 50;

// A spectrum whose largest-magnitude eigenvalue is `top` and whose next is `second` (|second| < |top|); the other
// 48 lie evenly in [-4, 4].
std::vector<double> Spectrum(double top, double second) {
  std::vector<double> eigenvalues = {top, second};
  for (int k = 0; k < kDimension - 2; ++k) eigenvalues.push_back(-4.0 + 8.0 * k / (kDimension - 3));
  return eigenvalues;
}

std::vector<float> RandomPoint(uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::vector<float> w(kDimension);
  for (float& value : w) value = static_cast<float>(testing::StandardNormal(engine));
  return w;
}

// A quadratic is smooth, so the tests use the cube-root step cbrt(FLT_EPSILON) ≈ 4.9e-3, optimal for smooth
// objectives (the default 1e-4 is chosen for ReLU networks). The float gradients' rounding then makes each
// Hessian-vector product accurate to about eps_float ||A w|| / h ~ 1e-5 relative here (||w|| ~ 7, h ~ 0.04) and the
// Rayleigh quotient to about 1e-6: a tolerance of 1e-5 on its relative change is attainable, and stopping there
// leaves a relative error of about tol r^2 / (1 - r^2) (r the gap ratio). The tests allow 1e-4.
constexpr double kSmoothStep = 4.9e-3;
constexpr double kTolerance = 1e-5;
constexpr double kRelativeError = 1e-4;

TEST(HessianTopEigenvalueTest, FindsTheLargestPositiveEigenvalueOfAQuadratic) {
  testing::QuadraticOracle oracle(testing::SymmetricMatrixWithSpectrum(Spectrum(10.0, 5.0), /*seed=*/1));
  const std::vector<float> w = RandomPoint(2);
  ASSERT_OK_AND_ASSIGN(const HessianEigenvalueEstimate top,
                       EstimateHessianTopEigenvalue(
                           oracle, w, {.max_iterations = 200, .tolerance = kTolerance, .relative_step = kSmoothStep}));
  EXPECT_TRUE(top.converged);
  EXPECT_NEAR(top.eigenvalue, 10.0, kRelativeError * 10.0);
  EXPECT_EQ(top.magnitude, std::abs(top.eigenvalue));
  EXPECT_LT(top.iterations, 40);  // The error falls like 0.25^k.
  EXPECT_LT(top.residual, 1e-2);
  double w_norm_squared = 0;
  for (const float value : w) w_norm_squared += static_cast<double>(value) * value;
  EXPECT_DOUBLE_EQ(top.finite_difference_step, kSmoothStep * (1 + std::sqrt(w_norm_squared)));
  // The eigenvector is the top one: |<u, A u>| / |u|^2 = 10 in double.
  Eigen::VectorXd u(kDimension);
  for (int i = 0; i < kDimension; ++i) u[i] = top.eigenvector[i];
  EXPECT_NEAR(u.norm(), 1.0, 1e-6);
  EXPECT_NEAR(u.dot(oracle.matrix() * u), 10.0, 1e-3);
}

TEST(HessianTopEigenvalueTest, ReturnsANegativeEigenvalueWhenItHasTheLargestMagnitude) {
  testing::QuadraticOracle oracle(testing::SymmetricMatrixWithSpectrum(Spectrum(-12.0, 6.0), /*seed=*/3));
  ASSERT_OK_AND_ASSIGN(
      const HessianEigenvalueEstimate top,
      EstimateHessianTopEigenvalue(oracle, RandomPoint(4),
                                   {.max_iterations = 200, .tolerance = kTolerance, .relative_step = kSmoothStep}));
  EXPECT_TRUE(top.converged);
  EXPECT_NEAR(top.eigenvalue, -12.0, kRelativeError * 12.0);
  EXPECT_NEAR(top.magnitude, 12.0, kRelativeError * 12.0);
}

TEST(HessianTopEigenvalueTest, MaskedEstimateIsTheTopEigenvalueOfTheKeptSubmatrix) {
  const nn::Mask mask = testing::RandomHalfMask(kDimension, /*seed=*/5);
  const Eigen::MatrixXd a = testing::SymmetricMatrixWithSpectrum(Spectrum(20.0, 2.0), /*seed=*/6);
  std::vector<int> kept;
  for (int i = 0; i < kDimension; ++i) {
    if (mask.is_kept(i)) kept.push_back(i);
  }
  Eigen::MatrixXd sub(kept.size(), kept.size());
  for (size_t i = 0; i < kept.size(); ++i) {
    for (size_t j = 0; j < kept.size(); ++j) sub(i, j) = a(kept[i], kept[j]);
  }
  const Eigen::VectorXd eigenvalues = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(sub).eigenvalues();
  std::vector<double> by_magnitude(eigenvalues.data(), eigenvalues.data() + eigenvalues.size());
  std::sort(by_magnitude.begin(), by_magnitude.end(), [](double x, double y) { return std::abs(x) > std::abs(y); });
  ASSERT_LT(std::abs(by_magnitude[1]) / std::abs(by_magnitude[0]), 0.7) << "the test needs a spectral gap";

  testing::QuadraticOracle oracle(a, &mask);
  ASSERT_OK_AND_ASSIGN(
      const HessianEigenvalueEstimate top,
      EstimateHessianTopEigenvalue(oracle, RandomPoint(7),
                                   {.max_iterations = 300, .tolerance = kTolerance, .relative_step = kSmoothStep}));
  EXPECT_TRUE(top.converged);
  EXPECT_NEAR(top.eigenvalue, by_magnitude[0], kRelativeError * std::abs(by_magnitude[0]));
  // The unmasked top eigenvalue (20) is not what a pruned model sees.
  EXPECT_GT(std::abs(top.eigenvalue - 20.0), 1.0);
  for (int i = 0; i < kDimension; ++i) {
    if (!mask.is_kept(i)) {
      EXPECT_EQ(top.eigenvector[i], 0.0f) << i;
    }
  }
}

TEST(HessianTopEigenvalueTest, StopsAtTheIterationCapUnconverged) {
  testing::QuadraticOracle oracle(testing::SymmetricMatrixWithSpectrum(Spectrum(10.0, 9.9), /*seed=*/1));
  ASSERT_OK_AND_ASSIGN(const HessianEigenvalueEstimate top,
                       EstimateHessianTopEigenvalue(oracle, RandomPoint(2), {.max_iterations = 3, .tolerance = 1e-9}));
  EXPECT_FALSE(top.converged);
  EXPECT_EQ(top.iterations, 3);
  EXPECT_LE(top.magnitude, 10.0 * (1 + 1e-5));  // A Rayleigh quotient never exceeds the spectral norm.
}

TEST(HessianTopEigenvalueTest, DeterministicGivenTheSeedAndWarmStartConvergesAtOnce) {
  testing::QuadraticOracle oracle(testing::SymmetricMatrixWithSpectrum(Spectrum(10.0, 8.0), /*seed=*/8));
  const std::vector<float> w = RandomPoint(9);
  const HessianOptions options{
      .max_iterations = 300, .tolerance = kTolerance, .relative_step = kSmoothStep, .seed = 17};
  ASSERT_OK_AND_ASSIGN(const HessianEigenvalueEstimate first, EstimateHessianTopEigenvalue(oracle, w, options));
  ASSERT_OK_AND_ASSIGN(const HessianEigenvalueEstimate again, EstimateHessianTopEigenvalue(oracle, w, options));
  EXPECT_EQ(first.eigenvalue, again.eigenvalue);
  EXPECT_EQ(first.iterations, again.iterations);
  HessianOptions other_seed = options;
  other_seed.seed = 18;
  ASSERT_OK_AND_ASSIGN(const HessianEigenvalueEstimate other, EstimateHessianTopEigenvalue(oracle, w, other_seed));
  EXPECT_NE(first.eigenvalue, other.eigenvalue);
  EXPECT_NEAR(other.eigenvalue, 10.0, kRelativeError * 10.0);

  HessianOptions warm = options;
  warm.start = first.eigenvector;
  ASSERT_OK_AND_ASSIGN(const HessianEigenvalueEstimate warm_started, EstimateHessianTopEigenvalue(oracle, w, warm));
  EXPECT_TRUE(warm_started.converged);
  EXPECT_LE(warm_started.iterations, 3);
  EXPECT_NEAR(warm_started.eigenvalue, 10.0, kRelativeError * 10.0);
}

TEST(HessianTopEigenvalueTest, DefaultStepIsAccurateToAFewTenThousandthsOnAQuadratic) {
  // h = 1e-4 (1 + ||w||) ~ 8e-4: rounding noise eps_float ||A w|| / h ~ 3e-3 on ||H v||, ~1e-4 relative on rho.
  testing::QuadraticOracle oracle(testing::SymmetricMatrixWithSpectrum(Spectrum(10.0, 5.0), /*seed=*/1));
  ASSERT_OK_AND_ASSIGN(const HessianEigenvalueEstimate top,
                       EstimateHessianTopEigenvalue(oracle, RandomPoint(2), {.max_iterations = 200}));
  EXPECT_TRUE(top.converged);
  EXPECT_NEAR(top.eigenvalue, 10.0, 1e-3 * 10.0);
}

TEST(HessianTopEigenvalueTest, ZeroHessianGivesZero) {
  testing::QuadraticOracle oracle(Eigen::MatrixXd::Zero(kDimension, kDimension));
  ASSERT_OK_AND_ASSIGN(const HessianEigenvalueEstimate top, EstimateHessianTopEigenvalue(oracle, RandomPoint(1)));
  EXPECT_TRUE(top.converged);
  EXPECT_EQ(top.eigenvalue, 0.0);
}

TEST(HessianVectorProductTest, IsTheMatrixTimesTheAppliedDirectionOnAQuadratic) {
  const nn::Mask mask = testing::RandomHalfMask(kDimension, /*seed=*/10);
  testing::QuadraticOracle oracle(testing::SymmetricMatrixWithSpectrum(Spectrum(10.0, 5.0), /*seed=*/11), &mask);
  const std::vector<float> w = RandomPoint(12);
  std::vector<double> v(kDimension, 1.0), product(kDimension);
  const std::vector<double> applied = HessianVectorProduct(oracle, w, v, /*h=*/0.05, absl::MakeSpan(product));
  Eigen::VectorXd u(kDimension), expected_direction(kDimension);
  for (int i = 0; i < kDimension; ++i) {
    u[i] = applied[i];
    expected_direction[i] = mask.is_kept(i) ? 1.0 : 0.0;
  }
  // The applied direction is v masked, up to the rounding of w ± h v (~ulp(w) / h ~ 1e-5).
  EXPECT_LT((u - expected_direction).norm(), 1e-4 * expected_direction.norm());
  Eigen::VectorXd expected = oracle.matrix() * u;
  for (int i = 0; i < kDimension; ++i) {
    if (!mask.is_kept(i)) expected[i] = 0;
  }
  Eigen::VectorXd actual(kDimension);
  for (int i = 0; i < kDimension; ++i) actual[i] = product[i];
  // Rounding of the float gradients: eps_float * ||A w|| / h ~ 1e-5 relative to ||A u||.
  EXPECT_LT((actual - expected).norm(), 1e-4 * expected.norm());
}

TEST(HessianTopEigenvalueTest, RejectsBadInputs) {
  testing::QuadraticOracle oracle(testing::SymmetricMatrixWithSpectrum(Spectrum(10.0, 5.0), /*seed=*/1));
  const std::vector<float> w = RandomPoint(2);
  EXPECT_THAT(EstimateHessianTopEigenvalue(oracle, std::vector<float>(kDimension - 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("entries")));
  std::vector<float> not_finite = w;
  not_finite[3] = std::nanf("");
  EXPECT_THAT(EstimateHessianTopEigenvalue(oracle, not_finite), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(EstimateHessianTopEigenvalue(oracle, w, {.max_iterations = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_iterations")));
  EXPECT_THAT(EstimateHessianTopEigenvalue(oracle, w, {.tolerance = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tolerance")));
  EXPECT_THAT(EstimateHessianTopEigenvalue(oracle, w, {.relative_step = -1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("relative_step")));
  HessianOptions short_start;
  short_start.start.assign(3, 1.0f);
  EXPECT_THAT(EstimateHessianTopEigenvalue(oracle, w, short_start),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("start")));
  const nn::Mask mask = testing::RandomHalfMask(kDimension, /*seed=*/3);
  testing::QuadraticOracle masked(oracle.matrix(), &mask);
  HessianOptions pruned_start;
  pruned_start.start.assign(kDimension, 0.0f);
  for (int i = 0; i < kDimension; ++i) pruned_start.start[i] = mask.is_kept(i) ? 0.0f : 1.0f;
  EXPECT_THAT(EstimateHessianTopEigenvalue(masked, w, pruned_start),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("zero")));
}

}  // namespace
}  // namespace parsity::theory
