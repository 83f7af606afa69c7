#include "pruning/magnitude.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace parsity::pruning {
namespace {

TEST(MagnitudeScoresTest, AreAbsoluteValuesExactly) {
  const float tiny = std::numeric_limits<float>::denorm_min();
  const std::vector<float> parameters = {0.5f, -0.25f, 0.0f, -0.0f, -3.0e38f, tiny, -0.1f};
  const std::vector<double> scores = MagnitudeScores(parameters);
  ASSERT_EQ(scores.size(), parameters.size());
  EXPECT_EQ(scores[0], 0.5);
  EXPECT_EQ(scores[1], 0.25);
  EXPECT_EQ(scores[2], 0.0);
  EXPECT_EQ(scores[3], 0.0);
  EXPECT_FALSE(std::signbit(scores[3]));
  EXPECT_EQ(scores[4], static_cast<double>(3.0e38f));
  EXPECT_EQ(scores[5], static_cast<double>(tiny));
  EXPECT_EQ(scores[6], static_cast<double>(0.1f));  // The float's own value, not 0.1.
}

TEST(MagnitudeScoresTest, KeepsNanForTheSelectionToReject) {
  const std::vector<double> scores = MagnitudeScores({std::numeric_limits<float>::quiet_NaN()});
  EXPECT_TRUE(std::isnan(scores[0]));
  EXPECT_TRUE(MagnitudeScores({}).empty());
}

}  // namespace
}  // namespace parsity::pruning
