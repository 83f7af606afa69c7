#include "training/nn/initialization.h"

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/nn/networks.h"

namespace parsity::nn {
namespace {

// Statistical tests, fixed seeds. Every statistical check allows 6 standard errors: a correct sampler fails one with
// probability ~2e-9 (normal approximation), and the ~70 checks below together with probability < 2e-7 for a random
// seed. The seeds are fixed, so the outcome is reproducible.
constexpr double kStandardErrors = 6.0;
constexpr int kDraws = 1000000;

// Moments of N(0, 1) truncated to [-a, a], a = 2, with phi(2) = exp(-2) / sqrt(2 pi) and mass 2 Phi(2) - 1 =
// erf(sqrt(2)): E z^2 = 1 - 2 a phi(a) / mass, E z^4 = 3 - 2 (a^3 + 3 a) phi(a) / mass, P(|z| <= 1) = erf(1 / sqrt(2))
// / mass.
const double kPhiOfTwo = std::exp(-2.0) / std::sqrt(2.0 * M_PI);
const double kMassWithinTwo = std::erf(std::sqrt(2.0));
const double kTruncatedSecondMoment = 1.0 - 4.0 * kPhiOfTwo / kMassWithinTwo;
const double kTruncatedFourthMoment = 3.0 - 28.0 * kPhiOfTwo / kMassWithinTwo;
const double kTruncatedWithinOne = std::erf(1.0 / std::sqrt(2.0)) / kMassWithinTwo;

TEST(InitializationTest, TruncationConstantIsTheTruncatedStandardDeviation) {
  EXPECT_NEAR(kTruncatedNormalStddev, std::sqrt(kTruncatedSecondMoment), 4 * std::numeric_limits<double>::epsilon());
}

TEST(InitializationTest, UniformIsInTheOpenClosedUnitInterval) {
  std::mt19937_64 engine(1);
  double sum = 0.0;
  for (int i = 0; i < kDraws; ++i) {
    const double u = UniformOpenClosed(engine);
    ASSERT_GT(u, 0.0);
    ASSERT_LE(u, 1.0);
    sum += u;
  }
  // Mean 1/2, standard deviation sqrt(1/12).
  EXPECT_NEAR(sum / kDraws, 0.5, kStandardErrors * std::sqrt(1.0 / 12.0 / kDraws));
}

TEST(InitializationTest, StandardNormalHasStandardNormalMoments) {
  std::mt19937_64 engine(2);
  double sum = 0.0, squares = 0.0;
  int within_one = 0, within_two = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double z = StandardNormal(engine);
    sum += z;
    squares += z * z;
    within_one += std::fabs(z) <= 1.0;
    within_two += std::fabs(z) <= 2.0;
  }
  EXPECT_NEAR(sum / kDraws, 0.0, kStandardErrors / std::sqrt(kDraws));
  EXPECT_NEAR(squares / kDraws, 1.0, kStandardErrors * std::sqrt(2.0 / kDraws));  // Var z^2 = 2.
  const double p1 = std::erf(1.0 / std::sqrt(2.0)), p2 = std::erf(std::sqrt(2.0));
  EXPECT_NEAR(static_cast<double>(within_one) / kDraws, p1, kStandardErrors * std::sqrt(p1 * (1 - p1) / kDraws));
  EXPECT_NEAR(static_cast<double>(within_two) / kDraws, p2, kStandardErrors * std::sqrt(p2 * (1 - p2) / kDraws));
}

TEST(InitializationTest, TruncatedStandardNormalIsTruncatedAtTwo) {
  std::mt19937_64 engine(3);
  double sum = 0.0, squares = 0.0;
  int within_one = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double z = TruncatedStandardNormal(engine);
    ASSERT_LE(std::fabs(z), 2.0);
    sum += z;
    squares += z * z;
    within_one += std::fabs(z) <= 1.0;
  }
  EXPECT_NEAR(sum / kDraws, 0.0, kStandardErrors * kTruncatedNormalStddev / std::sqrt(kDraws));
  const double variance_of_square = kTruncatedFourthMoment - kTruncatedSecondMoment * kTruncatedSecondMoment;
  EXPECT_NEAR(squares / kDraws, kTruncatedSecondMoment, kStandardErrors * std::sqrt(variance_of_square / kDraws));
  EXPECT_NEAR(static_cast<double>(within_one) / kDraws, kTruncatedWithinOne,
              kStandardErrors * std::sqrt(kTruncatedWithinOne * (1 - kTruncatedWithinOne) / kDraws));
}

TEST(InitializationTest, SameSeedSameParametersOtherSeedOthers) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("simple_cnn"));
  std::vector<float> a(network->parameter_count()), b(network->parameter_count()), c(network->parameter_count());
  std::mt19937_64 first(42), second(42), third(43);
  network->Initialize(first, absl::MakeSpan(a));
  network->Initialize(second, absl::MakeSpan(b));
  network->Initialize(third, absl::MakeSpan(c));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

// Per weight view of every network: sample standard deviation within 6 standard errors of sqrt(1 / fan_in) (the
// standard error of a sample standard deviation is sigma * sqrt((kurtosis - 1) / (4 n)); the truncated normal's
// kurtosis is E z^4 / (E z^2)^2 ~ 2.37), mean within 6 sigma / sqrt(n) of 0, every |w| <= 2 sqrt(1 / fan_in) /
// kTruncatedNormalStddev; biases exactly 0.
class NetworkInitializationTest : public ::testing::TestWithParam<const char*> {};

TEST_P(NetworkInitializationTest, FollowsTruncatedVarianceScaling) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork(GetParam()));
  std::vector<float> parameters(network->parameter_count(), 1.0f);
  std::mt19937_64 engine(7);
  network->Initialize(engine, absl::MakeSpan(parameters));
  const double kurtosis = kTruncatedFourthMoment / (kTruncatedSecondMoment * kTruncatedSecondMoment);
  for (const ParameterView& view : network->views()) {
    const absl::Span<const float> values = Slice(absl::MakeConstSpan(parameters), view);
    if (view.kind == ParameterKind::kBiases) {
      for (float value : values) ASSERT_EQ(value, 0.0f) << view.name;
      continue;
    }
    const double sigma = std::sqrt(1.0 / static_cast<double>(view.fan_in));
    const float bound = static_cast<float>(2.0 * sigma / kTruncatedNormalStddev);
    const double n = static_cast<double>(view.size);
    double sum = 0.0, squares = 0.0;
    for (float value : values) {
      ASSERT_LE(std::fabs(value), bound) << view.name;
      sum += value;
      squares += static_cast<double>(value) * value;
    }
    const double mean = sum / n;
    const double stddev = std::sqrt(squares / n - mean * mean);
    EXPECT_NEAR(mean, 0.0, kStandardErrors * sigma / std::sqrt(n)) << view.name;
    EXPECT_NEAR(stddev, sigma, kStandardErrors * sigma * std::sqrt((kurtosis - 1.0) / (4.0 * n))) << view.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Networks, NetworkInitializationTest,
                         ::testing::Values("simple_cnn", "resnet8", "lenet_300_100"));

}  // namespace
}  // namespace parsity::nn
