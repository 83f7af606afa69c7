#include "theory/trajectory_lipschitz.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "Eigen/Core"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "theory/hessian_top_eigenvalue.h"
#include "theory/test_problems.h"
#include "tools/base/check.h"
#include "tools/base/status_matchers.h"
#include "training/data/examples.h"
#include "training/nn/network.h"
#include "training/nn/mask.h"

namespace parsity::theory {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr int kDimension = 50;

std::vector<double> Spectrum() {
  std::vector<double> eigenvalues;
  for (int k = 0; k < kDimension; ++k) eigenvalues.push_back(-3.0 + 13.0 * k / (kDimension - 1));  // [-3, 10]
  return eigenvalues;
}

std::vector<float> Gaussian(uint64_t seed, double scale) {
  std::mt19937_64 engine(seed);
  std::vector<float> values(kDimension);
  for (float& value : values) value = static_cast<float>(scale * testing::StandardNormal(engine));
  return values;
}

Eigen::VectorXd Difference(const std::vector<float>& a, const std::vector<float>& b) {
  Eigen::VectorXd d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = static_cast<double>(a[i]) - b[i];
  return d;
}

// Rounding of the float gradients, about eps_float ||A w|| per entry, over a displacement gamma ||d|| >= 0.1 * 0.7:
// L_gamma is exact to ~1e-5 relative here. The tests allow 1e-4.
constexpr double kRelativeError = 1e-4;

TEST(TrajectoryLipschitzTest, EveryGammaOfAQuadraticIsTheNormOfADOverTheNormOfD) {
  testing::QuadraticOracle oracle(testing::SymmetricMatrixWithSpectrum(Spectrum(), /*seed=*/1));
  const std::vector<float> previous = Gaussian(2, 1.0);
  std::vector<float> current = Gaussian(3, 0.1);
  for (int i = 0; i < kDimension; ++i) current[i] += previous[i];
  const Eigen::VectorXd d = Difference(current, previous);
  const double expected = (oracle.matrix() * d).norm() / d.norm();

  ASSERT_OK_AND_ASSIGN(const TrajectoryLipschitzEstimate estimate,
                       EstimateTrajectoryLipschitz(oracle, previous, current));
  EXPECT_THAT(estimate.gammas, ElementsAreArray(PaperGammas()));
  ASSERT_EQ(estimate.lipschitz_per_gamma.size(), 9u);
  for (const double l : estimate.lipschitz_per_gamma) EXPECT_NEAR(l, expected, kRelativeError * expected);
  EXPECT_NEAR(estimate.lipschitz, expected, kRelativeError * expected);
  EXPECT_EQ(estimate.gradient_evaluations, 10);
  EXPECT_NEAR(estimate.step_norm, d.norm(), 1e-12 * d.norm());
  // For a general step, ||A d|| / ||d|| exceeds the curvature d^T A d / d^T d along it.
  EXPECT_GT(expected, std::abs(d.dot(oracle.matrix() * d)) / d.squaredNorm() * 1.05);
  Eigen::VectorXd w(kDimension);
  for (int i = 0; i < kDimension; ++i) w[i] = previous[i];
  EXPECT_NEAR(estimate.gradient_norm, (oracle.matrix() * w).norm(), 1e-5 * (oracle.matrix() * w).norm());
  EXPECT_NEAR(estimate.loss, 0.5 * w.dot(oracle.matrix() * w), 1e-9 * std::abs(estimate.loss));
}

TEST(TrajectoryLipschitzTest, StepAlongAnEigenvectorGivesItsCurvature) {
  // A diagonal A: the coordinate axes are eigenvectors. A step along axis 0 (eigenvalue -3) sees |-3| = 3, which is
  // also |d^T A d| / d^T d.
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(kDimension, kDimension);
  for (int i = 0; i < kDimension; ++i) a(i, i) = Spectrum()[i];
  testing::QuadraticOracle oracle(a);
  const std::vector<float> previous = Gaussian(4, 1.0);
  std::vector<float> current = previous;
  current[0] += 0.25f;
  ASSERT_OK_AND_ASSIGN(const TrajectoryLipschitzEstimate estimate,
                       EstimateTrajectoryLipschitz(oracle, previous, current));
  EXPECT_NEAR(estimate.lipschitz, 3.0, kRelativeError * 3.0);
}

TEST(TrajectoryLipschitzTest, MaskedCoordinatesOfTheStepContributeNothing) {
  const nn::Mask mask = testing::RandomHalfMask(kDimension, /*seed=*/5);
  const Eigen::MatrixXd a = testing::SymmetricMatrixWithSpectrum(Spectrum(), /*seed=*/6);
  testing::QuadraticOracle masked(a, &mask);
  testing::QuadraticOracle dense(a);
  std::vector<float> previous = Gaussian(7, 1.0);
  mask.Apply(absl::MakeSpan(previous));
  std::vector<float> current = Gaussian(8, 0.1);
  for (int i = 0; i < kDimension; ++i) current[i] += previous[i];
  mask.Apply(absl::MakeSpan(current));
  std::vector<float> current_with_garbage = current;  // Pruned entries that moved anyway.
  const std::vector<float> garbage = Gaussian(9, 5.0);
  for (int i = 0; i < kDimension; ++i) {
    if (!mask.is_kept(i)) current_with_garbage[i] = garbage[i];
  }

  ASSERT_OK_AND_ASSIGN(const TrajectoryLipschitzEstimate clean, EstimateTrajectoryLipschitz(masked, previous, current));
  ASSERT_OK_AND_ASSIGN(const TrajectoryLipschitzEstimate with_garbage,
                       EstimateTrajectoryLipschitz(masked, previous, current_with_garbage));
  EXPECT_EQ(clean.lipschitz_per_gamma, with_garbage.lipschitz_per_gamma);  // Bit-identical.
  EXPECT_EQ(clean.step_norm, with_garbage.step_norm);

  // ||P A P d|| / ||P d||, P = diag(mask).
  Eigen::VectorXd d = Difference(current, previous);
  Eigen::VectorXd a_d = a * d;
  for (int i = 0; i < kDimension; ++i) {
    if (!mask.is_kept(i)) a_d[i] = 0;
  }
  const double expected = a_d.norm() / d.norm();
  EXPECT_NEAR(clean.lipschitz, expected, kRelativeError * expected);
  // The same step seen by the dense model: the pruned coordinates' gradient counts, the estimate differs.
  ASSERT_OK_AND_ASSIGN(const TrajectoryLipschitzEstimate unmasked,
                       EstimateTrajectoryLipschitz(dense, previous, current));
  EXPECT_GT(std::abs(unmasked.lipschitz - clean.lipschitz), 0.05 * clean.lipschitz);
}

TEST(TrajectoryLipschitzTest, RejectsBadInputs) {
  const nn::Mask mask = testing::RandomHalfMask(kDimension, /*seed=*/5);
  testing::QuadraticOracle oracle(testing::SymmetricMatrixWithSpectrum(Spectrum(), /*seed=*/1), &mask);
  const std::vector<float> previous = Gaussian(2, 1.0);
  std::vector<float> current = Gaussian(3, 1.0);
  EXPECT_THAT(EstimateTrajectoryLipschitz(oracle, previous, std::vector<float>(kDimension + 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("entries")));
  EXPECT_THAT(EstimateTrajectoryLipschitz(oracle, previous, previous),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("zero")));
  std::vector<float> pruned_only = previous;  // Moves only pruned coordinates: zero after masking.
  for (int i = 0; i < kDimension; ++i) {
    if (!mask.is_kept(i)) pruned_only[i] += 1.0f;
  }
  EXPECT_THAT(EstimateTrajectoryLipschitz(oracle, previous, pruned_only),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("zero")));
  std::vector<float> not_finite = current;
  not_finite[0] = INFINITY;
  EXPECT_THAT(EstimateTrajectoryLipschitz(oracle, previous, not_finite),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("finite")));
  for (const std::vector<double>& gammas : {std::vector<double>{}, {0.0}, {0.5, 1.5}, {NAN}}) {
    EXPECT_THAT(EstimateTrajectoryLipschitz(oracle, previous, current, {.gammas = gammas}),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  // A step of one float ulp at 1e6 (0.0625): a tenth of it moves nothing in float.
  const std::vector<float> large(kDimension, 1e6f);
  std::vector<float> ulp_step = large;
  for (float& value : ulp_step) value = std::nextafter(value, 2e6f);
  EXPECT_THAT(EstimateTrajectoryLipschitz(oracle, large, ulp_step),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("moves no parameter")));
}

