#include "training/nn/internal/sparse_kernels.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "training/nn/internal/direct_convolution.h"

namespace parsity::nn_internal {
namespace {

// Rows over a reduction of `reduction` indices, each index kept with probability `density` times a per-row factor
// (log-normal, mean 1, as SNIP's rows differ), so that rows range from empty to full. Weight indices as in a row-major
// rows x reduction matrix.
SparseRows RandomRows(int64_t rows, int64_t reduction, double density, std::mt19937_64& engine) {
  std::lognormal_distribution<double> factor(-0.5, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  SparseRows result;
  result.row_start.push_back(0);
  for (int64_t r = 0; r < rows; ++r) {
    const double row_density = density * factor(engine);
    for (int64_t k = 0; k < reduction; ++k) {
      if (uniform(engine) >= row_density) continue;
      result.offsets.push_back(static_cast<int32_t>(k));
      result.weight_index.push_back(static_cast<int32_t>(r * reduction + k));
    }
    result.row_start.push_back(static_cast<int32_t>(result.offsets.size()));
  }
  return result;
}

// The blocks hold every entry once, in its row's order, each block's rows from distinct source rows, most entries
// first, and blocks of kMinBlock or more indices (a multiple of 32) unless one block covers the reduction.
TEST(SparseRowBlocksTest, HoldEveryEntryOnceInRowOrder) {
  std::mt19937_64 engine(11);
  for (const int64_t reduction : {1, 9, 100, 300, 784}) {
    for (const double density : {0.01, 0.1, 0.5, 1.0}) {
      const SparseRows rows = RandomRows(45, reduction, density, engine);
      const SparseRowBlocks blocks = MakeSparseRowBlocks(rows, reduction);
      ASSERT_GE(blocks.block, 1);
      if (blocks.block < reduction) {
        EXPECT_GE(blocks.block, SparseRowBlocks::kMinBlock);
        EXPECT_EQ(blocks.block % 32, 0);
      }
      EXPECT_EQ(static_cast<int64_t>(blocks.block_start.size()) - 1, (reduction + blocks.block - 1) / blocks.block);
      EXPECT_EQ(blocks.entries(), rows.entries());
      ASSERT_EQ(static_cast<int64_t>(blocks.row_start.size()), blocks.rows() + 1);
      // Per source row, the (weight index, offset) pairs in the order the blocks hold them.
      std::vector<std::vector<std::pair<int32_t, int32_t>>> seen(rows.rows());
      for (size_t k = 0; k + 1 < blocks.block_start.size(); ++k) {
        std::set<int32_t> sources;
        for (int64_t r = blocks.block_start[k]; r < blocks.block_start[k + 1]; ++r) {
          const int32_t source = blocks.target_offset[r];
          EXPECT_TRUE(sources.insert(source).second) << "row " << source << " twice in block " << k;
          const int64_t length = blocks.row_start[r + 1] - blocks.row_start[r];
          EXPECT_GE(length, 1);
          if (r > blocks.block_start[k]) {
            EXPECT_LE(length, blocks.row_start[r] - blocks.row_start[r - 1]);
          }
          for (int64_t e = blocks.row_start[r]; e < blocks.row_start[r + 1]; ++e) {
            EXPECT_GE(blocks.entry[e].offset, static_cast<int64_t>(k) * blocks.block);
            EXPECT_LT(blocks.entry[e].offset, static_cast<int64_t>(k + 1) * blocks.block);
            seen[source].emplace_back(blocks.entry[e].weight_index, blocks.entry[e].offset);
          }
        }
      }
      for (int64_t o = 0; o < rows.rows(); ++o) {
        std::vector<std::pair<int32_t, int32_t>> want;
        for (int64_t e = rows.row_start[o]; e < rows.row_start[o + 1]; ++e) {
          want.emplace_back(rows.weight_index[e], rows.offsets[e]);
        }
        EXPECT_EQ(seen[o], want) << "reduction " << reduction << " density " << density << " row " << o;
      }
    }
  }
}

// SparseRowBlocksForward computes each row's chain of fused multiply-adds in the row's order: the same bits as
// std::fma in a plain loop, at one and two lane vectors (batches 1 to 32 as planes of `batch` floats), for rows from
// empty to full, blocks with a partial last group and reductions that end inside a block.
TEST(SparseRowBlocksTest, ForwardEqualsTheChainBitForBit) {
  if (!HasSparseKernels()) GTEST_SKIP() << "this build has no sparse kernels (no AVX-512)";
  std::mt19937_64 engine(12);
  std::normal_distribution<float> value(0.0f, 1.0f);
  for (const int64_t reduction : {1, 9, 100, 300, 784}) {
    for (const int64_t row_count : {1, 3, 45}) {
      for (const double density : {0.01, 0.1, 0.5, 1.0}) {
        const SparseRows rows = RandomRows(row_count, reduction, density, engine);
        const SparseRowBlocks blocks = MakeSparseRowBlocks(rows, reduction);
        std::vector<float> weights(row_count * reduction);
        for (float& w : weights) w = value(engine);
        for (const int64_t batch : {1, 2, 7, 16, 17, 32}) {
          const int64_t lane_vectors = (batch + 15) / 16;
          const int64_t plane = 16 * lane_vectors;
          std::vector<float> in(reduction * batch + kPlanarTail);
          for (float& x : in) x = value(engine);
          std::vector<float> start(row_count * plane);
          for (float& x : start) x = value(engine);
          std::vector<float> out = start;
          SparseRowBlocksForward(blocks, weights.data(), in.data(), batch, lane_vectors, out.data(), plane);
          for (int64_t o = 0; o < row_count; ++o) {
            for (int64_t q = 0; q < batch; ++q) {
              float want = start[o * plane + q];
              for (int64_t e = rows.row_start[o]; e < rows.row_start[o + 1]; ++e) {
                want = std::fma(weights[rows.weight_index[e]], in[rows.offsets[e] * batch + q], want);
              }
              ASSERT_EQ(out[o * plane + q], want) << "reduction " << reduction << " rows " << row_count
                                                  << " density " << density << " batch " << batch << " row " << o
                                                  << " lane " << q;
            }
          }
        }
      }
    }
  }
}

// Whether the blocks pay follows the rows' mean length: LeNet-300-100's first layer at SNIP's 7.6% (22 entries per
// row of a block) pays; a 300 x 100 layer at 2% (2 entries per row) does not.
TEST(SparseRowBlocksTest, PayWhenRowsAreLongEnough) {
  std::mt19937_64 engine(13);
  EXPECT_TRUE(MakeSparseRowBlocks(RandomRows(300, 784, 0.076, engine), 784).pays());
  EXPECT_FALSE(MakeSparseRowBlocks(RandomRows(300, 100, 0.02, engine), 100).pays());
  EXPECT_FALSE(MakeSparseRowBlocks(RandomRows(10, 50, 0.0, engine), 50).pays());
}

// The packed layout holds each kept weight once, in the dense kernel's walk (blocks of 64 outputs, inputs, outputs);
// the dense_packed kernels give the dense kernels' values bit for bit on the kept entries (forward from the biases,
// weight gradient written and then added), for odd shapes (blocks of 1-4 vectors, a partial last vector), densities
// from 0.01 to 1 and batches of one row tile, several and partial tiles and several gradient passes; nothing past the
// packed gradient's kept entries is written.
TEST(PackedDenseTest, KernelsGiveTheDenseKernelsValuesBitForBit) {
  if (!HasSparseKernels()) GTEST_SKIP() << "this build has no sparse kernels (no AVX-512)";
  std::mt19937_64 engine(14);
  std::normal_distribution<float> value(0.0f, 1.0f);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const std::pair<int64_t, int64_t> shapes[] = {{784, 300}, {37, 70}, {5, 16}, {100, 10}, {9, 129}};
  for (const auto& [in, out] : shapes) {
    for (const double density : {0.01, 0.3, 0.5, 1.0}) {
      std::vector<float> mask(in * out), weights(in * out), biases(out);
      for (int64_t k = 0; k < in * out; ++k) {
        mask[k] = uniform(engine) < density ? 1.0f : 0.0f;
        weights[k] = mask[k] != 0.0f ? value(engine) : 0.0f;
      }
      for (float& b : biases) b = value(engine);
      const PackedDenseLayout layout = MakePackedDenseLayout(in, out, mask.data());
      int64_t kept = 0;
      for (const float m : mask) kept += m != 0.0f ? 1 : 0;
      ASSERT_EQ(layout.kept_weights(), kept);
      // The walk: blocks of 64 outputs, inputs ascending, outputs ascending.
      auto walk_before = [&](int32_t a, int32_t b) {
        const int64_t block_a = (a % out) / 64, block_b = (b % out) / 64;
        return block_a != block_b ? block_a < block_b : a < b;
      };
      for (int64_t p = 0; p < kept; ++p) {
        ASSERT_NE(mask[layout.weight_index[p]], 0.0f);
        if (p > 0) {
          ASSERT_TRUE(walk_before(layout.weight_index[p - 1], layout.weight_index[p])) << "position " << p;
        }
      }
      std::vector<float> packed_weights(kept);
      for (int64_t p = 0; p < kept; ++p) packed_weights[p] = weights[layout.weight_index[p]];
      for (const int64_t batch : {1, 2, 7, 16, 39, 256}) {
        std::vector<float> input(batch * in), output_gradient(batch * out);
        for (float& x : input) x = value(engine);
        for (float& x : output_gradient) x = value(engine);
        const ConvolutionGeometry geometry = BatchRowGeometry(batch, in, out);
        std::vector<float> dense_output(batch * out), packed_output(batch * out, -1.0f);
        DirectConvolutionForward(geometry, 1, input.data(), weights.data(), biases.data(), dense_output.data());
        PackedDenseForward(layout, batch, input.data(), packed_weights.data(), biases.data(), packed_output.data());
        for (int64_t k = 0; k < batch * out; ++k) {
          ASSERT_EQ(packed_output[k], dense_output[k])
              << in << " x " << out << " density " << density << " batch " << batch << " output " << k;
        }
        // Written, then added to (the second pass over the same batch), past the end a sentinel.
        std::vector<float> dense_gradient(in * out), packed_gradient(kept + 16, std::nanf(""));
        for (const bool overwrite : {true, false}) {
          DirectConvolutionWeightGradient(geometry, 1, input.data(), output_gradient.data(), overwrite,
                                          dense_gradient.data());
          PackedDenseWeightGradient(layout, batch, input.data(), output_gradient.data(), overwrite,
                                    packed_gradient.data());
          for (int64_t p = 0; p < kept; ++p) {
            ASSERT_EQ(packed_gradient[p], dense_gradient[layout.weight_index[p]])
                << in << " x " << out << " density " << density << " batch " << batch << " overwrite " << overwrite
                << " position " << p;
          }
          for (int64_t p = kept; p < kept + 16; ++p) ASSERT_TRUE(std::isnan(packed_gradient[p])) << "position " << p;
        }
      }
    }
  }
}

// Batch lanes hold image i's element (c, y, x) at ((c * plane + y' * phase_width + x') * 16 + i), padded coordinates,
// channel planes an odd number of lines apart; the copy back drops the padding, adds when asked, and the copy in
// leaves padding lanes alone. Channel counts 1 (the row-at-a-time path), 5 (partial transpose tiles) and 19 (a full
// tile and a partial one).
TEST(BatchLanesTest, CopiesImagesInAndOutThroughThePaddedLayout) {
  std::mt19937_64 engine(5);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (const int64_t channels : {1, 5, 19}) {
    const PlanarGeometry planar = MakePlanarGeometry(/*height=*/4, /*width=*/6, channels, /*pad_top=*/1, /*pad_left=*/2,
                                                     /*padded_height=*/6, /*padded_width=*/9, /*stride=*/1);
    const PlanarGeometry g = BatchLaneGeometry(planar);
    EXPECT_EQ(g.plane % 2, 1);
    EXPECT_GE(g.plane, planar.plane);
    const int64_t image = 4 * 6 * channels;
    std::vector<float> images(kBatchLanes * image);
    for (float& v : images) v = value(engine);
    constexpr float kUntouched = 1234.5f;
    std::vector<float> lanes(BatchLaneFloats(g), kUntouched);
    ToBatchLanes(g, images.data(), lanes.data());
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t y = 0; y < 6; ++y) {
        for (int64_t x = 0; x < 9; ++x) {
          const bool source = y >= 1 && y < 5 && x >= 2 && x < 8;
          for (int64_t i = 0; i < kBatchLanes; ++i) {
            const float held = lanes[(c * g.plane + y * g.phase_width + x) * kBatchLanes + i];
            if (source) {
              ASSERT_EQ(held, images[i * image + ((y - 1) * 6 + x - 2) * channels + c])
                  << "channels " << channels << " c " << c << " y " << y << " x " << x << " image " << i;
            } else {
              ASSERT_EQ(held, kUntouched) << "padding written: channels " << channels;
            }
          }
        }
      }
    }
    std::vector<float> back(images.size(), 7.0f);
    FromBatchLanes(g, lanes.data(), /*accumulate=*/false, back.data());
    EXPECT_EQ(back, images) << "channels " << channels;
    FromBatchLanes(g, lanes.data(), /*accumulate=*/true, back.data());
    for (size_t k = 0; k < images.size(); ++k) ASSERT_EQ(back[k], images[k] + images[k]);
  }
}

}  // namespace
}  // namespace parsity::nn_internal
