#include "training/nn/activation.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "training/nn/layer_testing.h"

namespace parsity::nn {
namespace {

using testing::InputValues;
using testing::MakeLayerTestData;
using testing::MatchesFiniteDifferences;
using testing::MatchesReference;

TEST(ReluLayerTest, MatchesReferenceAndFiniteDifferences) {
  // 5 * 5 * 7 * 2 = 350 floats: 21 full vectors and a tail.
  const ReluLayer relu("relu", ImageShape{5, 5, 7});
  const testing::LayerTestData data = MakeLayerTestData(relu, 2, InputValues::kAwayFromZero, 1);
  EXPECT_TRUE(MatchesReference(relu, data, 1));
  EXPECT_TRUE(MatchesFiniteDifferences(relu, data, 1));
  // What MatchesReference's sharing check relies on: a ReLU may write its input gradient over its input.
  EXPECT_TRUE(relu.OverwritesInputWithGradient());
  EXPECT_TRUE(relu.BackwardReadsOutput());
}

TEST(ReluLayerTest, PropagatesNaNAndHasZeroDerivativeAtZero) {
  const ReluLayer relu("relu", ImageShape{1, 1, 4});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float input[4] = {nan, 0.0f, -2.0f, 3.0f};
  const float* inputs[1] = {input};
  float output[4];
  ForwardArguments forward;
  forward.batch = 1;
  forward.inputs = inputs;
  forward.output = output;
  relu.Forward(forward);
  EXPECT_TRUE(std::isnan(output[0]));
  EXPECT_EQ(output[1], 0.0f);
  EXPECT_EQ(output[2], 0.0f);
  EXPECT_EQ(output[3], 3.0f);
  const float output_gradient[4] = {1.0f, 1.0f, 1.0f, 1.0f};
  float input_gradient[4];
  float* input_gradients[1] = {input_gradient};
  const GradientMode modes[1] = {GradientMode::kOverwrite};
  BackwardArguments backward;
  backward.batch = 1;
  backward.inputs = inputs;
  backward.output = output;
  backward.output_gradient = output_gradient;
  backward.input_gradients = input_gradients;
  backward.input_gradient_modes = modes;
  relu.Backward(backward);
  EXPECT_EQ(input_gradient[1], 0.0f);
  EXPECT_EQ(input_gradient[2], 0.0f);
  EXPECT_EQ(input_gradient[3], 1.0f);
}

// A ReLU whose backward pass forgets the mask: the shared checks must reject it, or they prove nothing.
class UnmaskedReluLayer : public ReluLayer {
 public:
  using ReluLayer::ReluLayer;
  void Backward(const BackwardArguments& arguments) const override {
    const int64_t n = arguments.batch * output_shape().size();
    for (int64_t i = 0; i < n; ++i) arguments.input_gradients[0][i] = arguments.output_gradient[i];
  }
};

TEST(LayerChecksTest, RejectAWrongBackwardPass) {
  const UnmaskedReluLayer relu("wrong_relu", ImageShape{3, 3, 2});
  const testing::LayerTestData data = MakeLayerTestData(relu, 2, InputValues::kAwayFromZero, 1);
  EXPECT_FALSE(MatchesReference(relu, data, 1));
  EXPECT_FALSE(MatchesFiniteDifferences(relu, data, 1));
}

}  // namespace
}  // namespace parsity::nn
