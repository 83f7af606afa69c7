#include "experiments/study_runner/aggregation.h"

#include <vector>

#include "gtest/gtest.h"

namespace parsity::experiments {
namespace {

using trainer::TrialStatus;

TrialSummary Trial(int index, TrialStatus status, std::optional<int64_t> steps_to_result, int64_t steps,
                   bool stopped_early = false) {
  TrialSummary trial;
  trial.trial = index;
  trial.status = status;
  trial.steps_to_result = steps_to_result;
  trial.steps = steps;
  trial.examples_seen = steps * 10;
  trial.stopped_early = stopped_early;
  trial.examples_saved_at_most = stopped_early ? (5000 - steps) * 10 : 0;
  trial.wall_seconds = 1.5;
  trial.parameters.set_learning_rate(0.01 * (index + 1));
  return trial;
}

TEST(AggregationTest, StepsToResultIsTheFewestOverCompleteTrials) {
  const std::vector<TrialSummary> trials = {
      Trial(0, TrialStatus::kComplete, 1200, 1200),
      Trial(1, TrialStatus::kIncomplete, std::nullopt, 5000),
      Trial(2, TrialStatus::kComplete, 800, 800),
      Trial(3, TrialStatus::kInfeasible, std::nullopt, 37),
      Trial(4, TrialStatus::kIncomplete, std::nullopt, 800, /*stopped_early=*/true),
      Trial(5, TrialStatus::kComplete, 900, 900),
  };
  const StudyResult result = AggregateStudy(trials);
  ASSERT_TRUE(result.steps_to_result.has_value());
  EXPECT_EQ(*result.steps_to_result, 800);
  EXPECT_EQ(*result.best_trial, 2);
  EXPECT_DOUBLE_EQ(result.best_parameters.learning_rate(), 0.03);
  EXPECT_EQ(result.trials, 6);
  EXPECT_EQ(result.complete, 3);
  EXPECT_EQ(result.incomplete, 2);
  EXPECT_EQ(result.infeasible, 1);
  EXPECT_EQ(result.stopped_early, 1);
  EXPECT_EQ(result.examples_trained, (1200 + 5000 + 800 + 37 + 800 + 900) * 10);
  EXPECT_EQ(result.examples_saved_at_most, (5000 - 800) * 10);
  EXPECT_DOUBLE_EQ(result.trial_seconds, 9.0);
}

TEST(AggregationTest, TiesGoToTheLowestTrialWhateverTheOrder) {
  const StudyResult forward = AggregateStudy(std::vector<TrialSummary>{Trial(1, TrialStatus::kComplete, 500, 500),
                                                                       Trial(4, TrialStatus::kComplete, 500, 500)});
  const StudyResult backward = AggregateStudy(std::vector<TrialSummary>{Trial(4, TrialStatus::kComplete, 500, 500),
                                                                        Trial(1, TrialStatus::kComplete, 500, 500)});
  EXPECT_EQ(*forward.best_trial, 1);
  EXPECT_EQ(*backward.best_trial, 1);
}

TEST(AggregationTest, NoCompleteTrialNoResult) {
  const StudyResult result = AggregateStudy(std::vector<TrialSummary>{
      Trial(0, TrialStatus::kIncomplete, std::nullopt, 5000), Trial(1, TrialStatus::kInfeasible, std::nullopt, 3)});
  EXPECT_FALSE(result.steps_to_result.has_value());
  EXPECT_FALSE(result.best_trial.has_value());
  EXPECT_FALSE(result.best_parameters.has_learning_rate());
  EXPECT_EQ(result.complete, 0);
  EXPECT_EQ(AggregateStudy({}).trials, 0);
}

}  // namespace
}  // namespace parsity::experiments