// The real training engine: a tiny ReLU network on 300 synthetic examples, one short full-batch gradient step.
class NetworkTrajectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    network_ = testing::TinyNetwork();
    examples_ = testing::TinyNetworkExamples(300, /*seed=*/21);
    previous_.resize(network_->parameter_count());
    std::mt19937_64 engine(22);
    network_->Initialize(engine, absl::MakeSpan(previous_));
  }

  std::unique_ptr<NetworkGradientOracle> Oracle(const nn::Mask* mask) {
    absl::StatusOr<std::unique_ptr<NetworkGradientOracle>> oracle =
        NetworkGradientOracle::Create(network_.get(), &examples_, mask, {});
    PARSITY_CHECK_OK(oracle.status());
    return *std::move(oracle);
  }

  // previous - learning_rate * gradient (the oracle's, masked if it has a mask).
  std::vector<float> Step(GradientOracle& oracle, float learning_rate) {
    std::vector<float> gradient(previous_.size()), current = previous_;
    oracle.Gradient(previous_, absl::MakeSpan(gradient));
    for (size_t i = 0; i < current.size(); ++i) current[i] -= learning_rate * gradient[i];
    return current;
  }

  std::unique_ptr<nn::Network> network_;
  data::Examples examples_;
  std::vector<float> previous_;
};

