// The contract every optimizer shares, run over the list of optimizer configs (value-parameterized): convergence on
// a quadratic with a known minimum, the masking contract, determinism. Each optimizer's exact update is checked by
// hand in its own test (sgd_test.cc, momentum_test.cc, nesterov_test.cc, adam_test.cc).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/nn/mask.h"
#include "training/optimizers/optimizer.h"
#include "training/optimizers/optimizer_factory.h"

namespace parsity::optimizers {
namespace {

// f(w) = 1/2 sum_i a_i (w_i - c_i)^2, minimum at w = c, gradient a_i (w_i - c_i). Curvatures span a factor 16
// (condition number 16).
constexpr int kDimension = 8;
constexpr float kCurvature[kDimension] = {0.5f, 1.0f, 2.0f, 4.0f, 0.25f, 3.0f, 1.5f, 0.75f};
constexpr float kMinimum[kDimension] = {1.0f, -2.0f, 0.5f, 3.0f, -1.0f, 0.25f, -0.75f, 2.0f};

uint32_t Bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

void QuadraticGradient(absl::Span<const float> w, absl::Span<float> gradient) {
  for (int i = 0; i < kDimension; ++i) gradient[i] = kCurvature[i] * (w[i] - kMinimum[i]);
}

struct OptimizerCase {
  OptimizerConfig config;
  float learning_rate;  // Constant over the run.
  int steps;            // Steps of the convergence test.
  float tolerance;      // Bound on |w_i - c_i| after `steps` steps, starting from w = 0.
};

std::ostream& operator<<(std::ostream& os, const OptimizerCase& optimizer_case) {
  return os << optimizer_case.config.name;
}

OptimizerConfig Config(absl::string_view name) {
  OptimizerConfig config;
  config.name = std::string(name);
  return config;
}

// One entry per optimizer. Tolerances: the deterministic first-order methods contract geometrically (SGD by
// 1 - lr a_min = 0.95 per step, the momentum ones by about sqrt(m) = 0.95) down to float resolution (a few ulps of
// |c_i| <= 3, about 1e-6 observed), so 1e-5. Adam's steps shrink only as fast as its moment estimates do; it ends
// about 3e-6 away (observed), so 1e-4.
std::vector<OptimizerCase> OptimizerCases() {
  return {
      {Config("sgd"), /*learning_rate=*/0.2f, /*steps=*/1000, /*tolerance=*/1e-5f},
      {Config("momentum"), /*learning_rate=*/0.05f, /*steps=*/1000, /*tolerance=*/1e-5f},
      {Config("nesterov"), /*learning_rate=*/0.05f, /*steps=*/1000, /*tolerance=*/1e-5f},
      {Config("adam"), /*learning_rate=*/0.01f, /*steps=*/3000, /*tolerance=*/1e-4f},
  };
}

class OptimizerConformanceTest : public ::testing::TestWithParam<OptimizerCase> {};

TEST_P(OptimizerConformanceTest, ConvergesToTheMinimumOfAQuadratic) {
  const OptimizerCase& optimizer_case = GetParam();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Optimizer> optimizer,
                       CreateOptimizer(optimizer_case.config, kDimension, /*mask=*/nullptr));
  std::vector<float> w(kDimension, 0.0f);
  std::vector<float> gradient(kDimension);
  for (int step = 0; step < optimizer_case.steps; ++step) {
    QuadraticGradient(w, absl::MakeSpan(gradient));
    optimizer->Step(optimizer_case.learning_rate, gradient, absl::MakeSpan(w));
  }
  for (int i = 0; i < kDimension; ++i) EXPECT_NEAR(w[i], kMinimum[i], optimizer_case.tolerance) << "entry " << i;
}

// Every minimum c_i is nonzero, so every pruned entry sees a nonzero gradient at every step.
TEST_P(OptimizerConformanceTest, PrunedEntriesStayExactlyZeroAndKeptEntriesMove) {
  const OptimizerCase& optimizer_case = GetParam();
  ASSERT_OK_AND_ASSIGN(nn::Mask mask, nn::Mask::Create({1.0f, 0.0f, 0.0f, 1.0f, 0.0f, 1.0f, 1.0f, 0.0f}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Optimizer> optimizer, CreateOptimizer(optimizer_case.config, kDimension, &mask));
  std::vector<float> w(kDimension, 0.0f);
  mask.Apply(absl::MakeSpan(w));
  std::vector<float> gradient(kDimension);
  for (int step = 0; step < 100; ++step) {
    QuadraticGradient(w, absl::MakeSpan(gradient));
    optimizer->Step(optimizer_case.learning_rate, gradient, absl::MakeSpan(w));
  }
  for (int i = 0; i < kDimension; ++i) {
    if (mask.is_kept(i)) {
      EXPECT_NE(w[i], 0.0f) << "kept entry " << i << " did not move";
    } else {
      EXPECT_EQ(w[i], 0.0f) << "pruned entry " << i;
      EXPECT_FALSE(std::signbit(w[i])) << "pruned entry " << i << " is -0.0f";
    }
  }
}

// A caller that never applied the mask, or a gradient that is NaN at pruned entries, cannot break the contract.
TEST_P(OptimizerConformanceTest, PrunedEntriesAreZeroAfterOneStepWhateverTheyHeld) {
  ASSERT_OK_AND_ASSIGN(nn::Mask mask, nn::Mask::Create({0.0f, 1.0f, 0.0f}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Optimizer> optimizer, CreateOptimizer(GetParam().config, 3, &mask));
  std::vector<float> w = {5.0f, 1.0f, -2.0f};
  const std::vector<float> gradient = {std::nanf(""), 1.0f, std::numeric_limits<float>::infinity()};
  optimizer->Step(0.1f, gradient, absl::MakeSpan(w));
  EXPECT_EQ(w[0], 0.0f);
  EXPECT_EQ(w[2], 0.0f);
  EXPECT_TRUE(std::isfinite(w[1]));
  EXPECT_LT(w[1], 1.0f);
}

// The same on a buffer with a wholly pruned line of 16 entries (whose gradient is not even read), a mixed line and
// a partial last line: every pruned entry ends +0.0f, -0.0f and NaN included, and kept entries move.
TEST_P(OptimizerConformanceTest, PrunedLinesAreZeroAfterOneStepWhateverTheyHeld) {
  constexpr int kEntries = 40;
  std::vector<float> keep(kEntries, 0.0f);
  for (const int kept : {17, 30, 35}) keep[kept] = 1.0f;
  ASSERT_OK_AND_ASSIGN(nn::Mask mask, nn::Mask::Create(keep));
  for (const float held : {0.0f, -0.0f, 3.0f, std::nanf("")}) {
    // A new optimizer each time: only the first step clears wholly pruned lines.
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Optimizer> optimizer, CreateOptimizer(GetParam().config, kEntries, &mask));
    std::vector<float> w(kEntries, held);
    for (const int kept : {17, 30, 35}) w[kept] = 1.0f;
    const std::vector<float> gradient(kEntries, 1.0f);
    optimizer->Step(0.1f, gradient, absl::MakeSpan(w));
    for (int i = 0; i < kEntries; ++i) {
      if (mask.is_kept(i)) {
        EXPECT_LT(w[i], 1.0f) << i;
      } else {
        EXPECT_EQ(w[i], 0.0f) << i << " held " << held;
        EXPECT_FALSE(std::signbit(w[i])) << i << " held " << held;
      }
    }
  }
}

// After the first step a wholly pruned line is never read or written (what lets a masked step cost the kept lines
// only), while the pruned entries of a line with a kept entry are set to +0.0f at every step.
TEST_P(OptimizerConformanceTest, LaterStepsLeaveWhollyPrunedLinesAlone) {
  constexpr int kEntries = 32;
  std::vector<float> keep(kEntries, 0.0f);
  keep[20] = 1.0f;  // Line 0 is wholly pruned, line 1 is not.
  ASSERT_OK_AND_ASSIGN(nn::Mask mask, nn::Mask::Create(keep));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Optimizer> optimizer, CreateOptimizer(GetParam().config, kEntries, &mask));
  std::vector<float> w(kEntries, 0.0f);
  w[20] = 1.0f;
  const std::vector<float> gradient(kEntries, 1.0f);
  optimizer->Step(0.1f, gradient, absl::MakeSpan(w));
  w[3] = 3.0f;   // In the wholly pruned line.
  w[21] = 3.0f;  // A pruned entry of the kept line.
  optimizer->Step(0.1f, gradient, absl::MakeSpan(w));
  EXPECT_EQ(w[3], 3.0f);
  EXPECT_EQ(w[21], 0.0f);
  EXPECT_FALSE(std::signbit(w[21]));
}

// ScaledStep(rate, s, g) is bit for bit Step(rate, s g) with s g rounded to float first, with and without a mask,
// over 5 steps of random gradients on 100 entries (6 full lines and a partial one); the scale is not a power of two,
// so every product rounds.
TEST_P(OptimizerConformanceTest, ScaledStepEqualsStepOnTheScaledGradient) {
  constexpr int kEntries = 100;
  constexpr float kScale = 1.0f / 3.0f;
  std::mt19937_64 engine(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::bernoulli_distribution kept(0.3);
  std::vector<float> keep(kEntries, 0.0f);
  for (int i = 0; i < kEntries; ++i) keep[i] = (i / 16 != 2 && kept(engine)) ? 1.0f : 0.0f;  // Line 2 wholly pruned.
  ASSERT_OK_AND_ASSIGN(nn::Mask mask, nn::Mask::Create(keep));
  const nn::Mask* const masks[] = {nullptr, &mask};
  for (const nn::Mask* attached : masks) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Optimizer> scaled, CreateOptimizer(GetParam().config, kEntries, attached));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Optimizer> plain, CreateOptimizer(GetParam().config, kEntries, attached));
    std::vector<float> w_scaled(kEntries);
    for (float& value : w_scaled) value = normal(engine);
    if (attached != nullptr) attached->Apply(absl::MakeSpan(w_scaled));
    std::vector<float> w_plain = w_scaled;
    std::vector<float> gradient(kEntries), scaled_gradient(kEntries);
    for (int step = 0; step < 5; ++step) {
      for (int i = 0; i < kEntries; ++i) {
        gradient[i] = 10.0f * normal(engine);
        scaled_gradient[i] = gradient[i] * kScale;
      }
      scaled->ScaledStep(0.05f, kScale, gradient, absl::MakeSpan(w_scaled));
      plain->Step(0.05f, scaled_gradient, absl::MakeSpan(w_plain));
    }
    for (int i = 0; i < kEntries; ++i) {
      EXPECT_EQ(Bits(w_scaled[i]), Bits(w_plain[i]))
          << "entry " << i << (attached != nullptr ? " (masked)" : "");
    }
  }
}

