#include "training/nn/loss.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "training/nn/reference.h"

namespace parsity::nn {
namespace {

constexpr double kFloatEpsilon = std::numeric_limits<float>::epsilon();
constexpr double kDoubleEpsilon = std::numeric_limits<double>::epsilon();
constexpr int kClasses = 10;

struct Batch {
  std::vector<float> logits;
  std::vector<int32_t> labels;
};

Batch RandomBatch(int64_t batch, double scale, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal(0.0, scale);
  Batch result;
  for (int64_t i = 0; i < batch * kClasses; ++i) result.logits.push_back(static_cast<float>(normal(engine)));
  for (int64_t i = 0; i < batch; ++i) result.labels.push_back(static_cast<int32_t>(engine() % kClasses));
  return result;
}

TEST(SoftmaxCrossEntropyTest, MatchesReferenceLossAndGradient) {
  for (double scale : {0.1, 1.0, 10.0}) {
    const Batch batch = RandomBatch(7, scale, 1);
    std::vector<float> gradient(batch.logits.size(), std::numeric_limits<float>::quiet_NaN());
    const double loss = SoftmaxCrossEntropy(batch.logits.data(), batch.labels.data(), 7, kClasses, gradient.data());
    reference::Tensor expected_gradient;
    const double expected = reference::SoftmaxCrossEntropy(reference::Tensor(batch.logits.begin(), batch.logits.end()),
                                                           batch.labels, kClasses, &expected_gradient);
    // Per example a few double roundings of terms no larger than the largest |logit| (<= 10 * 5 sigma).
    EXPECT_NEAR(loss, expected, 64 * kDoubleEpsilon * 7 * (1.0 + 50.0 * scale));
    for (size_t i = 0; i < gradient.size(); ++i) {
      // Computed in double, then rounded once to float: half an ulp, plus slack for the double part.
      EXPECT_NEAR(gradient[i], expected_gradient[i], kFloatEpsilon * std::fabs(expected_gradient[i]) + 1e-15) << i;
    }
  }
}

TEST(SoftmaxCrossEntropyTest, GradientMatchesFiniteDifferences) {
  const Batch batch = RandomBatch(3, 2.0, 2);
  std::vector<float> gradient(batch.logits.size());
  SoftmaxCrossEntropy(batch.logits.data(), batch.labels.data(), 3, kClasses, gradient.data());
  const reference::Tensor logits(batch.logits.begin(), batch.logits.end());
  auto loss = [&](const reference::Tensor& z) {
    return reference::SoftmaxCrossEntropy(z, batch.labels, kClasses, nullptr);
  };
  for (size_t i = 0; i < logits.size(); ++i) {
    // Step 2^-10: truncation error h^2 |f'''| / 6 < 1e-7 (|f'''| <= 1 for softmax cross-entropy), rounding
    // eps_double * |f| / h ~ 1e-11; the float gradient itself carries half an ulp.
    const double numeric = reference::CentralDifference(loss, logits, static_cast<int64_t>(i), 1.0 / 1024.0);
    EXPECT_NEAR(gradient[i], numeric, 2 * kFloatEpsilon) << i;
  }
}

TEST(SoftmaxCrossEntropyTest, IsStableForHugeLogits) {
  const std::vector<float> logits = {1000.0f, 0.0f, -1000.0f, 3e38f, -3e38f, 0.0f};
  const std::vector<int32_t> labels = {1, 1};
  std::vector<float> gradient(6);
  const double loss = SoftmaxCrossEntropy(logits.data(), labels.data(), 1, 3, gradient.data());
  EXPECT_DOUBLE_EQ(loss, 1000.0);
  EXPECT_FLOAT_EQ(gradient[0], 1.0f);
  EXPECT_FLOAT_EQ(gradient[1], -1.0f);
  EXPECT_FLOAT_EQ(gradient[2], 0.0f);
  // 3e38 would overflow exp() without the log-sum-exp shift.
  const double huge = SoftmaxCrossEntropy(logits.data() + 3, labels.data() + 1, 1, 3, gradient.data());
  EXPECT_DOUBLE_EQ(huge, 2.0 * static_cast<double>(3e38f));
  EXPECT_TRUE(std::isfinite(gradient[0]) && std::isfinite(gradient[1]) && std::isfinite(gradient[2]));
}

TEST(SoftmaxCrossEntropyTest, NaNLogitsGiveNaNLoss) {
  const std::vector<float> logits = {0.0f, std::numeric_limits<float>::quiet_NaN(), 1.0f};
  const int32_t label = 0;
  EXPECT_TRUE(std::isnan(SoftmaxCrossEntropy(logits.data(), &label, 1, 3, nullptr)));
}

TEST(SoftmaxCrossEntropyTest, LossOfUniformLogitsIsLogOfClassCount) {
  const std::vector<float> logits(kClasses, 0.25f);
  const int32_t label = 4;
  EXPECT_NEAR(SoftmaxCrossEntropy(logits.data(), &label, 1, kClasses, nullptr), std::log(10.0), 4 * kDoubleEpsilon);
}

TEST(CountCorrectTest, CountsArgMaxMatchesWithFirstIndexOnTies) {
  const std::vector<float> logits = {0.0f, 2.0f, 1.0f,   // argmax 1
                                     5.0f, 5.0f, 1.0f,   // tie: first, 0
                                     0.0f, 0.0f, 0.0f};  // all tied: 0
  EXPECT_EQ(CountCorrect(logits.data(), std::vector<int32_t>{1, 0, 0}.data(), 3, 3), 3);
  EXPECT_EQ(CountCorrect(logits.data(), std::vector<int32_t>{2, 1, 2}.data(), 3, 3), 0);
}

TEST(SoftmaxCrossEntropyDeathTest, RejectsLabelsOutOfRange) {
  const std::vector<float> logits(3, 0.0f);
  const int32_t label = 3;
  EXPECT_DEATH(SoftmaxCrossEntropy(logits.data(), &label, 1, 3, nullptr), "check failed");
}

}  // namespace
}  // namespace parsity::nn