// For a short step L_gamma = ||H_avg d|| / ||d|| <= ||H||_2 = |lambda_max|, H_avg the Hessian averaged over the
// first gamma of the step, PROVIDED the step crosses no ReLU kink: where a pre-activation changes sign the gradient
// jumps, and L_gamma then grows by jump / (gamma ||d||) (on this network a step with learning rate 0.01 crosses one
// kink between gamma 0.5 and 0.6 and L jumps from 0.37 to 3.3; Hessian norm 0.69). The tests take learning rate
// 1e-3 (||d|| ~ 5e-4) and check that the nine L_gamma agree to 1%, i.e. that no kink was crossed. Slack 2%: for the
// change of H along the step, the finite differences (~1e-3 relative) and the power iteration's shortfall at
// tolerance 1e-6 (it approaches |lambda_max| from below).
constexpr double kShortStepSlack = 0.02;
constexpr float kShortLearningRate = 1e-3f;

void ExpectNoKinkCrossed(const TrajectoryLipschitzEstimate& estimate) {
  const auto [low, high] =
      std::minmax_element(estimate.lipschitz_per_gamma.begin(), estimate.lipschitz_per_gamma.end());
  EXPECT_LE(*high, *low * 1.01) << "the step crossed a ReLU kink; the test's premise fails";
}

