#include "training/nn/convolution.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "training/nn/layer_testing.h"
#include "training/nn/pooling.h"

namespace parsity::nn {
namespace {

using testing::InputValues;
using testing::MakeLayerTestData;
using testing::MatchesFiniteDifferences;
using testing::MatchesReference;

Conv2DOptions Options(int64_t kernel, int64_t out_channels, int64_t stride, Padding padding,
                      Implementation implementation = Implementation::kAutomatic) {
  Conv2DOptions options;
  options.implementation = implementation;
  options.kernel_size = kernel;
  options.out_channels = out_channels;
  options.stride = stride;
  options.padding = padding;
  return options;
}

// The longest sum in a convolution: a weight gradient sums batch * output pixels products, an output or input
// gradient at most kernel^2 * channels.
int64_t ReductionLength(const Conv2DLayer& conv, int64_t batch) {
  const int64_t k = conv.options().kernel_size;
  return std::max(batch * conv.output_shape().height * conv.output_shape().width,
                  k * k * std::max(conv.input_shapes()[0].channels, conv.options().out_channels));
}

TEST(PaddingTest, MatchesTensorFlowConventions) {
  EXPECT_EQ(PaddedOutputSize(28, 5, 1, Padding::kValid), 24);
  EXPECT_EQ(PaddedOutputSize(9, 3, 2, Padding::kValid), 4);
  EXPECT_EQ(PaddedOutputSize(32, 3, 1, Padding::kSame), 32);
  EXPECT_EQ(PaddedOutputSize(32, 3, 2, Padding::kSame), 16);
  EXPECT_EQ(PaddedOutputSize(7, 3, 2, Padding::kSame), 4);
  EXPECT_EQ(PaddingBefore(32, 3, 1, Padding::kSame), 1);
  // Total padding 1 at stride 2 on an even input: all of it after (bottom/right), none before.
  EXPECT_EQ(PaddingBefore(32, 3, 2, Padding::kSame), 0);
  EXPECT_EQ(PaddingBefore(7, 3, 2, Padding::kSame), 1);
  EXPECT_EQ(PaddingBefore(28, 5, 1, Padding::kValid), 0);
}

TEST(Conv2DLayerTest, DeclaresHwioWeightsAndBiases) {
  const Conv2DLayer conv("conv", ImageShape{12, 12, 32}, Options(5, 64, 1, Padding::kValid));
  EXPECT_EQ(conv.output_shape(), (ImageShape{8, 8, 64}));
  const std::vector<ParameterSpec> specs = conv.parameter_specs();
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].kind, ParameterKind::kWeights);
  EXPECT_EQ(specs[0].shape, (std::vector<int64_t>{5, 5, 32, 64}));
  EXPECT_EQ(specs[0].fan_in, 800);
  EXPECT_EQ(specs[1].kind, ParameterKind::kBiases);
  EXPECT_EQ(specs[1].shape, (std::vector<int64_t>{64}));
  EXPECT_EQ(conv.MultiplyAddsPerExample(), 8 * 8 * 64 * 800);
}

struct ConvCase {
  const char* name;
  ImageShape input;
  int64_t kernel, out_channels, stride;
  Padding padding;
  int64_t batch;
};

void PrintTo(const ConvCase& c, std::ostream* os) { *os << c.name; }

class Conv2DGradientTest : public ::testing::TestWithParam<ConvCase> {};

// Both implementations, where this build has them.
TEST(Conv2DLayerTest, ResolvesTheImplementation) {
  const Conv2DLayer automatic("conv", ImageShape{5, 5, 1}, Options(3, 2, 1, Padding::kSame));
  EXPECT_EQ(automatic.implementation(), HasDirectKernels() ? Implementation::kDirect : Implementation::kEigen);
  const Conv2DLayer eigen("conv", ImageShape{5, 5, 1}, Options(3, 2, 1, Padding::kSame, Implementation::kEigen));
  EXPECT_EQ(eigen.implementation(), Implementation::kEigen);
}

