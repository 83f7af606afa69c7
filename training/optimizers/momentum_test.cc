#include "training/optimizers/momentum.h"

#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/nn/mask.h"

namespace parsity::optimizers {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// m = 0.5, lr = 0.25; dyadic values, so float arithmetic is exact and the comparisons are exact.
TEST(MomentumOptimizerTest, ThreeStepsMatchHandComputedValues) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MomentumOptimizer> optimizer, MomentumOptimizer::Create(2, 0.5f, nullptr));
  std::vector<float> w = {1.0f, -1.0f};
  // g = (1, 2): v = 0.5 * (0, 0) + (1, 2) = (1, 2); w = (1 - 0.25 * 1, -1 - 0.25 * 2) = (0.75, -1.5).
  optimizer->Step(0.25f, std::vector<float>{1.0f, 2.0f}, absl::MakeSpan(w));
  EXPECT_THAT(optimizer->velocity(), ElementsAre(1.0f, 2.0f));
  EXPECT_THAT(w, ElementsAre(0.75f, -1.5f));
  // g = (1, -2): v = 0.5 * (1, 2) + (1, -2) = (1.5, -1); w = (0.75 - 0.25 * 1.5, -1.5 + 0.25 * 1) = (0.375, -1.25).
  optimizer->Step(0.25f, std::vector<float>{1.0f, -2.0f}, absl::MakeSpan(w));
  EXPECT_THAT(optimizer->velocity(), ElementsAre(1.5f, -1.0f));
  EXPECT_THAT(w, ElementsAre(0.375f, -1.25f));
  // g = (0, 0): the velocity carries on: v = 0.5 * (1.5, -1) = (0.75, -0.5);
  // w = (0.375 - 0.25 * 0.75, -1.25 + 0.25 * 0.5) = (0.1875, -1.125).
  optimizer->Step(0.25f, std::vector<float>{0.0f, 0.0f}, absl::MakeSpan(w));
  EXPECT_THAT(optimizer->velocity(), ElementsAre(0.75f, -0.5f));
  EXPECT_THAT(w, ElementsAre(0.1875f, -1.125f));
}

TEST(MomentumOptimizerTest, ZeroMomentumIsSgd) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MomentumOptimizer> optimizer, MomentumOptimizer::Create(1, 0.0f, nullptr));
  std::vector<float> w = {1.0f};
  // v = 2; w = 1 - 0.25 * 2 = 0.5. Then v = 0 * 2 + 0 = 0 and w stays.
  optimizer->Step(0.25f, std::vector<float>{2.0f}, absl::MakeSpan(w));
  optimizer->Step(0.25f, std::vector<float>{0.0f}, absl::MakeSpan(w));
  EXPECT_THAT(w, ElementsAre(0.5f));
}

TEST(MomentumOptimizerTest, VelocityOfPrunedEntriesStaysZero) {
  ASSERT_OK_AND_ASSIGN(nn::Mask mask, nn::Mask::Create({0.0f, 1.0f, 0.0f}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MomentumOptimizer> optimizer, MomentumOptimizer::Create(3, 0.9f, &mask));
  std::vector<float> w = {0.0f, 1.0f, 0.0f};
  for (int step = 0; step < 100; ++step) {
    optimizer->Step(0.1f, std::vector<float>{3.0f, 1.0f, -3.0f}, absl::MakeSpan(w));
  }
  EXPECT_EQ(optimizer->velocity()[0], 0.0f);
  EXPECT_EQ(optimizer->velocity()[2], 0.0f);
  EXPECT_GT(optimizer->velocity()[1], 1.0f);
  EXPECT_THAT((std::vector<float>{w[0], w[2]}), Each(0.0f));
}

TEST(MomentumOptimizerTest, CreateRejectsMomentumOutsideUnitInterval) {
  for (const float momentum : {-0.1f, 1.0f, 1.5f}) {
    EXPECT_THAT(MomentumOptimizer::Create(2, momentum, nullptr),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("momentum must be in [0, 1)")))
        << momentum;
  }
  EXPECT_THAT(MomentumOptimizer::Create(2, 1.5f, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got 1.5")));
  EXPECT_THAT(MomentumOptimizer::Create(-1, 0.9f, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parameter_count")));
}

}  // namespace
}  // namespace parsity::optimizers
