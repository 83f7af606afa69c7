#include "experiments/study_runner/search_space.h"

#include <cmath>
#include <vector>

#include "experiments/study_runner/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace parsity::experiments {
namespace {

using ::testing::DoubleEq;
using ::testing::ElementsAre;

SearchedMetaparameter Range(Metaparameter parameter, double min, double max, Scale scale) {
  SearchedMetaparameter searched;
  searched.set_parameter(parameter);
  searched.set_min(min);
  searched.set_max(max);
  searched.set_scale(scale);
  return searched;
}

const double kAlmostOne = std::nextafter(1.0, 0.0);

TEST(SobolTest, FirstPointsInOneDimension) {
  std::vector<double> first;
  for (const std::vector<double>& point : SobolPoints(1, 8)) first.push_back(point[0]);
  EXPECT_THAT(first, ElementsAre(0.5, 0.75, 0.25, 0.375, 0.875, 0.625, 0.125, 0.1875));
}

TEST(SobolTest, FirstPointsInTwoDimensions) {
  const std::vector<std::vector<double>> points = SobolPoints(2, 7);
  const std::vector<std::vector<double>> expected = {{0.5, 0.5},     {0.75, 0.25},   {0.25, 0.75},  {0.375, 0.375},
                                                     {0.875, 0.875}, {0.625, 0.125}, {0.125, 0.625}};
  EXPECT_EQ(points, expected);
}

TEST(SobolTest, PointsDoNotDependOnTheCountAndStayInTheUnitCube) {
  const std::vector<std::vector<double>> few = SobolPoints(4, 10);
  const std::vector<std::vector<double>> many = SobolPoints(4, 1000);
  EXPECT_EQ(few, std::vector<std::vector<double>>(many.begin(), many.begin() + 10));
  for (const std::vector<double>& point : many) {
    for (double u : point) {
      EXPECT_GE(u, 0.0);
      EXPECT_LT(u, 1.0);
    }
  }
  EXPECT_EQ(SobolPoints(0, 3), std::vector<std::vector<double>>(3));
}

TEST(ScaleTest, LogIsLogUniform) {
  const SearchedMetaparameter searched = Range(LEARNING_RATE, 1e-4, 1, LOG);
  EXPECT_DOUBLE_EQ(MapToScale(searched, 0.0), 1e-4);
  EXPECT_NEAR(MapToScale(searched, 0.5), 1e-2, 1e-15);
  EXPECT_NEAR(MapToScale(searched, 0.25), 1e-3, 1e-16);
  EXPECT_NEAR(MapToScale(searched, kAlmostOne), 1.0, 1e-14);
}

TEST(ScaleTest, ReverseLogMakesOneMinusTheValueLogUniform) {
  const SearchedMetaparameter searched = Range(MOMENTUM, 0.9, 0.9999, REVERSE_LOG);
  EXPECT_NEAR(MapToScale(searched, 0.0), 0.9, 1e-15);
  EXPECT_NEAR(MapToScale(searched, 1.0 / 3), 0.99, 1e-14);  // 1 - m: 0.1, 0.01, 0.001, 0.0001 at u = 0, 1/3, 2/3, 1.
  EXPECT_NEAR(MapToScale(searched, 2.0 / 3), 0.999, 1e-14);
  EXPECT_NEAR(MapToScale(searched, kAlmostOne), 0.9999, 1e-14);
}

TEST(ScaleTest, LinearAndInteger) {
  EXPECT_DOUBLE_EQ(MapToScale(Range(LEARNING_RATE, 2, 4, LINEAR), 0.25), 2.5);
  const SearchedMetaparameter steps = Range(DECAY_STEPS, 30000, 60000, INTEGER);
  EXPECT_EQ(MapToScale(steps, 0.0), 30000);
  EXPECT_EQ(MapToScale(steps, 0.5), 45000);
  EXPECT_EQ(MapToScale(steps, kAlmostOne), 60000);
  // Every integer of [1, 4] gets a quarter of [0, 1).
  const SearchedMetaparameter small = Range(DECAY_STEPS, 1, 4, INTEGER);
  EXPECT_EQ(MapToScale(small, 0.24), 1);
  EXPECT_EQ(MapToScale(small, 0.25), 2);
  EXPECT_EQ(MapToScale(small, 0.74), 3);
  EXPECT_EQ(MapToScale(small, 0.75), 4);
}

TEST(ScaleTest, EveryScaleIsIncreasingAndStaysInRange) {
  for (const SearchedMetaparameter& searched :
       {Range(LEARNING_RATE, 1e-4, 1, LOG), Range(MOMENTUM, 0.9, 0.9999, REVERSE_LOG),
        Range(LEARNING_RATE, 0.1, 0.5, LINEAR), Range(DECAY_STEPS, 30000, 60000, INTEGER)}) {
    SCOPED_TRACE(ShallueScaleName(searched.scale()));
    double previous = -1;
    for (int i = 0; i < 1000; ++i) {
      const double value = MapToScale(searched, i / 1000.0);
      EXPECT_GE(value, previous);
      EXPECT_GE(value, searched.min() * (1 - 1e-15));
      EXPECT_LE(value, searched.max() * (1 + 1e-15));
      previous = value;
    }
  }
}

TEST(SearchSpaceTest, TrialMetaparametersMixSearchedAndFixedValues) {
  StudySpec spec;
  spec.mutable_optimizer()->set_name("momentum");
  spec.mutable_optimizer()->set_momentum(0.95);
  spec.mutable_schedule()->set_name("constant");
  *spec.add_search() = Range(LEARNING_RATE, 1e-4, 1, LOG);
  const Metaparameters sgd = TrialMetaparameters(spec, {0.5});
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), std::sqrt(1e-4));
  EXPECT_DOUBLE_EQ(sgd.momentum(), 0.95);  // Fixed: momentum is used but not searched.
  EXPECT_FALSE(sgd.has_decay_steps());
  EXPECT_FALSE(sgd.has_end_factor());
  EXPECT_EQ(MetaparametersJson(sgd).ToString(), "{\"learning_rate\":0.01,\"momentum\":0.95}");

  spec.mutable_schedule()->set_name("linear_decay");
  *spec.add_search() = Range(MOMENTUM, 0.9, 0.9999, REVERSE_LOG);
  *spec.add_search() = Range(DECAY_STEPS, 30000, 60000, INTEGER);
  *spec.add_search() = Range(END_FACTOR, 1e-4, 0.1, LOG);
  const Metaparameters all = TrialMetaparameters(spec, {0.5, 0.0, 0.5, 0.0});
  EXPECT_NEAR(all.momentum(), 0.9, 1e-15);
  EXPECT_EQ(all.decay_steps(), 45000);
  EXPECT_NEAR(all.end_factor(), 1e-4, 1e-18);
}

TEST(SearchSpaceTest, ParameterConfigsUseShallueNames) {
  StudySpec spec;
  *spec.add_search() = Range(LEARNING_RATE, 1e-4, 1, LOG);
  *spec.add_search() = Range(MOMENTUM, 0.9, 0.9999, REVERSE_LOG);
  *spec.add_search() = Range(DECAY_STEPS, 30000, 60000, INTEGER);
  EXPECT_EQ(
      ParameterConfigsJson(spec).ToString(),
      "[{\"parameter\":\"learning_rate\",\"type\":\"DOUBLE\",\"min\":0.0001,\"max\":1,\"scale\":\"LOG_SCALE\"},"
      "{\"parameter\":\"momentum\",\"type\":\"DOUBLE\",\"min\":0.9,\"max\":0.9999,\"scale\":\"REVERSE_LOG_SCALE\"},"
      "{\"parameter\":\"decay_steps\",\"type\":\"INTEGER\",\"min\":30000,\"max\":60000,\"scale\":\"INTEGER\"}]");
}

}  // namespace
}  // namespace parsity::experiments
