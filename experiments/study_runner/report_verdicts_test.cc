#include "experiments/study_runner/report_verdicts.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "theory/scaling_model.h"

namespace parsity::experiments::report {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A curve of workload "w" at `sparsity` with steps-to-result `steps` at B = 2, 4, 8, ... (0: no steps-to-result there)
// and, when given, the fit's regime per observed point.
Curve MakeCurve(double sparsity, const std::vector<double>& steps,
                const std::vector<theory::ScalingRegime>& regimes = {}) {
  Curve curve;
  curve.workload = "w";
  curve.sparsity = sparsity;
  double batch_size = 2;
  for (double s : steps) {
    curve.all_batch_sizes.push_back(static_cast<int64_t>(batch_size));
    if (s > 0) {
      curve.observed.batch_sizes.push_back(batch_size);
      curve.observed.steps.push_back(s);
    }
    batch_size *= 2;
  }
  if (!regimes.empty()) {
    theory::ScalingFit fit;
    fit.regimes = regimes;
    curve.fit = fit;
  }
  return curve;
}

constexpr auto kPerfect = theory::ScalingRegime::kPerfectScaling;
constexpr auto kDiminishing = theory::ScalingRegime::kDiminishingReturns;
constexpr auto kMaximal = theory::ScalingRegime::kMaximalDataParallelism;

TEST(VerdictOneTest, HoldsWhenStepsFallThroughAllThreeRegimes) {
  const std::string verdict =
      VerdictOne({MakeCurve(0, {800, 400, 250, 200}, {kPerfect, kPerfect, kDiminishing, kMaximal})});
  EXPECT_THAT(verdict, AllOf(StartsWith("holds -- "), HasSubstr("w sparsity 0: holds: steps fall monotonically from "
                                                                 "800 (B=2) to 200 (B=16)")));
}

TEST(VerdictOneTest, HoldsPartlyWhenARegimeIsNotReached) {
  const std::string verdict = VerdictOne({MakeCurve(0, {800, 400, 200}, {kPerfect, kPerfect, kDiminishing})});
  EXPECT_THAT(verdict, AllOf(StartsWith("holds partly or not -- "), HasSubstr("w sparsity 0: holds partly"),
                             HasSubstr("not reached: MAXIMAL_DATA_PARALLELISM")));
}

TEST(VerdictOneTest, DoesNotHoldWhenStepsRise) {
  const std::string verdict = VerdictOne({MakeCurve(0, {800, 900, 200}, {kPerfect, kDiminishing, kMaximal})});
  EXPECT_THAT(verdict, AllOf(StartsWith("holds partly or not -- "),
                             HasSubstr("w sparsity 0: does not hold: steps rise at B=2->4")));
}

TEST(VerdictOneTest, NotMeasuredWithFewerThanTwoPoints) {
  EXPECT_THAT(VerdictOne({MakeCurve(0, {0, 400, 0})}),
              StartsWith("not measured: w sparsity 0: not measured (fewer than 2 batch sizes reached the goal)"));
}

TEST(VerdictTwoTest, HoldsWhenSparseNeedsMoreStepsEverywhere) {
  EXPECT_THAT(VerdictTwo({MakeCurve(0, {800, 400}), MakeCurve(0.9, {2000, 1000})}),
              AllOf(StartsWith("holds -- "),
                    HasSubstr("w sparsity 0.9 vs 0: holds: more steps at all 2 shared batch sizes (ratio 2.5 to 2.5)")));
}

TEST(VerdictTwoTest, DoesNotHoldWhereSparseIsAsFast) {
  EXPECT_THAT(VerdictTwo({MakeCurve(0, {800, 400}), MakeCurve(0.9, {2000, 400})}),
              AllOf(StartsWith("does not hold everywhere -- "),
                    HasSubstr("does not hold: no more steps at B=4 of 2 shared batch sizes")));
}

TEST(VerdictTwoTest, NotMeasuredWithoutSharedBatchSizesOrSparsity) {
  EXPECT_EQ(VerdictTwo({MakeCurve(0, {800, 400})}), "not measured: only one sparsity level");
  EXPECT_THAT(VerdictTwo({MakeCurve(0, {800, 0}), MakeCurve(0.9, {0, 1000})}),
              StartsWith("not measured -- w sparsity 0.9 vs 0: not measured (no batch size where both reached the "
                         "goal)"));
}

// A sparse curve with L measured against the dense one: medians sparse_l vs dense_l, and a prediction error.
Curve WithLipschitz(Curve curve, double dense_l, double sparse_l, std::optional<double> mean_abs_log_error) {
  LipschitzComparison comparison;
  comparison.up_to_step = 400;
  comparison.dense_median = dense_l;
  comparison.sparse_median = sparse_l;
  comparison.matched = 4;
  comparison.sparse_above = sparse_l > dense_l ? 4 : 0;
  curve.lipschitz_vs_dense = comparison;
  if (mean_abs_log_error) {
    theory::PredictionScore score;
    score.mean_abs_log_error = *mean_abs_log_error;
    score.max_abs_log_error = *mean_abs_log_error;
    score.count = 2;
    curve.score = score;
  }
  return curve;
}

TEST(VerdictThreeTest, HoldsWhenLIsLargerAndPredictsTheSteps) {
  const std::string verdict =
      VerdictThree({MakeCurve(0, {800, 400}), WithLipschitz(MakeCurve(0.9, {2000, 1000}), 2, 5, 0.05)}, 0.2);
  EXPECT_THAT(verdict, AllOf(StartsWith("holds -- "), HasSubstr("L larger"), HasSubstr("the L ratio predicts"),
                             HasSubstr("observed geometric mean 2.5")));
}

TEST(VerdictThreeTest, HoldsPartlyWhenThePredictionMisses) {
  EXPECT_THAT(
      VerdictThree({MakeCurve(0, {800, 400}), WithLipschitz(MakeCurve(0.9, {2000, 1000}), 2, 5, 0.5)}, 0.2),
      AllOf(StartsWith("holds partly (L is larger; the L ratio misses the step ratio) -- "),
            HasSubstr("does not predict")));
  // Not scored (no shared batch size with a steps-to-result) is not a success either.
  EXPECT_THAT(
      VerdictThree({MakeCurve(0, {800, 400}), WithLipschitz(MakeCurve(0.9, {2000, 1000}), 2, 5, std::nullopt)}, 0.2),
      AllOf(StartsWith("holds partly"), HasSubstr("prediction not scored")));
}

TEST(VerdictThreeTest, DoesNotHoldWhenLIsNotLarger) {
  EXPECT_THAT(
      VerdictThree({MakeCurve(0, {800, 400}), WithLipschitz(MakeCurve(0.9, {2000, 1000}), 5, 2, 0.05)}, 0.2),
      AllOf(StartsWith("does not hold -- "), HasSubstr("L NOT larger")));
}

TEST(VerdictThreeTest, NotMeasuredWithoutL) {
  EXPECT_EQ(VerdictThree({MakeCurve(0, {800, 400})}, 0.2), "not measured: only one sparsity level");
  EXPECT_THAT(VerdictThree({MakeCurve(0, {800, 400}), MakeCurve(0.9, {2000, 1000})}, 0.2),
              StartsWith("not measured -- w sparsity 0.9 vs 0: L not measured"));
}

}  // namespace
}  // namespace parsity::experiments::report
