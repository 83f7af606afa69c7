#include "theory/scaling_model.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace parsity::theory {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// L = 2, Delta = 3, sigma^2 = 4, eps = 0.5: B* = 2 sigma^2 / eps = 16, floor 2 L Delta / eps = 24,
// K(B) = 768 / B up to B* (K(16) = 4 L Delta / eps = 48), then 12 / (0.5 - 4 / B).
TheoryConstants HandConstants() {
  TheoryConstants constants;
  constants.lipschitz = 2;
  constants.gap = 3;
  constants.noise_variance = 4;
  constants.goal = 0.5;
  return constants;
}

double ValueOf(const absl::StatusOr<double>& value) {
  EXPECT_THAT(value, IsOk());
  return value.ok() ? *value : kNaN;
}

double K(const TheoryConstants& constants, double batch_size) {
  return ValueOf(TheoryStepsToResult(constants, batch_size));
}

TEST(TheoryStepsToResultTest, MatchesHandComputedPoints) {
  const TheoryConstants constants = HandConstants();
  EXPECT_DOUBLE_EQ(K(constants, 1), 768);
  EXPECT_DOUBLE_EQ(K(constants, 8), 96);
  EXPECT_DOUBLE_EQ(K(constants, 16), 48);
  EXPECT_DOUBLE_EQ(K(constants, 32), 32);  // 12 / (0.5 - 0.125).
  EXPECT_DOUBLE_EQ(K(constants, 64), 12 / 0.4375);
  EXPECT_DOUBLE_EQ(ValueOf(TheoryCriticalBatchSize(constants)), 16.0);
  EXPECT_DOUBLE_EQ(ValueOf(TheoryMinimalSteps(constants)), 24.0);
}

TEST(TheoryStepsToResultTest, PerfectScalingBelowTheCriticalBatchSizeAndFloorAbove) {
  const TheoryConstants constants = HandConstants();
  for (double b : {0.25, 1.0, 3.0, 7.5, 16.0}) EXPECT_NEAR(K(constants, b) * b, 768, 768 * 1e-13) << b;
  // Continuous at B* = 16, decreasing everywhere, tending to the floor 24.
  EXPECT_NEAR(K(constants, 16 * (1 - 1e-9)), 48, 1e-6);
  EXPECT_NEAR(K(constants, 16 * (1 + 1e-9)), 48, 1e-6);
  double previous = kInf;
  for (double b = 0.5; b < 1e7; b *= 1.1) {
    const double k = K(constants, b);
    EXPECT_LT(k, previous) << b;
    EXPECT_GT(k, 24) << b;
    previous = k;
  }
  EXPECT_NEAR(K(constants, 1e12), 24, 24 * 1e-9);
}

// The reference: minimize the bound's steps 2 Delta / (eta_eff (eps - L eta_eff sigma^2 / B)) over a fine grid of raw
// steps eta in (0, 1/L], eta_eff = eta / (1 - m).
double BruteForceK(const TheoryConstants& c, double batch_size) {
  double best = kInf;
  for (int j = 1; j <= 200000; ++j) {
    const double eta = j / (200000.0 * c.lipschitz);
    const double eta_eff = eta / (1 - c.momentum);
    const double margin = c.goal - c.lipschitz * eta_eff * c.noise_variance / batch_size;
    if (margin > 0) best = std::min(best, 2 * c.gap / (eta_eff * margin));
  }
  return best;
}

TEST(TheoryStepsToResultTest, IsTheBoundMinimizedOverTheStepSize) {
  for (double momentum : {0.0, 0.5, 0.9}) {
    TheoryConstants constants = HandConstants();
    constants.momentum = momentum;
    for (double b : {1.0, 4.0, 16.0, 20.0, 100.0, 1000.0}) {
      EXPECT_NEAR(K(constants, b), BruteForceK(constants, b), 1e-4 * K(constants, b)) << momentum << " " << b;
      // The learning rate attaining it.
      ASSERT_OK_AND_ASSIGN(const double eta, TheoryLearningRate(constants, b));
      const double eta_eff = eta / (1 - momentum);
      const double steps = 2 * constants.gap /
                           (eta_eff * (constants.goal - constants.lipschitz * eta_eff * constants.noise_variance / b));
      EXPECT_NEAR(steps, K(constants, b), 1e-12 * steps) << momentum << " " << b;
    }
  }
}