TEST_P(Conv2DGradientTest, MatchesReferenceAndFiniteDifferences) {
  const ConvCase& c = GetParam();
  for (Implementation implementation : testing::Implementations()) {
    SCOPED_TRACE(testing::ImplementationName(implementation));
    const Conv2DLayer conv(c.name, c.input, Options(c.kernel, c.out_channels, c.stride, c.padding, implementation));
    // MatchesReference checks the promise (a Network may then keep the output's gradient in its memory).
    EXPECT_FALSE(conv.BackwardReadsOutput());
    const testing::LayerTestData data = MakeLayerTestData(conv, c.batch, InputValues::kGaussian, 7);
    EXPECT_TRUE(MatchesReference(conv, data, ReductionLength(conv, c.batch)));
    EXPECT_TRUE(MatchesFiniteDifferences(conv, data, ReductionLength(conv, c.batch)));
    EXPECT_TRUE(testing::WritesParameterGradientsExactly(conv, data));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Conv2DGradientTest,
    ::testing::Values(ConvCase{"valid_5x5", ImageShape{8, 7, 1}, 5, 3, 1, Padding::kValid, 2},
                      ConvCase{"valid_3x3_stride2_leftover", ImageShape{9, 8, 2}, 3, 3, 2, Padding::kValid, 2},
                      ConvCase{"same_3x3", ImageShape{6, 5, 3}, 3, 4, 1, Padding::kSame, 2},
                      ConvCase{"same_3x3_stride2_even", ImageShape{6, 6, 2}, 3, 3, 2, Padding::kSame, 2},
                      ConvCase{"same_3x3_stride2_odd", ImageShape{7, 5, 2}, 3, 2, 2, Padding::kSame, 2},
                      // Padding 0 above but 1 on the left.
                      ConvCase{"same_3x3_stride2_asymmetric", ImageShape{6, 5, 2}, 3, 2, 2, Padding::kSame, 2},
                      ConvCase{"same_1x1", ImageShape{3, 4, 5}, 1, 3, 1, Padding::kSame, 3},
                      ConvCase{"same_5x5_wider_than_input", ImageShape{3, 3, 1}, 5, 2, 1, Padding::kSame, 1},
                      // One input channel at stride 1 and width 5 (the forward's sliding tiles): 11 output columns
                      // (a tile of 6 and one of 5), 20 channels (a vector tail).
                      ConvCase{"valid_5x5_one_channel_tails", ImageShape{15, 15, 1}, 5, 20, 1, Padding::kValid, 2}),
    [](const ::testing::TestParamInfo<ConvCase>& info) { return std::string(info.param.name); });

// The networks' shapes and wide layers, only against the reference (finite differences would take too long). The
// batches make the im2col row blocks (1 MiB) split in the middle of an example.
class Conv2DNetworkShapeTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2DNetworkShapeTest, MatchesReference) {
  const ConvCase& c = GetParam();
  for (Implementation implementation : testing::Implementations()) {
    SCOPED_TRACE(testing::ImplementationName(implementation));
    const Conv2DLayer conv(c.name, c.input, Options(c.kernel, c.out_channels, c.stride, c.padding, implementation));
    const testing::LayerTestData data = MakeLayerTestData(conv, c.batch, InputValues::kGaussian, 11);
    EXPECT_TRUE(MatchesReference(conv, data, ReductionLength(conv, c.batch)));
    EXPECT_TRUE(testing::WritesParameterGradientsExactly(conv, data));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Networks, Conv2DNetworkShapeTest,
    ::testing::Values(ConvCase{"simple_cnn_conv1", ImageShape{28, 28, 1}, 5, 32, 1, Padding::kValid, 3},
                      ConvCase{"simple_cnn_conv2", ImageShape{12, 12, 32}, 5, 64, 1, Padding::kValid, 7},
                      ConvCase{"resnet8_conv1", ImageShape{32, 32, 3}, 3, 16, 1, Padding::kSame, 2},
                      ConvCase{"resnet8_block2_conv1", ImageShape{32, 32, 16}, 3, 32, 2, Padding::kSame, 2},
                      ConvCase{"resnet8_block3_conv2", ImageShape{8, 8, 64}, 3, 64, 1, Padding::kSame, 9},
                      // More than 64 output channels and kernel rows (two blocks each, with vector tails).
                      ConvCase{"wide_channel_tails", ImageShape{6, 7, 13}, 5, 70, 1, Padding::kSame, 2},
                      ConvCase{"wide_channel_tails_stride3", ImageShape{11, 10, 17}, 4, 81, 3, Padding::kValid, 2}),
    [](const ::testing::TestParamInfo<ConvCase>& info) { return std::string(info.param.name); });

// Pool fusion (Layer::TakesPooledGradient): a convolution given its gradient in pooled form gives the bits of the
// 2 x 2 max-pool's backward pass followed by its own: ties inside windows (integer-valued data make equal outputs
// common), rows and columns no window covers, exact zeros and -0 in the pooled gradient, padding, channel tails,
// kernel widths 1 to 7, both gradient modes, with and without the bias gradient.
struct PooledCase {
  const char* name;
  ImageShape input;
  int64_t kernel, out_channels;
  Padding padding;
  int64_t batch;
  bool integer_values;
};

void PrintTo(const PooledCase& c, std::ostream* os) { *os << c.name; }

class Conv2DPooledGradientTest : public ::testing::TestWithParam<PooledCase> {};

TEST_P(Conv2DPooledGradientTest, MatchesPoolBackwardThenConvolutionBackward) {
  const PooledCase& c = GetParam();
  const Conv2DLayer conv(c.name, c.input, Options(c.kernel, c.out_channels, 1, c.padding));
  if (!HasDirectKernels()) GTEST_SKIP() << "no direct kernels in this build: nothing takes a pooled gradient";
  ASSERT_TRUE(conv.TakesPooledGradient(nullptr, c.batch));
  const ImageShape out = conv.output_shape();
  const MaxPoolLayer pool("pool", out, PoolOptions{2, 2});
  ASSERT_TRUE(pool.IsMaxPool2x2());
  const ImageShape pooled_shape = pool.output_shape();
  std::mt19937_64 engine(5);
  std::normal_distribution<float> gaussian(0.0f, 1.0f);
  std::uniform_int_distribution<int> small(-2, 2);
  auto value = [&](float scale) {
    return c.integer_values ? scale * static_cast<float>(small(engine)) : gaussian(engine);
  };
  std::vector<float> input(c.batch * c.input.size()), weights(c.kernel * c.kernel * c.out_channels),
      biases(c.out_channels);
  for (float& x : input) x = value(0.5f);
  for (float& w : weights) w = value(0.25f);
  for (float& b : biases) b = value(0.125f);
  std::vector<float> scratch(std::max<int64_t>(conv.ScratchFloats(c.batch), 1));
  std::vector<float> output(c.batch * out.size()), pooled(c.batch * pooled_shape.size());
  const float* input_pointer = input.data();
  ForwardArguments forward;
  forward.batch = c.batch;
  forward.inputs = absl::MakeConstSpan(&input_pointer, 1);
  forward.parameters = LayerParameters{weights.data(), biases.data(), nullptr};
  forward.output = output.data();
  forward.scratch = scratch.data();
  conv.Forward(forward);
  const float* output_pointer = output.data();
  ForwardArguments pool_forward;
  pool_forward.batch = c.batch;
  pool_forward.inputs = absl::MakeConstSpan(&output_pointer, 1);
  pool_forward.output = pooled.data();
  pool.Forward(pool_forward);
  std::vector<float> pooled_gradient(pooled.size());
  for (size_t i = 0; i < pooled_gradient.size(); ++i) {
    pooled_gradient[i] = i % 3 == 0 ? 0.0f : i % 7 == 0 ? -0.0f : gaussian(engine);
  }
  // The unfused pass: the pool writes the output's gradient, the convolution reads it.
  std::vector<float> output_gradient(output.size());
  float* output_gradient_pointer = output_gradient.data();
  const GradientMode overwrite = GradientMode::kOverwrite;
  BackwardArguments pool_backward;
  pool_backward.batch = c.batch;
  pool_backward.inputs = absl::MakeConstSpan(&output_pointer, 1);
  pool_backward.output = pooled.data();
  pool_backward.output_gradient = pooled_gradient.data();
  pool_backward.input_gradients = absl::MakeConstSpan(&output_gradient_pointer, 1);
  pool_backward.input_gradient_modes = absl::MakeConstSpan(&overwrite, 1);
  pool.Backward(pool_backward);
  std::vector<float> start(weights.size() + biases.size());
  for (float& x : start) x = gaussian(engine);
  float* no_input_gradient = nullptr;
  for (GradientMode mode : {GradientMode::kOverwrite, GradientMode::kAccumulate}) {
    for (bool with_biases : {true, false}) {
      SCOPED_TRACE(::testing::Message() << (mode == GradientMode::kOverwrite ? "overwrite" : "accumulate")
                                        << (with_biases ? ", with biases" : ", without biases"));
      std::vector<float> unfused = start, fused = start;
      BackwardArguments backward;
      backward.batch = c.batch;
      backward.inputs = absl::MakeConstSpan(&input_pointer, 1);
      backward.parameters = LayerParameters{weights.data(), biases.data(), nullptr};
      backward.input_gradients = absl::MakeConstSpan(&no_input_gradient, 1);
      backward.input_gradient_modes = absl::MakeConstSpan(&overwrite, 1);
      backward.parameter_gradient_mode = mode;
      backward.scratch = scratch.data();
      backward.output_gradient = output_gradient.data();
      backward.parameter_gradients =
          LayerGradients{unfused.data(), with_biases ? unfused.data() + weights.size() : nullptr};
      conv.Backward(backward);
      PooledGradient pooled_form{output.data(), pooled.data(), pooled_gradient.data()};
      backward.output_gradient = nullptr;
      backward.pooled = &pooled_form;
      backward.parameter_gradients =
          LayerGradients{fused.data(), with_biases ? fused.data() + weights.size() : nullptr};
      conv.Backward(backward);
      for (size_t i = 0; i < fused.size(); ++i) {
        uint32_t fused_bits, unfused_bits;
        std::memcpy(&fused_bits, &fused[i], 4);
        std::memcpy(&unfused_bits, &unfused[i], 4);
        ASSERT_EQ(fused_bits, unfused_bits) << "entry " << i << ": " << fused[i] << " vs " << unfused[i];
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Conv2DPooledGradientTest,
    ::testing::Values(PooledCase{"simple_cnn_conv1", ImageShape{28, 28, 1}, 5, 32, Padding::kValid, 3, false},
                      PooledCase{"simple_cnn_conv1_ties", ImageShape{28, 28, 1}, 5, 32, Padding::kValid, 2, true},
                      // 10 x 9 outputs: the last column has no window; 40 channels: a vector tail.
                      PooledCase{"odd_width_channel_tail", ImageShape{12, 11, 1}, 3, 40, Padding::kValid, 2, true},
                      // 7 x 7: the last row and column have none.
                      PooledCase{"odd_height_and_width", ImageShape{10, 10, 1}, 4, 16, Padding::kValid, 1, true},
                      PooledCase{"same_kernel_7", ImageShape{9, 13, 1}, 7, 20, Padding::kSame, 2, false},
                      PooledCase{"same_kernel_2_ties", ImageShape{6, 8, 1}, 2, 3, Padding::kSame, 3, true},
                      // Two channel blocks (64 and 6).
                      PooledCase{"kernel_1_two_blocks", ImageShape{8, 8, 1}, 1, 70, Padding::kValid, 2, true}),
    [](const ::testing::TestParamInfo<PooledCase>& info) { return std::string(info.param.name); });

TEST(Conv2DLayerTest, TakesPooledGradientOnlyWhereItsKernelDoes) {
  if (!HasDirectKernels()) GTEST_SKIP() << "no direct kernels in this build";
  const auto takes = [](ImageShape input, const Conv2DOptions& options) {
    return Conv2DLayer("conv", input, options).TakesPooledGradient(nullptr, 2);
  };
  EXPECT_TRUE(takes(ImageShape{28, 28, 1}, Options(5, 32, 1, Padding::kValid)));
  // More than one input channel, a stride, the portable implementation, kernels wider than 7.
  EXPECT_FALSE(takes(ImageShape{12, 12, 2}, Options(5, 8, 1, Padding::kValid)));
  EXPECT_FALSE(takes(ImageShape{12, 12, 1}, Options(3, 8, 2, Padding::kValid)));
  EXPECT_FALSE(takes(ImageShape{12, 12, 1}, Options(3, 8, 1, Padding::kValid, Implementation::kEigen)));
  EXPECT_FALSE(takes(ImageShape{12, 12, 1}, Options(9, 8, 1, Padding::kSame)));
  // Under a mask: only while the weight gradient runs dense at that batch.
  const Conv2DLayer conv("conv", ImageShape{28, 28, 1}, Options(5, 32, 1, Padding::kValid));
  std::vector<float> mask(5 * 5 * 32, 0.0f);
  for (size_t i = 0; i < mask.size(); i += 3) mask[i] = 1.0f;
  std::unique_ptr<LayerSparsity> sparsity = conv.CreateSparsity(mask, 16);
  if (sparsity == nullptr) GTEST_SKIP() << "no sparse kernels in this build";
  sparsity->set_kernel(Product::kWeightGradient, 8, KernelKind::kDense);
  sparsity->set_kernel(Product::kWeightGradient, 2, KernelKind::kSparse);
  EXPECT_TRUE(conv.TakesPooledGradient(sparsity.get(), 8));
  EXPECT_FALSE(conv.TakesPooledGradient(sparsity.get(), 2));
}

}  // namespace
}  // namespace parsity::nn
