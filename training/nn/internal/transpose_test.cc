#include "training/nn/internal/transpose.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "training/nn/internal/direct_convolution.h"

namespace parsity::nn_internal {
namespace {

// A transpose copies (or adds once), so the bits must equal a plain loop's, for shapes with and without partial
// 16 x 16 tiles, inside strided source and destination rows, and nothing outside the destination's columns may change.
TEST(TransposeTest, EqualsPlainLoopsBitForBit) {
  std::mt19937_64 engine(3);
  std::normal_distribution<float> value(0.0f, 2.0f);
  for (const int64_t rows : {1, 7, 16, 17, 33, 300}) {
    for (const int64_t columns : {1, 10, 16, 31, 100}) {
      const int64_t source_stride = columns + 3;
      const int64_t destination_stride = rows + 5;
      std::vector<float> source(rows * source_stride);
      for (float& x : source) x = value(engine);
      std::vector<float> start(columns * destination_stride);
      for (float& x : start) x = value(engine);
      std::vector<float> copied = start, added = start, want_copied = start, want_added = start;
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t j = 0; j < columns; ++j) {
          want_copied[j * destination_stride + i] = source[i * source_stride + j];
          want_added[j * destination_stride + i] += source[i * source_stride + j];
        }
      }
      Transpose<false>(source.data(), rows, columns, source_stride, copied.data(), destination_stride);
      Transpose<true>(source.data(), rows, columns, source_stride, added.data(), destination_stride);
      EXPECT_EQ(std::memcmp(copied.data(), want_copied.data(), sizeof(float) * copied.size()), 0)
          << rows << " x " << columns << ", copied";
      EXPECT_EQ(std::memcmp(added.data(), want_added.data(), sizeof(float) * added.size()), 0)
          << rows << " x " << columns << ", added";
    }
  }
}

// TransposeWeights lays out each kernel row's (kernel * in_channels) x out_channels matrix transposed.
TEST(TransposeWeightsTest, TransposesEachKernelRow) {
  for (const auto& [kernel, in_channels, out_channels] :
       std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 300, 100}, {1, 784, 300}, {5, 32, 64}, {3, 3, 17}}) {
    ConvolutionGeometry geometry;
    geometry.kernel = kernel;
    geometry.in_channels = in_channels;
    geometry.out_channels = out_channels;
    const int64_t kernel_row = kernel * in_channels;
    std::vector<float> weights(kernel * kernel_row * out_channels);
    for (size_t n = 0; n < weights.size(); ++n) weights[n] = static_cast<float>(n);
    std::vector<float> transposed(weights.size(), -1.0f);
    TransposeWeights(geometry, weights.data(), transposed.data());
    for (int64_t ky = 0; ky < kernel; ++ky) {
      for (int64_t j = 0; j < kernel_row; ++j) {
        for (int64_t o = 0; o < out_channels; ++o) {
          ASSERT_EQ(transposed[(ky * out_channels + o) * kernel_row + j],
                    weights[(ky * kernel_row + j) * out_channels + o])
              << "kernel " << kernel << ", row " << ky << ", j " << j << ", o " << o;
        }
      }
    }
  }
}

}  // namespace
}  // namespace parsity::nn_internal