TEST(TheoryStepsToResultTest, LearningRateGrowsLinearlyUpToOneOverL) {
  const TheoryConstants constants = HandConstants();
  EXPECT_DOUBLE_EQ(ValueOf(TheoryLearningRate(constants, 1)), 1.0 / 32);  // eps B / (2 L sigma^2).
  EXPECT_DOUBLE_EQ(ValueOf(TheoryLearningRate(constants, 8)), 0.25);
  EXPECT_DOUBLE_EQ(ValueOf(TheoryLearningRate(constants, 16)), 0.5);
  EXPECT_DOUBLE_EQ(ValueOf(TheoryLearningRate(constants, 1000)), 0.5);  // 1 / L.
}

TEST(TheoryStepsToResultTest, MomentumSlidesTheCurveAlongThePerfectScalingLine) {
  TheoryConstants sgd = HandConstants();
  TheoryConstants heavy_ball = sgd;
  heavy_ball.momentum = 0.75;
  // K_m(B) = (1 - m) K_0((1 - m) B).
  for (double b : {1.0, 8.0, 16.0, 63.0, 64.0, 65.0, 200.0, 1e6}) {
    EXPECT_NEAR(K(heavy_ball, b), 0.25 * K(sgd, 0.25 * b), 1e-12 * K(heavy_ball, b)) << b;
  }
  EXPECT_DOUBLE_EQ(K(heavy_ball, 1), K(sgd, 1));   // Perfect scaling unchanged.
  EXPECT_DOUBLE_EQ(K(heavy_ball, 64), 48 * 0.25);  // B*_m = 16 / 0.25, K there 4 L Delta (1 - m) / eps.
  EXPECT_DOUBLE_EQ(ValueOf(TheoryCriticalBatchSize(heavy_ball)), 64.0);
  EXPECT_DOUBLE_EQ(ValueOf(TheoryMinimalSteps(heavy_ball)), 6.0);
  EXPECT_DOUBLE_EQ(ValueOf(TheoryLearningRate(heavy_ball, 1)), 0.25 / 32);
  EXPECT_DOUBLE_EQ(ValueOf(TheoryLearningRate(heavy_ball, 1000)), 0.5);
}

TEST(TheoryStepsToResultTest, NoNoiseMeansNoPerfectScaling) {
  TheoryConstants constants = HandConstants();
  constants.noise_variance = 0;
  EXPECT_DOUBLE_EQ(K(constants, 1), 24);
  EXPECT_DOUBLE_EQ(K(constants, 1e6), 24);
  EXPECT_DOUBLE_EQ(ValueOf(TheoryCriticalBatchSize(constants)), 0.0);
  EXPECT_DOUBLE_EQ(ValueOf(TheoryLearningRate(constants, 1)), 0.5);
}

