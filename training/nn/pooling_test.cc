#include "training/nn/pooling.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "training/nn/layer_testing.h"

namespace parsity::nn {
namespace {

using testing::InputValues;
using testing::MakeLayerTestData;
using testing::MatchesFiniteDifferences;
using testing::MatchesReference;

struct PoolCase {
  const char* name;
  ImageShape input;
  int64_t window, stride, batch;
};

void PrintTo(const PoolCase& c, std::ostream* os) { *os << c.name; }

// The pooling shapes: the networks' (32 channels: two full vectors), a channel count with a vector tail (20),
// overlapping windows (3x3 stride 2, where gradients of neighbouring windows add up), leftover rows and columns.
const PoolCase kPoolCases[] = {
    {"simple_cnn_pool1", ImageShape{24, 24, 32}, 2, 2, 2}, {"tail_channels", ImageShape{6, 4, 20}, 2, 2, 2},
    {"overlapping", ImageShape{7, 7, 5}, 3, 2, 2},         {"leftover", ImageShape{5, 7, 3}, 2, 2, 3},
    {"window_1", ImageShape{3, 3, 17}, 1, 1, 1},
};

class MaxPoolTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(MaxPoolTest, MatchesReferenceAndFiniteDifferences) {
  const PoolCase& c = GetParam();
  const MaxPoolLayer pool(c.name, c.input, PoolOptions{c.window, c.stride});
  // Distinct values: every window has one maximum, which the finite-difference step cannot change.
  const testing::LayerTestData data = MakeLayerTestData(pool, c.batch, InputValues::kDistinct, 3);
  EXPECT_TRUE(MatchesReference(pool, data, c.window * c.window));
  if (c.input.size() <= 300) {
    EXPECT_TRUE(MatchesFiniteDifferences(pool, data, c.window * c.window));
  }
}

// The claims a Network relies on to keep a max-pool's input gradient in its input's memory (MatchesReference above
// checks that the claims hold); overlapping windows must not claim it.
TEST(MaxPoolLayerTest, OverwritesItsInputOnlyWithTilingWindows) {
  EXPECT_TRUE(MaxPoolLayer("tiling", ImageShape{5, 7, 3}, PoolOptions{2, 2}).OverwritesInputWithGradient());
  EXPECT_FALSE(MaxPoolLayer("overlapping", ImageShape{7, 7, 5}, PoolOptions{3, 2}).OverwritesInputWithGradient());
  EXPECT_TRUE(MaxPoolLayer("tiling", ImageShape{5, 7, 3}, PoolOptions{2, 2}).BackwardReadsOutput());
}

// Max-pools making promises they cannot keep: the shared check must reject them, or it proves nothing. Overlapping
// windows zero the gradient before routing (which destroys an input still to be read), and routing reads the output.
class OverlappingPoolClaimingInPlace : public MaxPoolLayer {
 public:
  using MaxPoolLayer::MaxPoolLayer;
  bool OverwritesInputWithGradient() const override { return true; }
};
class PoolClaimingNotToReadItsOutput : public MaxPoolLayer {
 public:
  using MaxPoolLayer::MaxPoolLayer;
  bool BackwardReadsOutput() const override { return false; }
};

TEST(MaxPoolLayerTest, SharingChecksRejectBrokenPromises) {
  const OverlappingPoolClaimingInPlace overlapping("overlapping", ImageShape{7, 7, 5}, PoolOptions{3, 2});
  EXPECT_FALSE(testing::HonorsBufferSharing(overlapping,
                                            MakeLayerTestData(overlapping, 2, InputValues::kDistinct, 3)));
  const PoolClaimingNotToReadItsOutput reads("reads_output", ImageShape{6, 4, 20}, PoolOptions{2, 2});
  EXPECT_FALSE(testing::HonorsBufferSharing(reads, MakeLayerTestData(reads, 2, InputValues::kDistinct, 3)));
}

INSTANTIATE_TEST_SUITE_P(Shapes, MaxPoolTest, ::testing::ValuesIn(kPoolCases),
                         [](const ::testing::TestParamInfo<PoolCase>& info) { return std::string(info.param.name); });

class AveragePoolTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(AveragePoolTest, MatchesReferenceAndFiniteDifferences) {
  const PoolCase& c = GetParam();
  const AveragePoolLayer pool(c.name, c.input, PoolOptions{c.window, c.stride});
  const testing::LayerTestData data = MakeLayerTestData(pool, c.batch, InputValues::kGaussian, 4);
  EXPECT_TRUE(MatchesReference(pool, data, c.window * c.window));
  if (c.input.size() <= 300) {
    EXPECT_TRUE(MatchesFiniteDifferences(pool, data, c.window * c.window));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, AveragePoolTest, ::testing::ValuesIn(kPoolCases),
                         [](const ::testing::TestParamInfo<PoolCase>& info) { return std::string(info.param.name); });

TEST(MaxPoolLayerTest, RoutesTiesToTheFirstMaximum) {
  const MaxPoolLayer pool("pool", ImageShape{2, 2, 1}, PoolOptions{2, 2});
  const float input[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  const float* inputs[1] = {input};
  float output = -1.0f;
  ForwardArguments forward;
  forward.batch = 1;
  forward.inputs = inputs;
  forward.output = &output;
  pool.Forward(forward);
  EXPECT_EQ(output, 0.0f);
  const float output_gradient = 3.0f;
  float input_gradient[4] = {9.0f, 9.0f, 9.0f, 9.0f};
  float* input_gradients[1] = {input_gradient};
  const GradientMode modes[1] = {GradientMode::kOverwrite};
  BackwardArguments backward;
  backward.batch = 1;
  backward.inputs = inputs;
  backward.output = &output;
  backward.output_gradient = &output_gradient;
  backward.input_gradients = input_gradients;
  backward.input_gradient_modes = modes;
  pool.Backward(backward);
  EXPECT_EQ(input_gradient[0], 3.0f);
  EXPECT_EQ(input_gradient[1], 0.0f);
  EXPECT_EQ(input_gradient[2], 0.0f);
  EXPECT_EQ(input_gradient[3], 0.0f);
}

// Bitwise against the rule spelled out in scalar code (the maximum so far replaced only by a larger window pixel,
// in row-major window order; the gradient routed to the first pixel equal to the maximum), on inputs full of ties,
// signed zeros and NaN, with a vector tail (20 channels): the 2 x 2 fast paths and the general one must all follow it.
TEST(MaxPoolLayerTest, FollowsTheScalarRuleBitwiseOnTiesSignedZerosAndNaN) {
  const float kNaN = std::numeric_limits<float>::quiet_NaN();
  const float kChoices[] = {-0.0f, 0.0f, 1.0f, 2.0f, -1.0f, kNaN};
  for (const PoolOptions options : {PoolOptions{2, 2}, PoolOptions{3, 2}}) {
    const ImageShape in{7, 8, 20};
    const MaxPoolLayer pool("pool", in, options);
    const ImageShape out = pool.output_shape();
    constexpr int64_t kBatch = 2;
    std::mt19937 engine(7);
    std::vector<float> input(kBatch * in.size());
    for (float& value : input) value = kChoices[engine() % 6];
    std::vector<float> output_gradient(kBatch * out.size());
    for (size_t i = 0; i < output_gradient.size(); ++i) output_gradient[i] = 0.25f * static_cast<float>(i % 13) - 1.0f;
    std::vector<float> expected_output(kBatch * out.size());
    std::vector<float> expected_gradient(kBatch * in.size(), 0.0f);
    for (int64_t b = 0; b < kBatch; ++b) {
      for (int64_t oy = 0; oy < out.height; ++oy) {
        for (int64_t ox = 0; ox < out.width; ++ox) {
          for (int64_t c = 0; c < in.channels; ++c) {
            auto at = [&](int64_t ky, int64_t kx) {
              return ((b * in.height + oy * options.stride + ky) * in.width + ox * options.stride + kx) * in.channels + c;
            };
            float maximum = input[at(0, 0)];
            for (int64_t w = 1; w < options.window * options.window; ++w) {
              const float candidate = input[at(w / options.window, w % options.window)];
              maximum = maximum < candidate ? candidate : maximum;
            }
            const int64_t o = ((b * out.height + oy) * out.width + ox) * out.channels + c;
            expected_output[o] = maximum;
            for (int64_t w = 0; w < options.window * options.window; ++w) {
              float& target = expected_gradient[at(w / options.window, w % options.window)];
              if (input[at(w / options.window, w % options.window)] == maximum) {
                target += output_gradient[o];
                break;
              }
            }
          }
        }
      }
    }
    const float* inputs[1] = {input.data()};
    std::vector<float> output(kBatch * out.size(), -7.0f);
    ForwardArguments forward;
    forward.batch = kBatch;
    forward.inputs = inputs;
    forward.output = output.data();
    pool.Forward(forward);
    EXPECT_EQ(std::memcmp(output.data(), expected_output.data(), sizeof(float) * output.size()), 0)
        << "window " << options.window;
    for (const GradientMode mode : {GradientMode::kOverwrite, GradientMode::kAccumulate}) {
      std::vector<float> input_gradient(kBatch * in.size(), mode == GradientMode::kOverwrite ? kNaN : 0.0f);
      float* input_gradients[1] = {input_gradient.data()};
      const GradientMode modes[1] = {mode};
      BackwardArguments backward;
      backward.batch = kBatch;
      backward.inputs = inputs;
      backward.output = output.data();
      backward.output_gradient = output_gradient.data();
      backward.input_gradients = input_gradients;
      backward.input_gradient_modes = modes;
      pool.Backward(backward);
      EXPECT_EQ(std::memcmp(input_gradient.data(), expected_gradient.data(), sizeof(float) * input_gradient.size()), 0)
          << "window " << options.window << (mode == GradientMode::kOverwrite ? ", overwrite" : ", accumulate");
    }
  }
}

TEST(GlobalAveragePoolLayerTest, MatchesReferenceAndFiniteDifferences) {
  for (const ImageShape& shape : {ImageShape{8, 8, 64}, ImageShape{3, 5, 7}}) {
    const GlobalAveragePoolLayer pool("global_pool", shape);
    EXPECT_EQ(pool.output_shape(), (ImageShape{1, 1, shape.channels}));
    const testing::LayerTestData data = MakeLayerTestData(pool, 3, InputValues::kGaussian, 5);
    EXPECT_TRUE(MatchesReference(pool, data, shape.height * shape.width));
    if (shape.size() <= 300) {
      EXPECT_TRUE(MatchesFiniteDifferences(pool, data, shape.height * shape.width));
    }
  }
}

}  // namespace
}  // namespace parsity::nn
