// The sparse kernels of convolutions and fully connected layers (training/nn/internal/sparse_kernels.h) under random
// masks of densities 0.01 to 1, odd shapes, and batches of 1, 2, 7, 16 and 256 (fully connected layers also 32 and
// 100, lines 33): equal to the dense kernels on the same pruned weights, within the float tolerance of the double
// reference, and matching finite differences.
#include <algorithm>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/base/aligned_vector.h"
#include "training/nn/convolution.h"
#include "training/nn/fully_connected.h"
#include "training/nn/internal/sparse_kernels.h"
#include "training/nn/layer_testing.h"
#include "training/nn/parameter_buffer.h"

namespace parsity::nn {
namespace {

using testing::InputValues;
using testing::MakeLayerTestData;
using testing::MatchesDenseExactly;
using testing::MatchesFiniteDifferences;
using testing::MatchesReference;
using testing::PruneWeights;
using testing::RandomWeightMask;

struct ConvCase {
  std::string name;
  ImageShape input;
  int64_t kernel;
  int64_t out_channels;
  int64_t stride;
  Padding padding;
};

std::vector<ConvCase> ConvCases() {
  return {
      {"simple_cnn_conv1", {28, 28, 1}, 5, 32, 1, Padding::kValid},
      {"simple_cnn_conv2", {12, 12, 32}, 5, 64, 1, Padding::kValid},
      {"resnet_same", {8, 8, 16}, 3, 16, 1, Padding::kSame},        // Input gradient by the flipped forward.
      {"resnet_strided", {8, 8, 16}, 3, 32, 2, Padding::kSame},     // Scatter with padding.
      {"odd_strided", {7, 9, 5}, 3, 11, 2, Padding::kSame},
      {"odd_valid", {9, 7, 3}, 2, 6, 1, Padding::kValid},
      {"wide_same", {5, 6, 70}, 3, 70, 1, Padding::kSame},          // More than 64 channels: several blocks.
      {"wide_strided", {6, 5, 70}, 3, 67, 2, Padding::kValid},
  };
}

Conv2DOptions DirectOptions(const ConvCase& c) {
  Conv2DOptions options;
  options.kernel_size = c.kernel;
  options.out_channels = c.out_channels;
  options.stride = c.stride;
  options.padding = c.padding;
  options.implementation = Implementation::kDirect;
  return options;
}

int64_t ConvReductionLength(const Conv2DLayer& conv, int64_t batch) {
  const int64_t k = conv.options().kernel_size;
  return std::max(batch * conv.output_shape().height * conv.output_shape().width,
                  k * k * std::max(conv.input_shapes()[0].channels, conv.options().out_channels));
}

const std::vector<double> kDensities = {0.01, 0.1, 0.5, 1.0};

class SparseLayersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!internal_available()) GTEST_SKIP() << "this build has no sparse kernels (no AVX-512)";
  }
  static bool internal_available() { return nn_internal::HasSparseKernels(); }
};

TEST_F(SparseLayersTest, ConvolutionsEqualDenseKernelsAtEveryBatchClassAndDensity) {
  uint64_t seed = 1;
  for (const ConvCase& c : ConvCases()) {
    const Conv2DLayer conv(c.name, c.input, DirectOptions(c));
    for (const int64_t batch : {1, 2, 7, 16}) {
      for (const double density : kDensities) {
        testing::LayerTestData data = MakeLayerTestData(conv, batch, InputValues::kGaussian, ++seed);
        PruneWeights(RandomWeightMask(static_cast<int64_t>(data.weights.size()), density, seed), &data);
        const std::unique_ptr<LayerSparsity> sparsity = conv.CreateSparsity(data.weight_mask, batch);
        ASSERT_NE(sparsity, nullptr);
        data.sparsity = sparsity.get();
        EXPECT_TRUE(MatchesDenseExactly(conv, data)) << c.name << " batch " << batch << " density " << density;
      }
    }
  }
}

TEST_F(SparseLayersTest, ConvolutionsEqualDenseKernelsAtBatch256) {
  for (const ConvCase& c : {ConvCases()[2], ConvCases()[4]}) {
    const Conv2DLayer conv(c.name, c.input, DirectOptions(c));
    testing::LayerTestData data = MakeLayerTestData(conv, 256, InputValues::kGaussian, 7);
    PruneWeights(RandomWeightMask(static_cast<int64_t>(data.weights.size()), 0.1, 7), &data);
    const std::unique_ptr<LayerSparsity> sparsity = conv.CreateSparsity(data.weight_mask, 256);
    data.sparsity = sparsity.get();
    EXPECT_TRUE(MatchesDenseExactly(conv, data)) << c.name;
  }
}

