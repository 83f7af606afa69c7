#include "training/optimizers/adam.h"

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/nn/mask.h"

namespace parsity::optimizers {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::HasSubstr;

// Float rounding of the moments, corrections and sqrt stays far below this.
constexpr float kHandComputedTolerance = 1e-6f;

// b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = 0.1, w = (1, -1). Entry 1 sees a constant gradient -2, so its m_hat /
// sqrt(v_hat) is exactly -1 while the gradient lasts; entry 0 sees 0.5 then 1, which exercises the bias corrections.
TEST(AdamOptimizerTest, ThreeStepsMatchHandComputedValues) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<AdamOptimizer> adam, AdamOptimizer::Create(2, AdamHyperparameters{}, nullptr));
  std::vector<float> w = {1.0f, -1.0f};

  // t = 1, g = (0.5, -2):
  //   m = 0.1 g = (0.05, -0.2);  v = 0.001 g^2 = (0.00025, 0.004)
  //   m_hat = m / 0.1 = (0.5, -2);  v_hat = v / 0.001 = (0.25, 4);  sqrt(v_hat) = (0.5, 2)
  //   w = (1 - 0.1 * 0.5 / (0.5 + 1e-8), -1 + 0.1 * 2 / (2 + 1e-8)) = (0.900000002, -0.9000000005)
  adam->Step(0.1f, std::vector<float>{0.5f, -2.0f}, absl::MakeSpan(w));
  EXPECT_EQ(adam->step_count(), 1);
  EXPECT_NEAR(adam->first_moment()[0], 0.05f, kHandComputedTolerance);
  EXPECT_NEAR(adam->first_moment()[1], -0.2f, kHandComputedTolerance);
  EXPECT_NEAR(adam->second_moment()[0], 0.00025f, kHandComputedTolerance);
  EXPECT_NEAR(adam->second_moment()[1], 0.004f, kHandComputedTolerance);
  EXPECT_NEAR(w[0], 0.900000002f, kHandComputedTolerance);
  EXPECT_NEAR(w[1], -0.9000000005f, kHandComputedTolerance);

  // t = 2, g = (1, -2); 1 - b1^2 = 1 - 0.81 = 0.19, 1 - b2^2 = 1 - 0.998001 = 0.001999:
  //   m = 0.9 (0.05, -0.2) + 0.1 (1, -2) = (0.045 + 0.1, -0.18 - 0.2) = (0.145, -0.38)
  //   v = 0.999 (0.00025, 0.004) + 0.001 (1, 4) = (0.00024975 + 0.001, 0.003996 + 0.004) = (0.00124975, 0.007996)
  //   m_hat = (0.145 / 0.19, -0.38 / 0.19) = (0.7631578947, -2)
  //   v_hat = (0.00124975 / 0.001999, 0.007996 / 0.001999) = (0.6251875938, 4);  sqrt = (0.7906880509, 2)
  //   step = (0.7631578947 / 0.7906880509, -2 / 2) = (0.9651820136, -1)  (eps = 1e-8 changes the 9th digit)
  //   w = (0.900000002 - 0.09651820136, -0.9000000005 + 0.1) = (0.8034818006, -0.800000001)
  adam->Step(0.1f, std::vector<float>{1.0f, -2.0f}, absl::MakeSpan(w));
  EXPECT_NEAR(adam->first_moment()[0], 0.145f, kHandComputedTolerance);
  EXPECT_NEAR(adam->second_moment()[1], 0.007996f, kHandComputedTolerance);
  EXPECT_NEAR(w[0], 0.8034818006f, kHandComputedTolerance);
  EXPECT_NEAR(w[1], -0.800000001f, kHandComputedTolerance);

  // t = 3, g = (0, 0): the moments alone move w. 1 - b1^3 = 1 - 0.729 = 0.271, 1 - b2^3 = 0.002997001:
  //   m = 0.9 (0.145, -0.38) = (0.1305, -0.342);  v = 0.999 (0.00124975, 0.007996) = (0.00124850025, 0.007988004)
  //   m_hat = (0.1305 / 0.271, -0.342 / 0.271) = (0.4815498155, -1.2619926199)
  //   v_hat = (0.00124850025 / 0.002997001, 0.007988004 / 0.002997001) = (0.4165831943, 2.6653324440)
  //   sqrt = (0.6454325637, 1.6325845902);  step = (0.7460884918, -0.7730028936)
  //   w = (0.8034818006 - 0.07460884918, -0.800000001 + 0.07730028936) = (0.7288729515, -0.7226997116)
  adam->Step(0.1f, std::vector<float>{0.0f, 0.0f}, absl::MakeSpan(w));
  EXPECT_EQ(adam->step_count(), 3);
  EXPECT_NEAR(w[0], 0.7288729515f, kHandComputedTolerance);
  EXPECT_NEAR(w[1], -0.7226997116f, kHandComputedTolerance);
}

