#include "theory/noisy_quadratic.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "theory/scaling_model.h"
#include "tools/base/status_matchers.h"

namespace parsity::theory {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

NoisyQuadratic Problem(std::vector<double> h, std::vector<double> c, std::vector<double> w0) {
  return NoisyQuadratic{std::move(h), std::move(c), std::move(w0)};
}

TEST(NoisyQuadraticTest, InverseIndexProblemHasZhangEtAlsConstants) {
  ASSERT_OK_AND_ASSIGN(const NoisyQuadratic problem, MakeInverseIndexQuadratic(4));
  EXPECT_THAT(problem.curvatures, ElementsAre(1.0, 0.5, 1.0 / 3, 0.25));
  EXPECT_EQ(problem.noise_variances, problem.curvatures);  // C = H.
  EXPECT_THAT(problem.initial_point, ElementsAre(1, 1, 1, 1));
  EXPECT_EQ(LipschitzConstant(problem), 1.0);
  EXPECT_NEAR(InitialGap(problem), 25.0 / 24, 1e-15);     // H_4 / 2.
  EXPECT_NEAR(NoiseVariance(problem), 25.0 / 12, 1e-15);  // H_4.
  EXPECT_THAT(MakeInverseIndexQuadratic(0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dimension")));
}

TEST(NoisyQuadraticTest, CriterionValuesByHand) {
  const NoisyQuadratic problem = Problem({2, 0.5}, {0, 0}, {0, 0});
  const std::vector<double> w = {1, 2};
  EXPECT_DOUBLE_EQ(CriterionValue(problem, Criterion::kLoss, w), 2);                 // (2 * 1 + 0.5 * 4) / 2.
  EXPECT_DOUBLE_EQ(CriterionValue(problem, Criterion::kGradientNormSquared, w), 5);  // 4 * 1 + 0.25 * 4.
  EXPECT_EQ(CriterionName(Criterion::kLoss), "loss");
  EXPECT_THAT(ParseCriterion("gradient_norm_squared"), ::testing::Truly([](const absl::StatusOr<Criterion>& c) {
                return c.ok() && *c == Criterion::kGradientNormSquared;
              }));
  EXPECT_THAT(ParseCriterion("accuracy"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("accuracy")));
}

TEST(NoisyQuadraticTest, RejectsBadProblemsSettingsAndOptions) {
  EXPECT_THAT(ValidateNoisyQuadratic(Problem({}, {}, {})), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateNoisyQuadratic(Problem({1, 2}, {1}, {1, 1})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("noise_variances has 1")));
  EXPECT_THAT(ValidateNoisyQuadratic(Problem({1, 0}, {1, 1}, {1, 1})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("curvatures[1]")));
  EXPECT_THAT(ValidateNoisyQuadratic(Problem({1, 1}, {-1, 1}, {1, 1})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("noise_variances[0]")));
  EXPECT_THAT(ValidateNoisyQuadratic(Problem({1, 1}, {1, 1}, {1, kNaN})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("initial_point[1]")));
  EXPECT_THAT(ValidateNoisyQuadratic(Problem({1, 1}, {0, 1}, {-3, 1})), IsOk());

  const NoisyQuadratic problem = Problem({1}, {1}, {1});
  auto run_with = [&problem](auto mutate) {
    RunSettings settings;
    mutate(settings);
    return SimulateRun(problem, settings);
  };
  EXPECT_THAT(run_with([](RunSettings& s) { s.learning_rate = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("learning_rate")));
  EXPECT_THAT(run_with([](RunSettings& s) { s.momentum = 1; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("momentum")));
  EXPECT_THAT(run_with([](RunSettings& s) { s.batch_size = 0; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_size")));
  EXPECT_THAT(run_with([](RunSettings& s) { s.goal = kNaN; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("goal")));
  EXPECT_THAT(run_with([](RunSettings& s) { s.max_steps = -1; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_steps")));
  EXPECT_THAT(ExpectedCriterion(problem, RunSettings(), -1), StatusIs(absl::StatusCode::kInvalidArgument));

  TuningOptions options;
  options.min_learning_rate = 0;
  EXPECT_THAT(TuneLearningRate(problem, RunSettings(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_learning_rate")));
  options = TuningOptions();
  options.max_learning_rate = options.min_learning_rate / 2;
  EXPECT_THAT(ValidateTuningOptions(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_")));
  options = TuningOptions();
  options.fine_points_per_octave = 0;
  EXPECT_THAT(ValidateTuningOptions(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("fine_")));
  EXPECT_THAT(MeasureStepsToResultCurve(problem, RunSettings(), {}, TuningOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no batch sizes")));
  EXPECT_THAT(MeasureStepsToResultCurve(problem, RunSettings(), {1, 0}, TuningOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch size 0")));
}

TEST(StandardNormalTest, BoxMullerFromTwoRawEngineOutputs) {
  std::mt19937_64 engine(9), replay(9);
  double first, second;
  StandardNormalPair(engine, first, second);
  const double u1 = (static_cast<double>(replay() >> 11) + 1) * std::ldexp(1.0, -53);
  const double u2 = static_cast<double>(replay() >> 11) * std::ldexp(1.0, -53);
  const double r = std::sqrt(-2 * std::log(u1));
  EXPECT_EQ(first, r * std::cos(6.283185307179586476925286766559 * u2));
  EXPECT_EQ(second, r * std::sin(6.283185307179586476925286766559 * u2));
  EXPECT_EQ(engine(), replay());  // Exactly two outputs consumed.

  std::vector<double> odd(5);
  FillStandardNormals(engine, absl::MakeSpan(odd));  // Three pairs, the last sine discarded.
  for (int i = 0; i < 6; ++i) replay();
  EXPECT_EQ(engine(), replay());
}

// 10^6 draws: mean, variance, fourth moment and P(|z| < 1) within 5 standard errors (false failure ~1e-6 each).
TEST(StandardNormalTest, MomentsOfAMillionDraws) {
  std::mt19937_64 engine(1);
  std::vector<double> z(1000000);
  FillStandardNormals(engine, absl::MakeSpan(z));
  double sum = 0, sum2 = 0, sum4 = 0, inside = 0;
  for (double x : z) {
    sum += x;
    sum2 += x * x;
    sum4 += x * x * x * x;
    inside += std::abs(x) < 1;
  }
  const double n = static_cast<double>(z.size());
  EXPECT_NEAR(sum / n, 0, 5 / std::sqrt(n));
  EXPECT_NEAR(sum2 / n, 1, 5 * std::sqrt(2 / n));
  EXPECT_NEAR(sum4 / n, 3, 5 * std::sqrt(96 / n));
  EXPECT_NEAR(inside / n, 0.682689492137, 5 * std::sqrt(0.2166 / n));
}

TEST(SimulateRunTest, WithoutNoiseIsGradientDescentInClosedForm) {
  // h = 1, w0 = 1, eta = 0.5: f(w_k) = 0.25^k / 2 <= 1e-3 first at k = 5 (0.25^4 / 2 = 0.0020, 0.25^5 / 2 = 0.00049).
  RunSettings settings;
  settings.learning_rate = 0.5;
  settings.goal = 1e-3;
  ASSERT_OK_AND_ASSIGN(const RunResult run, SimulateRun(Problem({1}, {0}, {1}), settings));
  EXPECT_TRUE(run.reached);
  EXPECT_FALSE(run.diverged);
  EXPECT_EQ(run.steps, 5);
  EXPECT_DOUBLE_EQ(run.final_value, std::pow(0.25, 5) / 2);
}

TEST(SimulateRunTest, WithoutNoiseMatchesTheExpectedRecursionForSgdAndMomentum) {
  const NoisyQuadratic problem = Problem({1, 0.3, 0.01}, {0, 0, 0}, {1, -2, 3});
  for (Criterion criterion : {Criterion::kLoss, Criterion::kGradientNormSquared}) {
    for (double momentum : {0.0, 0.5, 0.9}) {
      RunSettings settings;
      settings.learning_rate = 0.2;
      settings.momentum = momentum;
      settings.criterion = criterion;
      ASSERT_OK_AND_ASSIGN(const std::vector<double> expected, ExpectedCriterion(problem, settings, 5000));
      settings.goal = expected[0] * 1e-3;
      ASSERT_OK_AND_ASSIGN(const RunResult run, SimulateRun(problem, settings));
      int64_t first = 0;
      while (first < 5000 && expected[first] > settings.goal) ++first;
      ASSERT_LT(first, 5000);
      EXPECT_TRUE(run.reached);
      EXPECT_EQ(run.steps, first) << momentum;
      EXPECT_NEAR(run.final_value, expected[first], 1e-12 * expected[0]) << momentum;
    }
  }
}

// The stochastic simulation against the exact second-moment recursion: the mean over 4000 seeds of the criterion at
// step 40 is within 4 standard errors (of the sample) of E[criterion] (false failure ~6e-5 per comparison).
TEST(SimulateRunTest, MeanOverSeedsMatchesTheExpectedCriterion) {
  const NoisyQuadratic problem = Problem({1, 0.5, 0.2, 0.05}, {1, 2, 0.5, 0.1}, {1, 1, -1, 2});
  for (Criterion criterion : {Criterion::kLoss, Criterion::kGradientNormSquared}) {
    for (double momentum : {0.0, 0.8}) {
      RunSettings settings;
      settings.learning_rate = 0.15;
      settings.momentum = momentum;
      settings.batch_size = 3;
      settings.criterion = criterion;
      settings.goal = 1e-300;  // Never reached: every run stops at max_steps.
      settings.max_steps = 40;
      ASSERT_OK_AND_ASSIGN(const std::vector<double> expected, ExpectedCriterion(problem, settings, 40));
      double sum = 0, sum2 = 0;
      constexpr int kSeeds = 4000;
      for (int seed = 0; seed < kSeeds; ++seed) {
        settings.seed = seed;
        ASSERT_OK_AND_ASSIGN(const RunResult run, SimulateRun(problem, settings));
        ASSERT_FALSE(run.reached);
        ASSERT_EQ(run.steps, 40);
        sum += run.final_value;
        sum2 += run.final_value * run.final_value;
      }
      const double mean = sum / kSeeds;
      const double standard_error = std::sqrt((sum2 / kSeeds - mean * mean) / kSeeds);
      EXPECT_NEAR(mean, expected[40], 4 * standard_error) << CriterionName(criterion) << " m = " << momentum;
      EXPECT_GT(expected[40], 0.01 * expected[0]);  // The noise floor is visible: this is not a noise-free check.
    }
  }
}

TEST(SimulateRunTest, DivergesAboveTheStabilityLimitAndStopsAtZeroWhenW0MeetsTheGoal) {
  RunSettings settings;
  settings.learning_rate = 2.5;  // |1 - eta h| = 1.5 > 1.
  settings.goal = 1e-3;
  ASSERT_OK_AND_ASSIGN(const RunResult diverged, SimulateRun(Problem({1}, {0.1}, {1}), settings));
  EXPECT_TRUE(diverged.diverged);
  EXPECT_FALSE(diverged.reached);
  EXPECT_LT(diverged.steps, 100);
  settings.goal = 1;
  ASSERT_OK_AND_ASSIGN(const RunResult done, SimulateRun(Problem({1}, {0.1}, {1}), settings));
  EXPECT_TRUE(done.reached);
  EXPECT_EQ(done.steps, 0);
}

TEST(SimulateRunTest, SameSeedSameTrajectory) {
  ASSERT_OK_AND_ASSIGN(const NoisyQuadratic problem, MakeInverseIndexQuadratic(50));
  RunSettings settings;
  settings.goal = 1e-9;
  settings.max_steps = 200;
  settings.seed = 5;
  ASSERT_OK_AND_ASSIGN(const RunResult a, SimulateRun(problem, settings));
  ASSERT_OK_AND_ASSIGN(const RunResult b, SimulateRun(problem, settings));
  settings.seed = 6;
  ASSERT_OK_AND_ASSIGN(const RunResult c, SimulateRun(problem, settings));
  EXPECT_EQ(a.final_value, b.final_value);
  EXPECT_NE(a.final_value, c.final_value);
}

// The reference tuner: every learning rate of the coarse grid alone, the fewest steps (ties to the smaller rate), then
// the same over the fine grid around it.
struct Best {
  double learning_rate = 0;
  int64_t steps = std::numeric_limits<int64_t>::max();
};

Best BruteForce(const NoisyQuadratic& problem, RunSettings settings, const std::vector<double>& grid) {
  Best best;
  for (double learning_rate : grid) {
    settings.learning_rate = learning_rate;
    const absl::StatusOr<RunResult> run = SimulateRun(problem, settings);
    EXPECT_THAT(run, IsOk());
    if (run->reached && run->steps < best.steps) best = {learning_rate, run->steps};
  }
  return best;
}

TEST(TuneLearningRateTest, EqualsTryingEveryLearningRateAlone) {
  ASSERT_OK_AND_ASSIGN(const NoisyQuadratic problem, MakeInverseIndexQuadratic(32));
  TuningOptions options;
  options.fine_points_per_octave = 4;
  for (int64_t batch_size : {1, 16, 1024}) {
    for (double momentum : {0.0, 0.9}) {
      RunSettings settings;
      settings.batch_size = batch_size;
      settings.momentum = momentum;
      settings.goal = 0.05;
      settings.seed = 3;
      settings.max_steps = 20000;  // Keeps the brute force's hopeless small rates short.
      ASSERT_OK_AND_ASSIGN(const TunedPoint point, TuneLearningRate(problem, settings, options));
      ASSERT_TRUE(point.reached);

      std::vector<double> coarse;
      for (int j = 0; j <= 14; ++j) coarse.push_back(std::ldexp(1.0, j - 12));  // 2^-12 .. 2^2.
      const Best coarse_best = BruteForce(problem, settings, coarse);
      std::vector<double> fine;
      for (int k = -4; k <= 4; ++k) {
        const double lr = coarse_best.learning_rate * std::exp2(k / 4.0);
        if (lr >= options.min_learning_rate * (1 - 1e-9) && lr <= options.max_learning_rate * (1 + 1e-9)) {
          fine.push_back(lr);
        }
      }
      const Best fine_best = BruteForce(problem, settings, fine);
      EXPECT_EQ(point.steps, fine_best.steps) << batch_size << " " << momentum;
      EXPECT_DOUBLE_EQ(point.learning_rate, fine_best.learning_rate) << batch_size << " " << momentum;
      EXPECT_EQ(point.runs, static_cast<int>(coarse.size() + fine.size()));
    }
  }
}

TEST(TuneLearningRateTest, ReportsWhenNoLearningRateReachesTheGoal) {
  ASSERT_OK_AND_ASSIGN(const NoisyQuadratic problem, MakeInverseIndexQuadratic(32));
  RunSettings settings;
  settings.goal = 0.05;
  settings.max_steps = 3;
  ASSERT_OK_AND_ASSIGN(const TunedPoint point, TuneLearningRate(problem, settings, TuningOptions()));
  EXPECT_FALSE(point.reached);
  EXPECT_EQ(point.steps, 3);
}

// The check that //theory:noisy_quadratic_check runs, smaller: d = 256, batch sizes 1..2^14, loss goal 0.05.
class ScalingOnTheNoisyQuadraticTest : public ::testing::Test {
 protected:
  static std::vector<int64_t> BatchSizes() {
    std::vector<int64_t> batch_sizes;
    for (int j = 0; j <= 14; ++j) batch_sizes.push_back(int64_t{1} << j);
    return batch_sizes;
  }

  static ScalingCurve Measure(const NoisyQuadratic& problem, double momentum) {
    RunSettings settings;
    settings.goal = 0.05;
    settings.momentum = momentum;
    settings.max_steps = 1000000;
    TuningOptions options;
    options.fine_points_per_octave = 4;
    const std::vector<int64_t> batch_sizes = BatchSizes();
    const absl::StatusOr<std::vector<TunedPoint>> points =
        MeasureStepsToResultCurve(problem, settings, batch_sizes, options);
    EXPECT_THAT(points, IsOk());
    ScalingCurve curve;
    for (const TunedPoint& point : *points) {
      EXPECT_TRUE(point.reached) << point.batch_size;
      curve.batch_sizes.push_back(static_cast<double>(point.batch_size));
      curve.steps.push_back(static_cast<double>(point.steps));
    }
    return curve;
  }

  static void ExpectAllThreeRegimes(const ScalingFit& fit) {
    int counts[3] = {0, 0, 0};
    for (ScalingRegime regime : fit.regimes) counts[static_cast<int>(regime)]++;
    EXPECT_GE(counts[0], 1) << "no PERFECT_SCALING point";
    EXPECT_GE(counts[1], 1) << "no DIMINISHING_RETURNS point";
    EXPECT_GE(counts[2], 1) << "no MAXIMAL_DATA_PARALLELISM point";
  }
};

TEST_F(ScalingOnTheNoisyQuadraticTest, SgdFollowsTheScalingModel) {
  ASSERT_OK_AND_ASSIGN(const NoisyQuadratic problem, MakeInverseIndexQuadratic(256));
  const ScalingCurve curve = Measure(problem, 0);
  ASSERT_EQ(curve.steps.size(), 15u);
  // Perfect scaling at the smallest batches, a floor at the largest.
  EXPECT_NEAR(curve.steps[1] / curve.steps[0], 0.5, 0.1);    // B = 2 vs 1.
  EXPECT_NEAR(curve.steps[14] / curve.steps[12], 1.0, 0.2);  // B = 2^14 vs 2^12.

  ScalingFitOptions options;
  options.bootstrap_resamples = 200;
  ASSERT_OK_AND_ASSIGN(const ScalingFit fit, FitScalingCurve(curve, options));
  ASSERT_OK_AND_ASSIGN(const PredictionScore score, ScorePrediction(FittedSteps(fit, curve.batch_sizes), curve.steps));
  EXPECT_LT(score.mean_abs_log_error, 0.15);
  EXPECT_LT(score.max_abs_log_error, 0.5);
  EXPECT_FALSE(fit.critical_batch_size_at_bound);
  ExpectAllThreeRegimes(fit);

  // The theory's closed-form B* = 2 sigma^2 / eps (eps := the loss goal) is conservative here: the fitted B_crit lies
  // below it, within a factor 10.
  TheoryConstants constants;
  constants.lipschitz = LipschitzConstant(problem);
  constants.gap = InitialGap(problem);
  constants.noise_variance = NoiseVariance(problem);
  constants.goal = 0.05;
  ASSERT_OK_AND_ASSIGN(const double closed_form, TheoryCriticalBatchSize(constants));
  EXPECT_LT(fit.critical_batch_size, closed_form);
  EXPECT_GT(fit.critical_batch_size, closed_form / 10);
}

TEST_F(ScalingOnTheNoisyQuadraticTest, MomentumMovesTheEndOfPerfectScalingToLargerBatches) {
  ASSERT_OK_AND_ASSIGN(const NoisyQuadratic problem, MakeInverseIndexQuadratic(256));
  const ScalingCurve sgd = Measure(problem, 0);
  const ScalingCurve heavy_ball = Measure(problem, 0.9);
  ScalingFitOptions options;
  options.bootstrap_resamples = 0;
  ASSERT_OK_AND_ASSIGN(const ScalingFit sgd_fit, FitScalingCurve(sgd, options));
  ASSERT_OK_AND_ASSIGN(const ScalingFit fit, FitScalingCurve(heavy_ball, options));
  ASSERT_OK_AND_ASSIGN(const PredictionScore score,
                       ScorePrediction(FittedSteps(fit, heavy_ball.batch_sizes), heavy_ball.steps));
  EXPECT_LT(score.mean_abs_log_error, 0.15);
  ExpectAllThreeRegimes(fit);
  // Same steps at B = 1 (momentum buys nothing in perfect scaling), a larger critical batch size, a lower floor.
  EXPECT_NEAR(std::log(heavy_ball.steps[0] / sgd.steps[0]), 0, 0.15);
  EXPECT_GT(fit.critical_batch_size, 2 * sgd_fit.critical_batch_size);
  EXPECT_LT(fit.min_steps, 0.5 * sgd_fit.min_steps);
}

}  // namespace
}  // namespace parsity::theory
