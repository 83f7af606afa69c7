#include "training/optimizers/schedule.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace parsity::optimizers {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ScheduleTest, ConstantIsTheSameAtEveryStep) {
  ASSERT_OK_AND_ASSIGN(Schedule schedule, Schedule::Constant(0.3f));
  EXPECT_EQ(schedule.name(), "constant");
  for (const int64_t step : {0, 1, 1000, 1000000000}) EXPECT_EQ(schedule.LearningRate(step), 0.3f) << step;
}

// lr0 = 0.1, T = 1000, alpha = 0.01: lr(t) = 0.1 (1 - 0.99 min(t, 1000) / 1000).
TEST(ScheduleTest, LinearDecayAtZeroHalfFullAndTwiceTheDecaySteps) {
  ASSERT_OK_AND_ASSIGN(Schedule schedule, Schedule::LinearDecay(0.1f, 1000, 0.01f));
  EXPECT_EQ(schedule.name(), "linear_decay");
  // t = 0: the first update uses lr0.
  EXPECT_FLOAT_EQ(schedule.LearningRate(0), 0.1f);
  // t = 1: 0.1 (1 - 0.99 / 1000) = 0.1 * 0.99901 = 0.099901.
  EXPECT_FLOAT_EQ(schedule.LearningRate(1), 0.099901f);
  // t = T/2 = 500: 0.1 (1 - 0.99 * 0.5) = 0.1 * 0.505 = 0.0505.
  EXPECT_FLOAT_EQ(schedule.LearningRate(500), 0.0505f);
  // t = T: 0.1 * 0.01 = 0.001.
  EXPECT_FLOAT_EQ(schedule.LearningRate(1000), 0.001f);
  // t = 2T: flat after T.
  EXPECT_FLOAT_EQ(schedule.LearningRate(2000), 0.001f);
}

TEST(ScheduleTest, LinearDecayIsMonotone) {
  ASSERT_OK_AND_ASSIGN(Schedule schedule, Schedule::LinearDecay(1.0f, 37, 0.5f));
  for (int64_t step = 1; step < 80; ++step) EXPECT_LE(schedule.LearningRate(step), schedule.LearningRate(step - 1));
}

TEST(ScheduleTest, EndFactorOneIsConstant) {
  ASSERT_OK_AND_ASSIGN(Schedule schedule, Schedule::LinearDecay(0.25f, 10, 1.0f));
  EXPECT_EQ(schedule.LearningRate(0), 0.25f);
  EXPECT_EQ(schedule.LearningRate(5), 0.25f);
  EXPECT_EQ(schedule.LearningRate(20), 0.25f);
}

TEST(ScheduleTest, CreateDispatchesOnTheName) {
  ScheduleConfig config;
  config.name = "linear_decay";
  config.initial_learning_rate = 2.0f;
  config.decay_steps = 4;
  config.end_factor = 0.5f;
  ASSERT_OK_AND_ASSIGN(Schedule schedule, Schedule::Create(config));
  // lr(t) = 2 (1 - 0.5 min(t, 4) / 4): 2, 1.75, 1.5, 1.25, 1, 1.
  EXPECT_THAT((std::vector<float>{schedule.LearningRate(0), schedule.LearningRate(1), schedule.LearningRate(2),
                                  schedule.LearningRate(3), schedule.LearningRate(4), schedule.LearningRate(5)}),
              ElementsAre(2.0f, 1.75f, 1.5f, 1.25f, 1.0f, 1.0f));

  config.name = "constant";
  config.decay_steps = 0;  // Unused by "constant": not validated.
  ASSERT_OK_AND_ASSIGN(Schedule constant, Schedule::Create(config));
  EXPECT_EQ(constant.LearningRate(100), 2.0f);
}

TEST(ScheduleTest, CreateRejectsBadConfigsNamingTheField) {
  EXPECT_THAT(Schedule::Constant(0.0f), StatusIs(absl::StatusCode::kInvalidArgument,
                                                 HasSubstr("initial_learning_rate must be finite and > 0; got 0")));
  EXPECT_THAT(Schedule::Constant(-1.0f),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("initial_learning_rate")));
  EXPECT_THAT(Schedule::Constant(std::numeric_limits<float>::infinity()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("initial_learning_rate")));
  EXPECT_THAT(Schedule::Constant(std::nanf("")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("initial_learning_rate")));
  EXPECT_THAT(Schedule::LinearDecay(0.1f, 0, 0.5f),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("decay_steps must be >= 1; got 0")));
  EXPECT_THAT(Schedule::LinearDecay(0.1f, 10, 0.0f),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("end_factor must be in (0, 1]; got 0")));
  EXPECT_THAT(Schedule::LinearDecay(0.1f, 10, 1.5f),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("end_factor must be in (0, 1]; got 1.5")));
  ScheduleConfig unknown;
  unknown.name = "cosine";
  unknown.initial_learning_rate = 0.1f;
  EXPECT_THAT(Schedule::Create(unknown),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"cosine\" is unknown; expected one of: constant, linear_decay")));
  // The zero defaults are invalid on purpose.
  ScheduleConfig defaults;
  defaults.name = "linear_decay";
  defaults.initial_learning_rate = 0.1f;
  EXPECT_THAT(Schedule::Create(defaults), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("decay_steps")));
}

TEST(ScheduleDeathTest, NegativeStepAborts) {
  ASSERT_OK_AND_ASSIGN(Schedule schedule, Schedule::Constant(0.1f));
  EXPECT_DEATH(schedule.LearningRate(-1), "check failed");
}

}  // namespace
}  // namespace parsity::optimizers
