#include "training/nn/convolution.h"

#include <algorithm>
#include <ostream>
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

}  // namespace
}  // namespace parsity::nn