// Every entry is updated with the same roundings wherever it sits: in a vector loop's body or its tail, in a masked or
// an unmasked step. Each entry of a 53-entry buffer (3 full lines and a tail) after 3 steps equals, bit for bit, the
// entry run alone as a 1-entry buffer, and a mask that keeps everything gives the unmasked step's bits.
TEST_P(OptimizerConformanceTest, EveryEntryIsUpdatedWithTheSameRoundings) {
  constexpr int kEntries = 53;
  constexpr int kSteps = 3;
  constexpr float kScale = 1.0f / 3.0f;
  std::mt19937_64 engine(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> initial(kEntries);
  for (float& value : initial) value = normal(engine);
  std::vector<std::vector<float>> gradients(kSteps, std::vector<float>(kEntries));
  for (auto& gradient : gradients) {
    for (float& value : gradient) value = 10.0f * normal(engine);
  }
  const nn::Mask all_kept = nn::Mask::AllKept(kEntries);
  const nn::Mask one_kept = nn::Mask::AllKept(1);
  for (const bool masked : {false, true}) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Optimizer> whole,
                         CreateOptimizer(GetParam().config, kEntries, masked ? &all_kept : nullptr));
    std::vector<float> w = initial;
    for (const auto& gradient : gradients) whole->ScaledStep(0.05f, kScale, gradient, absl::MakeSpan(w));
    for (int i = 0; i < kEntries; ++i) {
      ASSERT_OK_AND_ASSIGN(std::unique_ptr<Optimizer> alone,
                           CreateOptimizer(GetParam().config, 1, masked ? &one_kept : nullptr));
      std::vector<float> w_alone = {initial[i]};
      for (const auto& gradient : gradients) {
        alone->ScaledStep(0.05f, kScale, std::vector<float>{gradient[i]}, absl::MakeSpan(w_alone));
      }
      EXPECT_EQ(Bits(w[i]), Bits(w_alone[0])) << "entry " << i << (masked ? " (masked)" : "");
    }
  }
}

