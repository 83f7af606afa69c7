#include "training/optimizers/sgd.h"

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

// Values are dyadic rationals, so float arithmetic is exact and the comparisons are exact.
TEST(SgdOptimizerTest, ThreeStepsMatchHandComputedValues) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SgdOptimizer> sgd, SgdOptimizer::Create(2, nullptr));
  std::vector<float> w = {1.0f, -1.0f};
  // lr = 0.25, g = (1, 2): w = (1 - 0.25 * 1, -1 - 0.25 * 2) = (0.75, -1.5).
  sgd->Step(0.25f, std::vector<float>{1.0f, 2.0f}, absl::MakeSpan(w));
  EXPECT_THAT(w, ElementsAre(0.75f, -1.5f));
  // lr = 0.5, g = (1, -2): w = (0.75 - 0.5, -1.5 + 1) = (0.25, -0.5).
  sgd->Step(0.5f, std::vector<float>{1.0f, -2.0f}, absl::MakeSpan(w));
  EXPECT_THAT(w, ElementsAre(0.25f, -0.5f));
  // g = 0: SGD has no state, nothing moves.
  sgd->Step(0.5f, std::vector<float>{0.0f, 0.0f}, absl::MakeSpan(w));
  EXPECT_THAT(w, ElementsAre(0.25f, -0.5f));
}

TEST(SgdOptimizerTest, MaskedEntryReadsZeroGradientAndStaysPositiveZero) {
  ASSERT_OK_AND_ASSIGN(nn::Mask mask, nn::Mask::Create({1.0f, 0.0f}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SgdOptimizer> sgd, SgdOptimizer::Create(2, &mask));
  std::vector<float> w = {1.0f, 0.0f};
  // The pruned entry's gradient is NaN: it must not leak into the parameters.
  sgd->Step(0.5f, std::vector<float>{1.0f, std::nanf("")}, absl::MakeSpan(w));
  EXPECT_THAT(w, ElementsAre(0.5f, 0.0f));
  EXPECT_FALSE(std::signbit(w[1]));
}

// Long enough for the vectorized masked path and its tail: every kept entry is exactly w - lr g rounded once (a fused
// multiply-add, as the compiler builds the unmasked update), every pruned one +0 whatever it held.
TEST(SgdOptimizerTest, MaskedStepOnALongBufferMatchesTheScalarFormula) {
  constexpr int64_t kSize = 37;
  std::vector<float> keep(kSize), w(kSize), g(kSize);
  for (int64_t i = 0; i < kSize; ++i) {
    keep[i] = (i * 7) % 3 == 0 ? 0.0f : 1.0f;
    w[i] = 0.1f * static_cast<float>(i) - 1.3f;
    g[i] = 0.37f * static_cast<float>(kSize - i) + 0.01f;
  }
  w[3] = std::nanf("");
  g[6] = std::nanf("");
  ASSERT_OK_AND_ASSIGN(nn::Mask mask, nn::Mask::Create(keep));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SgdOptimizer> sgd, SgdOptimizer::Create(kSize, &mask));
  const float rate = 0.0173f;
  std::vector<float> updated = w;
  sgd->Step(rate, g, absl::MakeSpan(updated));
  for (int64_t i = 0; i < kSize; ++i) {
    if (keep[i] == 0.0f) {
      EXPECT_EQ(updated[i], 0.0f) << i;
      EXPECT_FALSE(std::signbit(updated[i])) << i;
    } else {
      EXPECT_EQ(updated[i], std::fma(-rate, g[i], w[i])) << i;
    }
  }
}

TEST(SgdOptimizerTest, CreateRejectsBadShapes) {
  EXPECT_THAT(SgdOptimizer::Create(0, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parameter_count must be positive; got 0")));
  const nn::Mask mask = nn::Mask::AllKept(3);
  EXPECT_THAT(SgdOptimizer::Create(4, &mask), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Mask size 3")));
}

TEST(SgdOptimizerDeathTest, StepAbortsOnBufferSizeMismatch) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SgdOptimizer> sgd, SgdOptimizer::Create(2, nullptr));
  std::vector<float> w = {1.0f, 2.0f, 3.0f};
  EXPECT_DEATH(sgd->Step(0.1f, std::vector<float>{1.0f, 2.0f}, absl::MakeSpan(w)), "check failed");
}

}  // namespace
}  // namespace parsity::optimizers