// Bias correction at t = 1: m_hat = g and v_hat = g^2, so the first step is lr g / (|g| + eps), which is lr sign(g)
// to within lr eps / |g|, whatever the gradient's scale. Without the corrections it would be
// lr (1 - b1) / sqrt(1 - b2) sign(g) = 3.16 lr sign(g).
TEST(AdamOptimizerTest, FirstStepIsLearningRateTimesSignOfGradient) {
  const std::vector<float> gradient = {1e-3f, -1e-3f, 0.5f, -7.0f, 1e3f};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<AdamOptimizer> adam,
                       AdamOptimizer::Create(static_cast<int64_t>(gradient.size()), AdamHyperparameters{}, nullptr));
  std::vector<float> w(gradient.size(), 0.0f);
  adam->Step(0.01f, gradient, absl::MakeSpan(w));
  const float expected[] = {-0.01f, 0.01f, -0.01f, 0.01f, -0.01f};
  for (size_t i = 0; i < gradient.size(); ++i) {
    // |lr g / (|g| + eps) - lr sign(g)| = lr eps / (|g| + eps) < lr eps / |g| (1e-7 for |g| = 1e-3), plus float
    // rounding: 2e-9 is about two ulps of 0.01.
    const float tolerance = 0.01f * 1e-8f / std::abs(gradient[i]) + 2e-9f;
    EXPECT_NEAR(w[i], expected[i], tolerance) << "entry " << i;
  }
}

TEST(AdamOptimizerTest, ZeroGradientDoesNotMoveAFreshParameter) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<AdamOptimizer> adam, AdamOptimizer::Create(1, AdamHyperparameters{}, nullptr));
  std::vector<float> w = {0.25f};
  // m = v = 0, so the step is 0 / (0 + eps) = 0.
  adam->Step(0.1f, std::vector<float>{0.0f}, absl::MakeSpan(w));
  EXPECT_EQ(w[0], 0.25f);
}

TEST(AdamOptimizerTest, MomentsOfPrunedEntriesStayZero) {
  ASSERT_OK_AND_ASSIGN(nn::Mask mask, nn::Mask::Create({0.0f, 1.0f}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<AdamOptimizer> adam, AdamOptimizer::Create(2, AdamHyperparameters{}, &mask));
  std::vector<float> w = {0.0f, 1.0f};
  for (int step = 0; step < 100; ++step) {
    adam->Step(0.01f, std::vector<float>{4.0f, 4.0f}, absl::MakeSpan(w));
  }
  EXPECT_EQ(adam->first_moment()[0], 0.0f);
  EXPECT_EQ(adam->second_moment()[0], 0.0f);
  EXPECT_EQ(w[0], 0.0f);
  EXPECT_FALSE(std::signbit(w[0]));
  EXPECT_GT(adam->second_moment()[1], 0.0f);
  EXPECT_LT(w[1], 0.5f);
}

TEST(AdamOptimizerTest, CreateRejectsBadHyperparametersNamingTheField) {
  AdamHyperparameters bad_beta1;
  bad_beta1.beta1 = 1.0f;
  EXPECT_THAT(AdamOptimizer::Create(2, bad_beta1, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beta1 must be in [0, 1); got 1")));
  AdamHyperparameters bad_beta2;
  bad_beta2.beta2 = -0.5f;
  EXPECT_THAT(AdamOptimizer::Create(2, bad_beta2, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beta2 must be in [0, 1); got -0.5")));
  AdamHyperparameters zero_epsilon;
  zero_epsilon.epsilon = 0.0f;
  EXPECT_THAT(AdamOptimizer::Create(2, zero_epsilon, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("epsilon must be finite and > 0; got 0")));
  AdamHyperparameters infinite_epsilon;
  infinite_epsilon.epsilon = std::numeric_limits<float>::infinity();
  EXPECT_THAT(AdamOptimizer::Create(2, infinite_epsilon, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("epsilon")));
}

}  // namespace
}  // namespace parsity::optimizers