// Stride-1 forward products run on batch lanes for each 16 images and on pixel lanes for the rest: 39 images take two
// groups (the second reuses the first's padding zeros) and a remainder of 7.
TEST_F(SparseLayersTest, ConvolutionsEqualDenseKernelsOnBatchLanesAndTheirRemainder) {
  uint64_t seed = 500;
  for (const ConvCase& c : ConvCases()) {
    if (c.stride != 1) continue;
    const Conv2DLayer conv(c.name, c.input, DirectOptions(c));
    for (const double density : {0.05, 0.5}) {
      testing::LayerTestData data = MakeLayerTestData(conv, 39, InputValues::kGaussian, ++seed);
      PruneWeights(RandomWeightMask(static_cast<int64_t>(data.weights.size()), density, seed), &data);
      const std::unique_ptr<LayerSparsity> sparsity = conv.CreateSparsity(data.weight_mask, 39);
      data.sparsity = sparsity.get();
      EXPECT_TRUE(MatchesDenseExactly(conv, data)) << c.name << " density " << density;
    }
  }
}

TEST_F(SparseLayersTest, ConvolutionsMatchTheMaskedReference) {
  uint64_t seed = 100;
  for (const ConvCase& c : ConvCases()) {
    const Conv2DLayer conv(c.name, c.input, DirectOptions(c));
    for (const int64_t batch : {1, 2}) {
      for (const double density : {0.1, 0.5}) {
        testing::LayerTestData data = MakeLayerTestData(conv, batch, InputValues::kGaussian, ++seed);
        PruneWeights(RandomWeightMask(static_cast<int64_t>(data.weights.size()), density, seed), &data);
        const std::unique_ptr<LayerSparsity> sparsity = conv.CreateSparsity(data.weight_mask, batch);
        data.sparsity = sparsity.get();
        EXPECT_TRUE(MatchesReference(conv, data, ConvReductionLength(conv, batch)))
            << c.name << " batch " << batch << " density " << density;
      }
    }
  }
}

TEST_F(SparseLayersTest, SmallConvolutionsMatchFiniteDifferencesThroughTheMask) {
  for (const ConvCase& c : {ConvCase{"tiny_same", {5, 4, 3}, 3, 4, 1, Padding::kSame},
                            ConvCase{"tiny_strided", {5, 6, 2}, 3, 3, 2, Padding::kSame},
                            ConvCase{"tiny_valid", {6, 5, 2}, 2, 3, 1, Padding::kValid}}) {
    const Conv2DLayer conv(c.name, c.input, DirectOptions(c));
    testing::LayerTestData data = MakeLayerTestData(conv, 2, InputValues::kGaussian, 3);
    PruneWeights(RandomWeightMask(static_cast<int64_t>(data.weights.size()), 0.3, 3), &data);
    const std::unique_ptr<LayerSparsity> sparsity = conv.CreateSparsity(data.weight_mask, 2);
    data.sparsity = sparsity.get();
    EXPECT_TRUE(MatchesFiniteDifferences(conv, data, ConvReductionLength(conv, 2))) << c.name;
  }
}

struct FullyConnectedCase {
  ImageShape input;
  int64_t out;
};

TEST_F(SparseLayersTest, FullyConnectedEqualDenseKernelsAtEveryBatchClassAndDensity) {
  uint64_t seed = 200;
  for (const FullyConnectedCase& c : {FullyConnectedCase{{4, 4, 64}, 10}, FullyConnectedCase{{1, 1, 784}, 300},
                                      FullyConnectedCase{{1, 1, 37}, 45}, FullyConnectedCase{{1, 1, 100}, 70}}) {
    const FullyConnectedLayer fc("fc", c.input, c.out, Implementation::kDirect);
    // 32: two lane vectors, the widest short lanes (row blocks or in-place accumulation, by the rows' length); 100:
    // long lanes in a full chunk of 64 examples and a partial one of 36.
    for (const int64_t batch : {1, 2, 7, 16, 32, 100, 256}) {
      for (const double density : kDensities) {
        testing::LayerTestData data = MakeLayerTestData(fc, batch, InputValues::kGaussian, ++seed);
        PruneWeights(RandomWeightMask(static_cast<int64_t>(data.weights.size()), density, seed), &data);
        const std::unique_ptr<LayerSparsity> sparsity = fc.CreateSparsity(data.weight_mask, batch);
        ASSERT_NE(sparsity, nullptr);
        data.sparsity = sparsity.get();
        EXPECT_TRUE(MatchesDenseExactly(fc, data))
            << ImageShapeString(c.input) << "->" << c.out << " batch " << batch << " density " << density;
      }
    }
  }
}

