#include "training/data/normalization.h"

#include <cmath>
#include <vector>

#include "absl/types/span.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace parsity::data {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::HasSubstr;
using ::testing::Pointwise;

Examples MakeExamples(ImageShape shape, std::vector<float> pixels) {
  Examples examples;
  examples.shape = shape;
  examples.pixels.assign(pixels.begin(), pixels.end());
  examples.labels.assign(examples.pixels.size() / shape.Size(), 0);
  return examples;
}

// Mean and population standard deviation of every `stride`-th value from `first`, in double.
void Moments(absl::Span<const float> values, int first, int stride, double* mean, double* stddev) {
  double sum = 0.0;
  double count = 0.0;
  for (size_t i = first; i < values.size(); i += stride, ++count) sum += values[i];
  *mean = sum / count;
  double squares = 0.0;
  for (size_t i = first; i < values.size(); i += stride) squares += (values[i] - *mean) * (values[i] - *mean);
  *stddev = std::sqrt(squares / count);
}

TEST(ComputeNormalizationStatsTest, ScalarStatsAreThePopulationMoments) {
  // Values 0, 1, 2, 3 in two 1x1x2 examples: mean 1.5, variance (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25.
  ASSERT_OK_AND_ASSIGN(const NormalizationStats stats,
                       ComputeNormalizationStats(MakeExamples({1, 1, 2}, {0, 1, 2, 3}), NormalizationScope::kScalar));
  EXPECT_THAT(stats.mean, ElementsAre(1.5f));
  EXPECT_THAT(stats.stddev, ElementsAre(FloatNear(std::sqrt(1.25f), 1e-7)));
}

TEST(ComputeNormalizationStatsTest, PerChannelStatsTakeEveryChannelSeparately) {
  // HWC: channel 0 holds 0, 2, 4, 6; channel 1 holds 10, 10, 30, 30.
  ASSERT_OK_AND_ASSIGN(const NormalizationStats stats,
                       ComputeNormalizationStats(MakeExamples({1, 2, 2}, {0, 10, 2, 10, 4, 30, 6, 30}),
                                                 NormalizationScope::kPerChannel));
  EXPECT_THAT(stats.mean, ElementsAre(3.0f, 20.0f));
  EXPECT_THAT(stats.stddev, ElementsAre(FloatNear(std::sqrt(5.0f), 1e-6), 10.0f));
}

TEST(ApplyNormalizationTest, StandardizesTheExamplesItWasComputedOn) {
  std::vector<float> pixels;
  for (int i = 0; i < 3000; ++i) pixels.push_back(std::fmod(i * 0.37f, 1.0f) * (i % 3 + 1));
  for (NormalizationScope scope : {NormalizationScope::kScalar, NormalizationScope::kPerChannel}) {
    Examples examples = MakeExamples({2, 5, 3}, pixels);
    ASSERT_OK_AND_ASSIGN(const NormalizationStats stats, ComputeNormalizationStats(examples, scope));
    ASSERT_THAT(ApplyNormalization(stats, &examples), IsOk());
    const int groups = scope == NormalizationScope::kScalar ? 1 : 3;
    for (int group = 0; group < groups; ++group) {
      double mean;
      double stddev;
      Moments(examples.pixels, group, groups, &mean, &stddev);
      EXPECT_NEAR(mean, 0.0, 1e-6);
      EXPECT_NEAR(stddev, 1.0, 1e-6);
    }
  }
}

TEST(ApplyNormalizationTest, AppliesTheGivenStatsToOtherExamples) {
  Examples examples = MakeExamples({1, 1, 2}, {1, 20, 3, 40});
  NormalizationStats stats{{1.0f, 10.0f}, {2.0f, 5.0f}};
  ASSERT_THAT(ApplyNormalization(stats, &examples), IsOk());
  EXPECT_THAT(examples.pixels, Pointwise(FloatNear(1e-6), std::vector<float>{0.0f, 2.0f, 1.0f, 6.0f}));
  Examples scalar = MakeExamples({1, 1, 2}, {1, 20, 3, 40});
  ASSERT_THAT(ApplyNormalization(NormalizationStats{{1.0f}, {2.0f}}, &scalar), IsOk());
  EXPECT_THAT(scalar.pixels, Pointwise(FloatNear(1e-6), std::vector<float>{0.0f, 9.5f, 1.0f, 19.5f}));
}

TEST(NormalizationTest, RejectsBadInput) {
  EXPECT_THAT(ComputeNormalizationStats(MakeExamples({1, 1, 1}, {}), NormalizationScope::kScalar),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(ComputeNormalizationStats(MakeExamples({1, 1, 2}, {5, 1, 5, 2}), NormalizationScope::kPerChannel),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("standard deviation of channel 0 is 0")));
  Examples examples = MakeExamples({1, 1, 3}, {1, 2, 3});
  EXPECT_THAT(ApplyNormalization(NormalizationStats{{0, 0}, {1, 1}}, &examples),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2 means and 2 standard deviations")));
  EXPECT_THAT(ApplyNormalization(NormalizationStats{{0}, {0}}, &examples),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("stddev must be positive")));
  EXPECT_THAT(examples.pixels, ElementsAre(1, 2, 3));
}

}  // namespace
}  // namespace parsity::data