TEST_P(OptimizerConformanceTest, StepsAreDeterministic) {
  const OptimizerCase& optimizer_case = GetParam();
  std::vector<std::vector<float>> runs;
  for (int run = 0; run < 2; ++run) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Optimizer> optimizer,
                         CreateOptimizer(optimizer_case.config, kDimension, nullptr));
    std::vector<float> w(kDimension, 0.0f);
    std::vector<float> gradient(kDimension);
    for (int step = 0; step < 50; ++step) {
      QuadraticGradient(w, absl::MakeSpan(gradient));
      optimizer->Step(optimizer_case.learning_rate, gradient, absl::MakeSpan(w));
    }
    runs.push_back(w);
  }
  // Bitwise: float == on finite values that are not zeros of opposite signs.
  EXPECT_EQ(runs[0], runs[1]);
}

// Gradient descent on a convex quadratic with a small step: the first step lowers f.
TEST_P(OptimizerConformanceTest, FirstStepLowersTheLoss) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Optimizer> optimizer, CreateOptimizer(GetParam().config, kDimension, nullptr));
  const auto loss = [](absl::Span<const float> w) {
    double sum = 0.0;
    for (int i = 0; i < kDimension; ++i) sum += 0.5 * kCurvature[i] * (w[i] - kMinimum[i]) * (w[i] - kMinimum[i]);
    return sum;
  };
  std::vector<float> w(kDimension, 0.0f);
  std::vector<float> gradient(kDimension);
  QuadraticGradient(w, absl::MakeSpan(gradient));
  const double initial_loss = loss(w);
  optimizer->Step(0.01f, gradient, absl::MakeSpan(w));
  EXPECT_LT(loss(w), initial_loss);
}

INSTANTIATE_TEST_SUITE_P(EveryOptimizer, OptimizerConformanceTest, ::testing::ValuesIn(OptimizerCases()),
                         [](const ::testing::TestParamInfo<OptimizerCase>& info) { return info.param.config.name; });

TEST(OptimizerConformanceCoverageTest, EveryFactoryNameHasACase) {
  std::vector<std::string> case_names;
  for (const OptimizerCase& optimizer_case : OptimizerCases()) case_names.push_back(optimizer_case.config.name);
  for (const absl::string_view name : OptimizerNames()) {
    EXPECT_THAT(case_names, ::testing::Contains(std::string(name)));
  }
}

}  // namespace
}  // namespace parsity::optimizers