TEST_F(NetworkTrajectoryTest, ShortStepLipschitzIsAtMostTheHessianSpectralNorm) {
  std::unique_ptr<NetworkGradientOracle> oracle = Oracle(nullptr);
  const std::vector<float> current = Step(*oracle, kShortLearningRate);
  ASSERT_OK_AND_ASSIGN(const TrajectoryLipschitzEstimate trajectory,
                       EstimateTrajectoryLipschitz(*oracle, previous_, current));
  ExpectNoKinkCrossed(trajectory);
  ASSERT_OK_AND_ASSIGN(const HessianEigenvalueEstimate hessian,
                       EstimateHessianTopEigenvalue(*oracle, previous_, {.max_iterations = 500, .tolerance = 1e-6}));
  EXPECT_TRUE(hessian.converged);
  EXPECT_GT(trajectory.lipschitz, 0);
  EXPECT_LE(trajectory.lipschitz, hessian.magnitude * (1 + kShortStepSlack))
      << "L_traj " << trajectory.lipschitz << ", |lambda_max| " << hessian.magnitude;
  // The step is short: L_0.1 is the Hessian applied to the step's direction, ||H d|| / ||d|| (central difference
  // along the unit direction with the estimator's h).
  std::vector<double> direction(previous_.size()), product(previous_.size());
  for (size_t i = 0; i < direction.size(); ++i) {
    direction[i] = (static_cast<double>(current[i]) - previous_[i]) / trajectory.step_norm;
  }
  const std::vector<double> applied =
      HessianVectorProduct(*oracle, previous_, direction, hessian.finite_difference_step, absl::MakeSpan(product));
  double product_norm = 0, applied_norm = 0;
  for (size_t i = 0; i < product.size(); ++i) {
    product_norm += product[i] * product[i];
    applied_norm += applied[i] * applied[i];
  }
  const double directional = std::sqrt(product_norm / applied_norm);
  EXPECT_NEAR(trajectory.lipschitz_per_gamma[0], directional, kShortStepSlack * directional);
}

TEST_F(NetworkTrajectoryTest, MaskChangesTheEstimateAndPrunedCoordinatesAreIgnored) {
  const nn::Mask mask = testing::RandomHalfMask(network_->parameter_count(), /*seed=*/23);
  mask.Apply(absl::MakeSpan(previous_));
  std::unique_ptr<NetworkGradientOracle> dense = Oracle(nullptr);
  std::unique_ptr<NetworkGradientOracle> masked = Oracle(&mask);
  // The dense step moves pruned coordinates too; the masked estimator must ignore them.
  const std::vector<float> current = Step(*dense, kShortLearningRate);
  std::vector<float> masked_current = current;
  mask.Apply(absl::MakeSpan(masked_current));

  ASSERT_OK_AND_ASSIGN(const TrajectoryLipschitzEstimate dense_estimate,
                       EstimateTrajectoryLipschitz(*dense, previous_, current));
  ASSERT_OK_AND_ASSIGN(const TrajectoryLipschitzEstimate masked_estimate,
                       EstimateTrajectoryLipschitz(*masked, previous_, current));
  ASSERT_OK_AND_ASSIGN(const TrajectoryLipschitzEstimate masked_step_estimate,
                       EstimateTrajectoryLipschitz(*masked, previous_, masked_current));
  EXPECT_EQ(masked_estimate.lipschitz_per_gamma, masked_step_estimate.lipschitz_per_gamma);  // Bit-identical.
  ExpectNoKinkCrossed(masked_estimate);
  EXPECT_GT(std::abs(masked_estimate.lipschitz - dense_estimate.lipschitz), 0.01 * dense_estimate.lipschitz)
      << "dense " << dense_estimate.lipschitz << ", masked " << masked_estimate.lipschitz;

  ASSERT_OK_AND_ASSIGN(const HessianEigenvalueEstimate hessian,
                       EstimateHessianTopEigenvalue(*masked, previous_, {.max_iterations = 500, .tolerance = 1e-6}));
  EXPECT_LE(masked_estimate.lipschitz, hessian.magnitude * (1 + kShortStepSlack))
      << "L_traj " << masked_estimate.lipschitz << ", |lambda_max| " << hessian.magnitude;
}

}  // namespace
}  // namespace parsity::theory