TEST(TheoryStepsToResultTest, RejectsBadInput) {
  const TheoryConstants good = HandConstants();
  auto with = [&good](auto mutate) {
    TheoryConstants c = good;
    mutate(c);
    return c;
  };
  const std::vector<std::pair<TheoryConstants, std::string>> bad = {
      {with([](TheoryConstants& c) { c.lipschitz = 0; }), "lipschitz"},
      {with([](TheoryConstants& c) { c.lipschitz = kNaN; }), "lipschitz"},
      {with([](TheoryConstants& c) { c.gap = -1; }), "gap"},
      {with([](TheoryConstants& c) { c.noise_variance = -1e-9; }), "noise_variance"},
      {with([](TheoryConstants& c) { c.noise_variance = kInf; }), "noise_variance"},
      {with([](TheoryConstants& c) { c.goal = 0; }), "goal"},
      {with([](TheoryConstants& c) { c.momentum = 1; }), "momentum"},
      {with([](TheoryConstants& c) { c.momentum = -0.1; }), "momentum"},
      {with([](TheoryConstants& c) { c.momentum = kNaN; }), "momentum"},
  };
  for (const auto& [constants, field] : bad) {
    EXPECT_THAT(TheoryStepsToResult(constants, 1), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(field)));
    EXPECT_THAT(TheoryCriticalBatchSize(constants), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(TheoryMinimalSteps(constants), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(TheoryLearningRate(constants, 1), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  for (double b : {0.0, -1.0, kNaN, kInf}) {
    EXPECT_THAT(TheoryStepsToResult(good, b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch size")));
    EXPECT_THAT(TheoryLearningRate(good, b), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Fitting.

std::vector<double> PowersOfTwo(int count) {
  std::vector<double> batch_sizes;
  for (int j = 0; j < count; ++j) batch_sizes.push_back(std::ldexp(1.0, j));
  return batch_sizes;
}

// S_min (1 + B_crit / B) exp(noise z_i) at B = 1, 2, ..., 2^14, z_i ~ N(0, 1) by Box-Muller from `seed`.
ScalingCurve SyntheticCurve(double min_steps, double critical, double noise, uint64_t seed) {
  ScalingCurve curve;
  curve.batch_sizes = PowersOfTwo(15);
  std::mt19937_64 engine(seed);
  for (double b : curve.batch_sizes) {
    const double u1 = (static_cast<double>(engine() >> 11) + 1) * std::ldexp(1.0, -53);
    const double u2 = static_cast<double>(engine() >> 11) * std::ldexp(1.0, -53);
    const double z = std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    curve.steps.push_back(min_steps * (1 + critical / b) * std::exp(noise * z));
  }
  return curve;
}

TEST(FitScalingCurveTest, RecoversNoiseFreeCurvesExactly) {
  for (const auto& [min_steps, critical] :
       std::vector<std::pair<double, double>>{{120, 300}, {1000, 3}, {50, 5000}, {7, 0.5}, {2e4, 2e4}}) {
    const ScalingCurve curve = SyntheticCurve(min_steps, critical, 0, 0);
    ASSERT_OK_AND_ASSIGN(const ScalingFit fit, FitScalingCurve(curve));
    EXPECT_NEAR(fit.min_steps, min_steps, 1e-9 * min_steps);
    EXPECT_NEAR(fit.critical_batch_size, critical, 1e-9 * critical);
    EXPECT_FALSE(fit.critical_batch_size_at_bound);
    EXPECT_LT(fit.max_abs_log_residual, 1e-10);
    EXPECT_LT(fit.rms_log_residual, 1e-10);
    // Every resample lies on the same curve, so the intervals shrink onto the truth.
    EXPECT_NEAR(fit.min_steps_interval.lower, min_steps, 1e-6 * min_steps);
    EXPECT_NEAR(fit.min_steps_interval.upper, min_steps, 1e-6 * min_steps);
    EXPECT_NEAR(fit.critical_batch_size_interval.lower, critical, 1e-6 * critical);
    EXPECT_NEAR(fit.critical_batch_size_interval.upper, critical, 1e-6 * critical);
    EXPECT_EQ(fit.bootstrap_resamples, 1000);
  }
}

TEST(FitScalingCurveTest, TwoPointsDetermineTheCurve) {
  // S(1) = 10 (1 + 9) = 100, S(100) = 10 (1 + 0.09) = 10.9.
  const ScalingCurve curve{{1, 100}, {100, 10.9}};
  ScalingFitOptions options;
  options.bootstrap_resamples = 0;
  ASSERT_OK_AND_ASSIGN(const ScalingFit fit, FitScalingCurve(curve, options));
  EXPECT_NEAR(fit.min_steps, 10, 1e-6);
  EXPECT_NEAR(fit.critical_batch_size, 9, 1e-6);
  EXPECT_EQ(fit.bootstrap_resamples, 0);
  EXPECT_EQ(fit.min_steps_interval.lower, fit.min_steps);  // No bootstrap: the interval is the estimate.
}

// 5% log-normal noise, 15 points: the estimates stay close and the 95% intervals cover the truth in most of 40
// independent curves. The percentile bootstrap of 15 points under-covers a little (about 90% for both parameters over
// 200 such curves); expecting >= 32 / 40 keeps the chance of a false failure, were the coverage 90%, at 1.5%
// (binomial), and with these fixed seeds the test is deterministic (36 and 34 of 40 covered).
TEST(FitScalingCurveTest, RecoversNoisyCurvesWithIntervalsThatCoverTheTruth) {
  constexpr double kMinSteps = 400, kCritical = 150;
  int min_steps_covered = 0, critical_covered = 0;
  constexpr int kCurves = 40;
  for (int seed = 0; seed < kCurves; ++seed) {
    const ScalingCurve curve = SyntheticCurve(kMinSteps, kCritical, 0.05, 1000 + seed);
    ScalingFitOptions options;
    options.seed = seed;
    options.bootstrap_resamples = 500;
    ASSERT_OK_AND_ASSIGN(const ScalingFit fit, FitScalingCurve(curve, options));
    EXPECT_NEAR(std::log(fit.min_steps / kMinSteps), 0, 0.1) << seed;
    EXPECT_NEAR(std::log(fit.critical_batch_size / kCritical), 0, 0.25) << seed;
    EXPECT_LT(fit.rms_log_residual, 0.1) << seed;
    EXPECT_LE(fit.min_steps_interval.lower, fit.min_steps);
    EXPECT_GE(fit.min_steps_interval.upper, fit.min_steps);
    min_steps_covered += fit.min_steps_interval.lower <= kMinSteps && kMinSteps <= fit.min_steps_interval.upper;
    critical_covered +=
        fit.critical_batch_size_interval.lower <= kCritical && kCritical <= fit.critical_batch_size_interval.upper;
  }
  EXPECT_GE(min_steps_covered, 32);
  EXPECT_GE(critical_covered, 32);
}

TEST(FitScalingCurveTest, BootstrapIsReproducibleFromItsSeed) {
  const ScalingCurve curve = SyntheticCurve(400, 150, 0.1, 7);
  ScalingFitOptions options;
  options.seed = 3;
  ASSERT_OK_AND_ASSIGN(const ScalingFit first, FitScalingCurve(curve, options));
  ASSERT_OK_AND_ASSIGN(const ScalingFit again, FitScalingCurve(curve, options));
  options.seed = 4;
  ASSERT_OK_AND_ASSIGN(const ScalingFit other, FitScalingCurve(curve, options));
  EXPECT_EQ(first.critical_batch_size_interval.lower, again.critical_batch_size_interval.lower);
  EXPECT_EQ(first.min_steps_interval.upper, again.min_steps_interval.upper);
  EXPECT_NE(first.critical_batch_size_interval.lower, other.critical_batch_size_interval.lower);
  EXPECT_EQ(first.critical_batch_size, other.critical_batch_size);  // The point estimate does not depend on it.
  // A wider level gives a wider interval.
  options.seed = 3;
  options.confidence_level = 0.5;
  ASSERT_OK_AND_ASSIGN(const ScalingFit narrow, FitScalingCurve(curve, options));
  EXPECT_GT(narrow.critical_batch_size_interval.lower, first.critical_batch_size_interval.lower);
  EXPECT_LT(narrow.critical_batch_size_interval.upper, first.critical_batch_size_interval.upper);
}

TEST(FitScalingCurveTest, AnIntegerWeightActsAsRepeatedPoints) {
  const ScalingCurve curve = SyntheticCurve(400, 150, 0.2, 11);
  ScalingFitOptions weighted;
  weighted.bootstrap_resamples = 0;
  weighted.weights.assign(curve.steps.size(), 1.0);
  weighted.weights[3] = 3;
  ScalingCurve repeated = curve;
  for (int copy = 0; copy < 2; ++copy) {
    repeated.batch_sizes.push_back(curve.batch_sizes[3]);
    repeated.steps.push_back(curve.steps[3]);
  }
  ScalingFitOptions plain;
  plain.bootstrap_resamples = 0;
  ASSERT_OK_AND_ASSIGN(const ScalingFit a, FitScalingCurve(curve, weighted));
  ASSERT_OK_AND_ASSIGN(const ScalingFit b, FitScalingCurve(repeated, plain));
  ASSERT_OK_AND_ASSIGN(const ScalingFit unweighted, FitScalingCurve(curve, plain));
  EXPECT_NEAR(a.min_steps, b.min_steps, 1e-6 * b.min_steps);
  EXPECT_NEAR(a.critical_batch_size, b.critical_batch_size, 1e-6 * b.critical_batch_size);
  EXPECT_GT(std::abs(a.critical_batch_size - unweighted.critical_batch_size), 1e-3);  // The weight matters.
}

TEST(FitScalingCurveTest, FlagsCurvesWithoutAPerfectScalingRegimeOrAFloor) {
  ScalingFitOptions options;
  options.bootstrap_resamples = 0;
  // All steps equal: B_crit goes to the lower end of its range, 1 / 1e4.
  ASSERT_OK_AND_ASSIGN(const ScalingFit flat, FitScalingCurve({{1, 2, 4, 8}, {50, 50, 50, 50}}, options));
  EXPECT_TRUE(flat.critical_batch_size_at_bound);
  EXPECT_NEAR(flat.critical_batch_size, 1e-4, 1e-8);
  EXPECT_NEAR(flat.min_steps, 50, 50 * 1e-3);
  // Exactly 1 / B: B_crit goes to the upper end, 8e4, and S_min B_crit stays ~ 1000.
  ASSERT_OK_AND_ASSIGN(const ScalingFit hyperbola, FitScalingCurve({{1, 2, 4, 8}, {1000, 500, 250, 125}}, options));
  EXPECT_TRUE(hyperbola.critical_batch_size_at_bound);
  EXPECT_NEAR(hyperbola.critical_batch_size, 8e4, 1);
  EXPECT_NEAR(hyperbola.min_steps * hyperbola.critical_batch_size, 1000, 1);
}

TEST(ClassifyRegimeTest, SplitsAtAQuarterAndFourTimesTheCriticalBatchSize) {
  EXPECT_EQ(ClassifyRegime(25, 100), ScalingRegime::kPerfectScaling);
  EXPECT_EQ(ClassifyRegime(25.001, 100), ScalingRegime::kDiminishingReturns);
  EXPECT_EQ(ClassifyRegime(100, 100), ScalingRegime::kDiminishingReturns);
  EXPECT_EQ(ClassifyRegime(399.99, 100), ScalingRegime::kDiminishingReturns);
  EXPECT_EQ(ClassifyRegime(400, 100), ScalingRegime::kMaximalDataParallelism);
  EXPECT_EQ(ClassifyRegime(1, 0), ScalingRegime::kMaximalDataParallelism);
  // The boundaries are where the fitted curve's slope d ln S / d ln B is -0.8 and -0.2.
  ScalingFit fit;
  fit.min_steps = 10;
  fit.critical_batch_size = 100;
  auto slope = [&fit](double b) {
    const double h = 1e-5;
    return (std::log(FittedSteps(fit, b * std::exp(h))) - std::log(FittedSteps(fit, b * std::exp(-h)))) / (2 * h);
  };
  EXPECT_NEAR(slope(25), -0.8, 1e-8);
  EXPECT_NEAR(slope(400), -0.2, 1e-8);
  EXPECT_EQ(ScalingRegimeName(ScalingRegime::kPerfectScaling), "PERFECT_SCALING");
  EXPECT_EQ(ScalingRegimeName(ScalingRegime::kDiminishingReturns), "DIMINISHING_RETURNS");
  EXPECT_EQ(ScalingRegimeName(ScalingRegime::kMaximalDataParallelism), "MAXIMAL_DATA_PARALLELISM");
}

TEST(FitScalingCurveTest, ClassifiesThePointsAsTheCurveWasBuilt) {
  // B_crit = 200 at B = 1..2^14: B <= 50 perfect (1..32), 50 < B < 800 diminishing (64..512), B >= 800 maximal
  // (1024..16384); the nearest points are a factor 1.25 or more from the boundaries, far beyond the 2% noise.
  const ScalingCurve curve = SyntheticCurve(100, 200, 0.02, 5);
  ASSERT_OK_AND_ASSIGN(const ScalingFit fit, FitScalingCurve(curve));
  ASSERT_EQ(fit.regimes.size(), 15u);
  for (size_t i = 0; i < fit.regimes.size(); ++i) {
    const double b = curve.batch_sizes[i];
    const ScalingRegime expected = b <= 32    ? ScalingRegime::kPerfectScaling
                                   : b <= 512 ? ScalingRegime::kDiminishingReturns
                                              : ScalingRegime::kMaximalDataParallelism;
    EXPECT_EQ(fit.regimes[i], expected) << b;
  }
}

TEST(FitScalingCurveTest, RejectsBadInput) {
  EXPECT_THAT(FitScalingCurve({{4, 4, 4}, {10, 11, 12}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2 distinct batch sizes")));
  EXPECT_THAT(FitScalingCurve({{4}, {10}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(FitScalingCurve({{}, {}}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no points")));
  EXPECT_THAT(FitScalingCurve({{1, 2}, {10}}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2 batch")));
  EXPECT_THAT(FitScalingCurve({{1, 0}, {10, 5}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_sizes[1]")));
  EXPECT_THAT(FitScalingCurve({{1, 2}, {10, -5}}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("steps[1]")));
  EXPECT_THAT(FitScalingCurve({{1, 2}, {kNaN, 5}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("steps[0]")));
  EXPECT_THAT(FitScalingCurve({{kInf, 2}, {1, 5}}), StatusIs(absl::StatusCode::kInvalidArgument));
  const ScalingCurve good{{1, 2, 4}, {100, 60, 40}};
  ScalingFitOptions options;
  options.weights = {1, 1};
  EXPECT_THAT(FitScalingCurve(good, options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("weights")));
  options.weights = {1, 0, 1};
  EXPECT_THAT(FitScalingCurve(good, options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("weights[1]")));
  options.weights = {1, kNaN, 1};
  EXPECT_THAT(FitScalingCurve(good, options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("weights[1]")));
  options.weights = {};
  options.confidence_level = 1;
  EXPECT_THAT(FitScalingCurve(good, options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("confidence")));
  options.confidence_level = 0.95;
  options.bootstrap_resamples = -1;
  EXPECT_THAT(FitScalingCurve(good, options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bootstrap")));
}

TEST(ScalingFitJsonTest, HasTheEstimatesAndIntervals) {
  ScalingFit fit;
  fit.min_steps = 10;
  fit.critical_batch_size = 64;
  fit.min_steps_interval = {9, 11};
  fit.critical_batch_size_interval = {50, 80};
  fit.bootstrap_resamples = 100;
  fit.rms_log_residual = 0.5;
  fit.max_abs_log_residual = 1;
  EXPECT_EQ(ScalingFitJson(fit).ToString(),
            "{\"min_steps\":10,\"min_steps_ci\":[9,11],\"critical_batch_size\":64,\"critical_batch_size_ci\":[50,80],"
            "\"critical_batch_size_at_bound\":false,\"bootstrap_resamples\":100,\"rms_log_residual\":0.5,"
            "\"max_abs_log_residual\":1}");
}

// ---------------------------------------------------------------------------------------------------------------
// Predictions.

TEST(PredictSparseCurveTest, ScalesTheDenseStepsByTheLipschitzRatio) {
  const ScalingCurve dense{{1, 8, 64}, {1000, 150, 40}};
  ASSERT_OK_AND_ASSIGN(const ScalingCurve sparse, PredictSparseCurve(dense, 2.0, 3.0));
  EXPECT_THAT(sparse.batch_sizes, ElementsAre(1, 8, 64));
  EXPECT_THAT(sparse.steps, ElementsAre(1500, 225, 60));
  EXPECT_THAT(PredictSparseCurve(dense, 0, 3), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dense")));
  EXPECT_THAT(PredictSparseCurve(dense, 2, kNaN), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sparse")));
  EXPECT_THAT(PredictSparseCurve({{1}, {}}, 2, 3), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ScorePredictionTest, MeanAndMaxAbsoluteNaturalLogRatio) {
  // |ln 2|, 0, |ln(3/6)|, ln(10/4).
  ASSERT_OK_AND_ASSIGN(const PredictionScore score, ScorePrediction({2, 1, 3, 10}, {1, 1, 6, 4}));
  EXPECT_EQ(score.count, 4);
  EXPECT_NEAR(score.mean_abs_log_error, (2 * std::log(2.0) + std::log(2.5)) / 4, 1e-15);
  EXPECT_NEAR(score.max_abs_log_error, std::log(2.5), 1e-15);
  ASSERT_OK_AND_ASSIGN(const PredictionScore exact, ScorePrediction({5, 7}, {5, 7}));
  EXPECT_EQ(exact.mean_abs_log_error, 0);
  EXPECT_EQ(exact.max_abs_log_error, 0);
}

TEST(ScorePredictionTest, RejectsBadInput) {
  EXPECT_THAT(ScorePrediction({1, 2}, {1}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2 predictions")));
  EXPECT_THAT(ScorePrediction({}, {}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no points")));
  EXPECT_THAT(ScorePrediction({1, 0}, {1, 1}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("predicted[1]")));
  EXPECT_THAT(ScorePrediction({1, 1}, {kNaN, 1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("observed[0]")));
}

TEST(ScoreCurvePredictionTest, ComparesAtSharedBatchSizes) {
  const ScalingCurve predicted{{1, 2, 4, 8}, {100, 50, 30, 20}};
  // B = 16 is only observed, B = 1 only predicted; B = 4 observed twice.
  const ScalingCurve observed{{2, 4, 4, 8, 16}, {50, 15, 60, 20, 10}};
  ASSERT_OK_AND_ASSIGN(const PredictionScore score, ScoreCurvePrediction(predicted, observed));
  EXPECT_EQ(score.count, 4);
  EXPECT_NEAR(score.mean_abs_log_error, 2 * std::log(2.0) / 4, 1e-15);
  EXPECT_NEAR(score.max_abs_log_error, std::log(2.0), 1e-15);
  EXPECT_THAT(ScoreCurvePrediction({{1, 1}, {5, 6}}, observed),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("repeats")));
  EXPECT_THAT(ScoreCurvePrediction({{3}, {5}}, observed),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("share no batch size")));
  EXPECT_THAT(ScoreCurvePrediction(predicted, {{2}, {-1}}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PredictSparseCurveTest, ScoresAPerfectLipschitzPredictionAsExact) {
  // A sparse curve that is exactly the dense one times L_sparse / L_dense scores 0; one 10% off everywhere scores
  // ln 1.1 mean and max.
  const ScalingCurve dense = SyntheticCurve(300, 100, 0.05, 2);
  ASSERT_OK_AND_ASSIGN(const ScalingCurve predicted, PredictSparseCurve(dense, 1.5, 4.5));
  ScalingCurve observed = dense;
  for (double& steps : observed.steps) steps *= 3;
  ASSERT_OK_AND_ASSIGN(const PredictionScore exact, ScoreCurvePrediction(predicted, observed));
  EXPECT_NEAR(exact.mean_abs_log_error, 0, 1e-14);
  for (double& steps : observed.steps) steps *= 1.1;
  ASSERT_OK_AND_ASSIGN(const PredictionScore off, ScoreCurvePrediction(predicted, observed));
  EXPECT_NEAR(off.mean_abs_log_error, std::log(1.1), 1e-14);
  EXPECT_NEAR(off.max_abs_log_error, std::log(1.1), 1e-14);
}

}  // namespace
}  // namespace parsity::theory
