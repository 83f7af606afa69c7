#include "experiments/study_runner/early_termination.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace parsity::experiments {
namespace {

TEST(EarlyTerminationTest, NextCheckStep) {
  EXPECT_EQ(NextCheckStep(0, 100, 40000), 100);
  EXPECT_EQ(NextCheckStep(100, 100, 40000), 200);
  EXPECT_EQ(NextCheckStep(150, 100, 40000), 200);
  EXPECT_EQ(NextCheckStep(900, 100, 950), 950);  // The budget's last step is always checked.
  EXPECT_EQ(NextCheckStep(0, 100, 30), 30);
}

TEST(EarlyTerminationTest, ImprovesIsLexicographicInStepsThenTrial) {
  EXPECT_TRUE(Improves(5000, 7, std::nullopt));
  const Incumbent best{800, 3};
  EXPECT_TRUE(Improves(700, 9, best));
  EXPECT_TRUE(Improves(800, 2, best));  // A tie won by a lower trial index changes the best trial.
  EXPECT_FALSE(Improves(800, 3, best));
  EXPECT_FALSE(Improves(800, 4, best));  // A tie by a later trial changes nothing.
  EXPECT_FALSE(Improves(900, 0, best));
}

TEST(EarlyTerminationTest, ATrialStopsOnceItsNextCheckCannotWin) {
  const Incumbent best{800, 3};
  // A trial checked at step 600 (interval 100) can still complete at 700: it continues.
  EXPECT_TRUE(CanStillWin(NextCheckStep(600, 100, 40000), 5, best));
  // At step 700 its next chance is 800: a tie that trial 5 would lose, trial 1 would win.
  EXPECT_FALSE(CanStillWin(NextCheckStep(700, 100, 40000), 5, best));
  EXPECT_TRUE(CanStillWin(NextCheckStep(700, 100, 40000), 1, best));
  EXPECT_FALSE(CanStillWin(NextCheckStep(800, 100, 40000), 1, best));
}

TEST(EarlyTerminationTest, SharedIncumbentKeepsTheBest) {
  SharedIncumbent incumbent;
  EXPECT_FALSE(incumbent.Get().has_value());
  std::vector<std::thread> threads;
  for (int trial = 0; trial < 8; ++trial) {
    threads.emplace_back([&incumbent, trial] { incumbent.Offer(1000 - 100 * (trial % 4), trial); });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(incumbent.Get().has_value());
  EXPECT_EQ(incumbent.Get()->steps_to_result, 700);
  EXPECT_EQ(incumbent.Get()->trial, 3);  // Trials 3 and 7 tie at 700; the lower index wins whatever the order.
  EXPECT_FALSE(incumbent.Offer(700, 7));
  EXPECT_TRUE(incumbent.Offer(700, 1));
}

}  // namespace
}  // namespace parsity::experiments
