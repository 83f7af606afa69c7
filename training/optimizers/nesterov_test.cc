#include "training/optimizers/nesterov.h"

#include <cmath>
#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/nn/mask.h"

namespace parsity::optimizers {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// m = 0.5, lr = 0.25, the same gradients as momentum_test.cc; dyadic values, so the comparisons are exact.
TEST(NesterovOptimizerTest, ThreeStepsMatchHandComputedValues) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NesterovOptimizer> optimizer, NesterovOptimizer::Create(2, 0.5f, nullptr));
  std::vector<float> w = {1.0f, -1.0f};
  // g = (1, 2): v = (1, 2); g + m v = (1 + 0.5, 2 + 1) = (1.5, 3); w = (1 - 0.25 * 1.5, -1 - 0.25 * 3) = (0.625,
  // -1.75).
  optimizer->Step(0.25f, std::vector<float>{1.0f, 2.0f}, absl::MakeSpan(w));
  EXPECT_THAT(optimizer->velocity(), ElementsAre(1.0f, 2.0f));
  EXPECT_THAT(w, ElementsAre(0.625f, -1.75f));
  // g = (1, -2): v = 0.5 * (1, 2) + (1, -2) = (1.5, -1); g + m v = (1 + 0.75, -2 - 0.5) = (1.75, -2.5);
  // w = (0.625 - 0.4375, -1.75 + 0.625) = (0.1875, -1.125).
  optimizer->Step(0.25f, std::vector<float>{1.0f, -2.0f}, absl::MakeSpan(w));
  EXPECT_THAT(optimizer->velocity(), ElementsAre(1.5f, -1.0f));
  EXPECT_THAT(w, ElementsAre(0.1875f, -1.125f));
  // g = (0, 0): v = (0.75, -0.5); g + m v = (0.375, -0.25); w = (0.1875 - 0.09375, -1.125 + 0.0625)
  // = (0.09375, -1.0625).
  optimizer->Step(0.25f, std::vector<float>{0.0f, 0.0f}, absl::MakeSpan(w));
  EXPECT_THAT(optimizer->velocity(), ElementsAre(0.75f, -0.5f));
  EXPECT_THAT(w, ElementsAre(0.09375f, -1.0625f));
}

TEST(NesterovOptimizerTest, VelocityOfPrunedEntriesStaysZeroEvenForNanGradients) {
  ASSERT_OK_AND_ASSIGN(nn::Mask mask, nn::Mask::Create({1.0f, 0.0f}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NesterovOptimizer> optimizer, NesterovOptimizer::Create(2, 0.9f, &mask));
  std::vector<float> w = {1.0f, 0.0f};
  for (int step = 0; step < 100; ++step) {
    optimizer->Step(0.01f, std::vector<float>{1.0f, step % 2 == 0 ? 5.0f : std::nanf("")}, absl::MakeSpan(w));
  }
  EXPECT_EQ(optimizer->velocity()[1], 0.0f);
  EXPECT_EQ(w[1], 0.0f);
  EXPECT_LT(w[0], 0.0f);
}

TEST(NesterovOptimizerTest, CreateRejectsMomentumOutsideUnitInterval) {
  EXPECT_THAT(NesterovOptimizer::Create(2, 1.0f, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("momentum must be in [0, 1); got 1")));
  EXPECT_THAT(NesterovOptimizer::Create(2, std::nanf(""), nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("momentum")));
}

}  // namespace
}  // namespace parsity::optimizers