// A mask like SNIP's on an image input: whole input rows pruned (pixels blank in every image), the rest at `density`.
std::vector<float> RowClusteredMask(int64_t in, int64_t out, double density, uint64_t seed) {
  std::vector<float> mask = RandomWeightMask(in * out, density, seed);
  for (int64_t i = 0; i < in; ++i) {
    if ((i * 7 + static_cast<int64_t>(seed)) % 3 != 0) continue;
    for (int64_t o = 0; o < out; ++o) mask[i * out + o] = 0.0f;
  }
  return mask;
}

// Forward and weight gradient over lines (the input gradient sparse): the dense values exactly, for masks that leave
// whole output blocks empty, batches that split into several register tiles, and blocks past a multiple of 16.
TEST_F(SparseLayersTest, FullyConnectedLinesEqualDenseKernels) {
  uint64_t seed = 400;
  for (const FullyConnectedCase& c : {FullyConnectedCase{{1, 1, 784}, 300}, FullyConnectedCase{{1, 1, 37}, 45},
                                      FullyConnectedCase{{4, 4, 64}, 10}, FullyConnectedCase{{1, 1, 100}, 70},
                                      FullyConnectedCase{{1, 1, 9}, 130}}) {
    const FullyConnectedLayer fc("fc", c.input, c.out, Implementation::kDirect);
    const int64_t in = c.input.size();
    for (const int64_t batch : {1, 2, 7, 16, 33, 256}) {
      for (const double density : kDensities) {
        for (const bool clustered : {false, true}) {
          testing::LayerTestData data = MakeLayerTestData(fc, batch, InputValues::kGaussian, ++seed);
          PruneWeights(clustered ? RowClusteredMask(in, c.out, density, seed)
                                 : RandomWeightMask(in * c.out, density, seed),
                       &data);
          const std::unique_ptr<LayerSparsity> sparsity = fc.CreateSparsity(data.weight_mask, batch);
          ASSERT_NE(sparsity, nullptr);
          sparsity->set_kernel(Product::kForward, batch, KernelKind::kSparseLines);
          sparsity->set_kernel(Product::kWeightGradient, batch, KernelKind::kSparseLines);
          data.sparsity = sparsity.get();
          EXPECT_TRUE(MatchesDenseExactly(fc, data)) << ImageShapeString(c.input) << "->" << c.out << " batch "
                                                     << batch << " density " << density << " clustered " << clustered;
        }
      }
    }
  }
}

// The line forward kernel loads whole lines, but a pruned weight never reaches a result: with NaN in every pruned
// weight the outputs are the dense kernel's on zeros. (The weight-gradient kernel reads no weights; that it leaves the
// pruned gradient entries alone is checked by MatchesDenseExactly above.)
TEST_F(SparseLayersTest, FullyConnectedLinesNeverReadPrunedWeights) {
  const FullyConnectedLayer fc("fc", ImageShape{1, 1, 40}, 35, Implementation::kDirect);
  const int64_t batch = 5;
  testing::LayerTestData data = MakeLayerTestData(fc, batch, InputValues::kGaussian, 17);
  PruneWeights(RandomWeightMask(40 * 35, 0.3, 17), &data);
  const std::unique_ptr<LayerSparsity> sparsity = fc.CreateSparsity(data.weight_mask, batch);
  sparsity->set_kernel(Product::kForward, batch, KernelKind::kSparseLines);
  sparsity->set_kernel(Product::kWeightGradient, batch, KernelKind::kSparseLines);
  std::vector<float> poisoned = data.weights;
  for (size_t i = 0; i < poisoned.size(); ++i) {
    if (data.weight_mask[i] == 0.0f) poisoned[i] = std::numeric_limits<float>::quiet_NaN();
  }
  std::vector<float> dense_output(batch * 35), lines_output(batch * 35);
  ForwardArguments arguments;
  arguments.batch = batch;
  const float* inputs[1] = {data.inputs[0].data()};
  arguments.inputs = absl::MakeConstSpan(inputs, 1);
  AlignedFloatVector scratch(static_cast<size_t>(std::max(fc.ScratchFloats(batch), sparsity->ScratchFloats(batch))));
  arguments.scratch = scratch.data();
  arguments.parameters.weights = data.weights.data();
  arguments.parameters.biases = data.biases.data();
  arguments.output = dense_output.data();
  fc.Forward(arguments);
  arguments.parameters.weights = poisoned.data();
  arguments.parameters.sparsity = sparsity.get();
  arguments.output = lines_output.data();
  fc.Forward(arguments);
  EXPECT_EQ(lines_output, dense_output);
}

TEST_F(SparseLayersTest, FullyConnectedMatchesTheMaskedReferenceAndFiniteDifferences) {
  const FullyConnectedLayer fc("fc", ImageShape{1, 1, 37}, 45, Implementation::kDirect);
  for (const int64_t batch : {1, 7, 16}) {
    testing::LayerTestData data = MakeLayerTestData(fc, batch, InputValues::kGaussian, 300 + batch);
    PruneWeights(RandomWeightMask(static_cast<int64_t>(data.weights.size()), 0.2, batch), &data);
    const std::unique_ptr<LayerSparsity> sparsity = fc.CreateSparsity(data.weight_mask, batch);
    data.sparsity = sparsity.get();
    EXPECT_TRUE(MatchesReference(fc, data, std::max<int64_t>(37, batch))) << "batch " << batch;
  }
  const FullyConnectedLayer small("small", ImageShape{1, 1, 6}, 5, Implementation::kDirect);
  testing::LayerTestData data = MakeLayerTestData(small, 3, InputValues::kGaussian, 11);
  PruneWeights(RandomWeightMask(30, 0.4, 11), &data);
  const std::unique_ptr<LayerSparsity> sparsity = small.CreateSparsity(data.weight_mask, 3);
  data.sparsity = sparsity.get();
  EXPECT_TRUE(MatchesFiniteDifferences(small, data, 6));
}

// The checks themselves catch a wrong sparse structure: a mask that disagrees with the pruned weights (a kept
// weight the structure does not know) changes the outputs.
TEST_F(SparseLayersTest, ExactnessCheckCatchesAStructureForAnotherMask) {
  const FullyConnectedLayer fc("fc", ImageShape{1, 1, 37}, 45, Implementation::kDirect);
  testing::LayerTestData data = MakeLayerTestData(fc, 7, InputValues::kGaussian, 5);
  PruneWeights(RandomWeightMask(37 * 45, 0.5, 5), &data);
  const std::unique_ptr<LayerSparsity> other = fc.CreateSparsity(RandomWeightMask(37 * 45, 0.5, 6), 7);
  data.sparsity = other.get();
  EXPECT_FALSE(MatchesDenseExactly(fc, data));
}

TEST_F(SparseLayersTest, MixedKernelChoicesStayExact) {
  const ConvCase c = ConvCases()[3];
  const Conv2DLayer conv(c.name, c.input, DirectOptions(c));
  testing::LayerTestData data = MakeLayerTestData(conv, 7, InputValues::kGaussian, 9);
  PruneWeights(RandomWeightMask(static_cast<int64_t>(data.weights.size()), 0.1, 9), &data);
  std::unique_ptr<LayerSparsity> sparsity = conv.CreateSparsity(data.weight_mask, 8);
  for (const Product product : {Product::kForward, Product::kInputGradient, Product::kWeightGradient}) {
    sparsity->set_kernel(Product::kForward, 7, KernelKind::kSparse);
    sparsity->set_kernel(Product::kInputGradient, 7, KernelKind::kSparse);
    sparsity->set_kernel(Product::kWeightGradient, 7, KernelKind::kSparse);
    sparsity->set_kernel(product, 7, KernelKind::kDense);
    data.sparsity = sparsity.get();
    EXPECT_TRUE(MatchesDenseExactly(conv, data, product != Product::kWeightGradient))
        << ProductName(product) << " dense, the others sparse";
  }
}

TEST_F(SparseLayersTest, ReportsDensityAndBatchClasses) {
  const FullyConnectedLayer fc("fc", ImageShape{1, 1, 10}, 10, Implementation::kDirect);
  const std::unique_ptr<LayerSparsity> sparsity = fc.CreateSparsity(RandomWeightMask(100, 0.25, 1), 12);
  EXPECT_EQ(sparsity->kept_weights(), 25);
  EXPECT_DOUBLE_EQ(sparsity->density(), 0.25);
  EXPECT_EQ(sparsity->RepresentativeBatches(), (std::vector<int64_t>{1, 2, 4, 8}));
  sparsity->set_kernel(Product::kForward, 8, KernelKind::kDense);
  EXPECT_EQ(sparsity->kernel(Product::kForward, 12), KernelKind::kDense);  // 8..15 share a class.
  EXPECT_EQ(sparsity->kernel(Product::kForward, 7), KernelKind::kSparse);
}

}  // namespace
}  // namespace parsity::nn
