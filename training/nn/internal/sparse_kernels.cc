#include "training/nn/internal/sparse_kernels.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "training/nn/internal/register_tiles.h"
#include "training/nn/internal/transpose.h"
#include "training/nn/internal/vector_ops.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace parsity::nn_internal {

PlanarGeometry MakePlanarGeometry(int64_t height, int64_t width, int64_t channels, int64_t pad_top, int64_t pad_left,
                                  int64_t padded_height, int64_t padded_width, int64_t stride) {
  PlanarGeometry g;
  g.height = height;
  g.width = width;
  g.channels = channels;
  g.pad_top = pad_top;
  g.pad_left = pad_left;
  g.stride = stride;
  g.phase_height = (padded_height + stride - 1) / stride;
  g.phase_width = (padded_width + stride - 1) / stride;
  g.plane = g.phase_height * g.phase_width;
  g.image = stride * stride * channels * g.plane + kPlanarTail;
  return g;
}

int64_t LaneVectors(const PlanarGeometry& g, int64_t out_height, int64_t out_width) {
  const int64_t lanes = (out_height - 1) * g.phase_width + out_width;
  return (lanes + 15) / 16;
}

namespace {

// Copies (or adds) the source pixels of planar images to or from NHWC images, row by row and phase by phase.
template <bool kToPlanar, bool kAccumulate>
void PlanarCopy(const PlanarGeometry& g, const float* planar_in, float* planar_out, const float* images_in,
                float* images_out, int64_t batch) {
  const int64_t s = g.stride;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t image_offset = b * g.height * g.width * g.channels;
    for (int64_t y = 0; y < g.height; ++y) {
      const int64_t py = (y + g.pad_top) % s;
      const int64_t row = (y + g.pad_top) / s;
      for (int64_t px = 0; px < s; ++px) {
        // Source columns x with (x + pad_left) % s == px: the first, then every s-th.
        const int64_t first = ((px - g.pad_left) % s + s) % s;
        if (first >= g.width) continue;
        const int64_t count = (g.width - first + s - 1) / s;
        const int64_t column = (first + g.pad_left) / s;
        const int64_t pixel = image_offset + (y * g.width + first) * g.channels;
        const int64_t plane_offset = b * g.image + (py * s + px) * g.channels * g.plane + row * g.phase_width + column;
        if constexpr (kToPlanar) {
          Transpose<false>(images_in + pixel, count, g.channels, s * g.channels, planar_out + plane_offset, g.plane);
        } else {
          Transpose<kAccumulate>(planar_in + plane_offset, g.channels, count, g.plane, images_out + pixel,
                                 s * g.channels);
        }
      }
    }
  }
}

}  // namespace

void ToPlanar(const PlanarGeometry& g, const float* images, int64_t batch, float* planar) {
  for (int64_t b = 0; b < batch; ++b) {
    // Only the padding and the tail need zeros when the image fills its planes exactly.
    const bool dense_fit = g.stride == 1 && g.pad_top == 0 && g.pad_left == 0 && g.phase_height == g.height &&
                           g.phase_width == g.width;
    if (dense_fit) {
      std::memset(planar + b * g.image + g.channels * g.plane, 0, sizeof(float) * (g.image - g.channels * g.plane));
    } else {
      std::memset(planar + b * g.image, 0, sizeof(float) * g.image);
    }
  }
  CopyToPlanar(g, images, batch, planar);
}

void CopyToPlanar(const PlanarGeometry& g, const float* images, int64_t batch, float* planar) {
  PlanarCopy<true, false>(g, nullptr, planar, images, nullptr, batch);
}

void FromPlanar(const PlanarGeometry& g, const float* planar, int64_t batch, bool accumulate, float* images) {
  if (accumulate) {
    PlanarCopy<false, true>(g, planar, nullptr, nullptr, images, batch);
  } else {
    PlanarCopy<false, false>(g, planar, nullptr, nullptr, images, batch);
  }
}

void ToPlanes(const float* image, int64_t out_height, int64_t out_width, int64_t channels, int64_t row, int64_t plane,
              float* planes) {
  for (int64_t oy = 0; oy < out_height; ++oy) {
    Transpose<false>(image + oy * out_width * channels, out_width, channels, channels, planes + oy * row, plane);
  }
}

void FromPlanes(const float* planes, int64_t out_height, int64_t out_width, int64_t channels, int64_t row,
                int64_t plane, bool accumulate, float* image) {
  for (int64_t oy = 0; oy < out_height; ++oy) {
    if (accumulate) {
      Transpose<true>(planes + oy * row, channels, out_width, plane, image + oy * out_width * channels, channels);
    } else {
      Transpose<false>(planes + oy * row, channels, out_width, plane, image + oy * out_width * channels, channels);
    }
  }
}

PlanarGeometry BatchLaneGeometry(const PlanarGeometry& g) {
  PlanarGeometry lanes = g;
  lanes.plane = g.plane | 1;
  lanes.image = BatchLaneFloats(lanes);
  return lanes;
}

void ToBatchLanes(const PlanarGeometry& g, const float* images, float* lanes) {
  const int64_t image = g.height * g.width * g.channels;
  if (g.channels == 1) {  // A row of every image at once: whole 16 x 16 tiles instead of one column per pixel.
    for (int64_t y = 0; y < g.height; ++y) {
      Transpose<false>(images + y * g.width, kBatchLanes, g.width, image,
                       lanes + ((y + g.pad_top) * g.phase_width + g.pad_left) * kBatchLanes, kBatchLanes);
    }
    return;
  }
  for (int64_t y = 0; y < g.height; ++y) {
    for (int64_t x = 0; x < g.width; ++x) {
      Transpose<false>(images + (y * g.width + x) * g.channels, kBatchLanes, g.channels, image,
                       lanes + ((y + g.pad_top) * g.phase_width + x + g.pad_left) * kBatchLanes,
                       g.plane * kBatchLanes);
    }
  }
}

void FromBatchLanes(const PlanarGeometry& g, const float* lanes, bool accumulate, float* images) {
  const int64_t image = g.height * g.width * g.channels;
  for (int64_t y = 0; y < g.height; ++y) {
    for (int64_t x = 0; x < g.width; ++x) {
      const float* source = lanes + ((y + g.pad_top) * g.phase_width + x + g.pad_left) * kBatchLanes;
      float* destination = images + (y * g.width + x) * g.channels;
      if (accumulate) {
        Transpose<true>(source, g.channels, kBatchLanes, g.plane * kBatchLanes, destination, image);
      } else {
        Transpose<false>(source, g.channels, kBatchLanes, g.plane * kBatchLanes, destination, image);
      }
    }
  }
}

int64_t LayOutSparseScratch(const SparseScratchSizes& sizes, float* scratch, SparseScratch* regions) {
  int64_t offset = 0;
  auto take = [&](int64_t floats, float** region) {
    if (regions != nullptr) *region = floats > 0 ? scratch + offset : nullptr;
    offset += (floats + 15) / 16 * 16;
  };
  SparseScratch unused;
  SparseScratch& out = regions != nullptr ? *regions : unused;
  take(sizes.padded_input, &out.padded_input);
  take(sizes.planar, &out.planar);
  take(sizes.planes, &out.planes);
  take(sizes.values, &out.values);
  take(sizes.zeros, &out.zeros);
  return offset;
}

void PackValues(const SparseRows& rows, const float* weights, float* values) {
  const int64_t entries = rows.entries();
  const int32_t* index = rows.weight_index.data();
  for (int64_t e = 0; e < entries; ++e) values[e] = weights[index[e]];
}

SparseLines MakeSparseLines(int64_t in, int64_t out, const float* weight_mask) {
  SparseLines lines;
  lines.in = in;
  lines.out = out;
  lines.block_start.push_back(0);
  for (int64_t first = 0; first < out; first += 16) {
    for (int64_t i = 0; i < in; ++i) {
      uint16_t kept = 0;
      for (int64_t lane = 0; lane < 16 && first + lane < out; ++lane) {
        if (weight_mask[i * out + first + lane] != 0.0f) kept = static_cast<uint16_t>(kept | (1u << lane));
      }
      if (kept == 0) continue;
      lines.line.push_back({static_cast<int32_t>(i * out + first), static_cast<int32_t>(i), kept});
    }
    lines.block_start.push_back(static_cast<int32_t>(lines.line.size()));
  }
  return lines;
}

PackedDenseLayout MakePackedDenseLayout(int64_t in, int64_t out, const float* weight_mask) {
  PackedDenseLayout layout;
  layout.in = in;
  layout.out = out;
  for (int64_t first = 0; first < out; first += 64) {
    const int64_t vectors = (std::min<int64_t>(64, out - first) + 15) / 16;
    for (int64_t i = 0; i <= in; ++i) {
      layout.row_start.push_back(static_cast<int32_t>(layout.weight_index.size()));
      if (i == in) break;
      for (int64_t v = 0; v < vectors; ++v) {
        uint16_t kept = 0;
        for (int64_t lane = 0; lane < 16 && first + 16 * v + lane < out; ++lane) {
          const int64_t index = i * out + first + 16 * v + lane;
          if (weight_mask[index] == 0.0f) continue;
          kept = static_cast<uint16_t>(kept | (1u << lane));
          layout.weight_index.push_back(static_cast<int32_t>(index));
        }
        layout.kept.push_back(kept);
      }
    }
  }
  return layout;
}

#if !defined(__AVX512F__)

bool HasSparseKernels() { return false; }
void SparseRowsForward(const SparseRows&, const float*, const float*, int64_t, int64_t, const float*, float*,
                       int64_t) {}
void SparseRowsScatter(const SparseRows&, const float*, const float*, int64_t, float*) {}
void SparseRowsForwardBatchLanes(const SparseRows&, const float*, const float*, int64_t, int64_t, int64_t,
                                 const float*, float*, float*) {}
void SparseRowsScatterBatchLanes(const SparseRows&, const std::vector<int32_t>&, const float*, const float*, int64_t,
                                 int64_t, int64_t, float*) {}
void SparseRowsAccumulate(const SparseRows&, const float*, const float*, int64_t, int64_t, float*, int64_t) {}
void SparseRowBlocksForward(const SparseRowBlocks&, const float*, const float*, int64_t, int64_t, float*, int64_t) {}
void SparseWeightGradient(const ConvolutionGeometry&, int64_t, const float*, const float*,
                          const SparseWeightGradientPlan&, bool, float*) {}
void SparseLinesForward(const SparseLines&, int64_t, const float*, const float*, const float*, float*) {}
void SparseLinesWeightGradient(const SparseLines&, int64_t, const float*, const float*, bool, float*) {}
void PackedDenseForward(const PackedDenseLayout&, int64_t, const float*, const float*, const float*, float*) {}
void PackedDenseWeightGradient(const PackedDenseLayout&, int64_t, const float*, const float*, bool, float*) {}

#else

bool HasSparseKernels() { return true; }

namespace {

// Vectors of 16 lanes per register tile: T independent accumulator chains.
constexpr int64_t kMaxTileVectors = 8;
// Entry vectors of the weight-gradient kernel handled per pass over the pixels.
constexpr int64_t kMaxGroupVectors = 8;

inline __mmask16 LaneMask(int64_t n) {
  if (n <= 0) return 0;
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// The two non-negative 32-bit indices at the start of `record` (offsets 0 and 4) with one 8-byte load instead of two
// 4-byte ones: a kept weight's weight index and reduction index, a line's weight offset and input row. The kernels'
// address arithmetic is load-bound, so the load saved per kept weight or line shows (below).
struct IndexPair {
  int64_t first;
  int64_t second;
};
template <typename Record>
inline IndexPair LoadIndexPair(const Record& record) {
  static_assert(sizeof(Record) >= sizeof(uint64_t));
  uint64_t both;
  std::memcpy(&both, &record, sizeof both);  // Little-endian: the field at offset 0 is the low half.
  return {static_cast<uint32_t>(both), static_cast<int64_t>(both >> 32)};
}

// Splits `length` into tiles of at most `max_tile` of near-equal size; returns the size of the first tiles.
inline int64_t BalancedTile(int64_t length, int64_t max_tile) {
  const int64_t tiles = (length + max_tile - 1) / max_tile;
  return (length + tiles - 1) / tiles;
}

template <int T>
inline void ForwardTile(const int32_t* offsets, const float* values, int64_t begin, int64_t end, const float* in,
                        int64_t scale, const float* bias, float* out) {
  __m512 acc[T];
  if (bias != nullptr) {
    const __m512 start = _mm512_set1_ps(*bias);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[t] = start;
  } else {
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[t] = _mm512_loadu_ps(out + 16 * t);
  }
  for (int64_t e = begin; e < end; ++e) {
    const float* x = in + offsets[e] * scale;
    const __m512 w = _mm512_set1_ps(values[e]);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[t] = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 16 * t), acc[t]);
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

template <int T>
inline void ScatterTile(const int32_t* offsets, const float* values, int64_t begin, int64_t end, const float* in,
                        float* target) {
  __m512 acc[T];
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t e = begin; e < end; ++e) {
    const float* x = in + offsets[e];
    const __m512 w = _mm512_set1_ps(values[e]);
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[t] = _mm512_fmadd_ps(_mm512_loadu_ps(x + 16 * t), w, acc[t]);
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; ++t) _mm512_storeu_ps(target + 16 * t, _mm512_add_ps(_mm512_loadu_ps(target + 16 * t), acc[t]));
}

// The start of a vector's 16 entry chains: the entries' values when adding to the gradient, +0 when writing it (what a
// zeroed buffer would hold). Unused lanes (weight index -1) are never read. `contiguous`: see
// SparseWeightGradientPlan (one masked load from the first lane's entry).
inline __m512 EntryChainsStart(const int32_t* weight_index, bool contiguous, bool overwrite,
                               const float* weight_gradient) {
  if (overwrite) return _mm512_setzero_ps();
  const __m512i entry = _mm512_loadu_si512(weight_index);
  const __mmask16 used = _mm512_cmpge_epi32_mask(entry, _mm512_setzero_si512());
  if (contiguous) return _mm512_maskz_loadu_ps(used, weight_gradient + weight_index[0]);
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), used, entry, weight_gradient, 4);
}

// Stores a vector's 16 chains into their entries; unused lanes are not written.
inline void StoreEntryChains(const int32_t* weight_index, bool contiguous, __m512 chains, float* weight_gradient) {
  const __m512i entry = _mm512_loadu_si512(weight_index);
  const __mmask16 used = _mm512_cmpge_epi32_mask(entry, _mm512_setzero_si512());
  if (contiguous) {
    // A vector scatter costs several times a store on these machines (LeNet-300-100's first layer: training/README.md).
    _mm512_mask_storeu_ps(weight_gradient + weight_index[0], used, chains);
    return;
  }
  _mm512_mask_i32scatter_ps(weight_gradient, used, entry, chains, 4);
}

// The weight-gradient kernels' walk over images, output rows and output pixels, in floats of the padded NHWC input and
// of the NHWC output gradient. The strides are hoisted and the pointers advanced by them: with the offsets recomputed
// per pixel, GCC 12 kept the pixel's rows and index vectors on the stack and reloaded them for every permute (the
// kept-entry weight gradient of LeNet-300-100's first layer at batch 32: 7-10% slower).
struct PixelWalk {
  explicit PixelWalk(const ConvolutionGeometry& g)
      : out_height(g.out_height),
        out_width(g.out_width),
        input_row(g.padded_width * g.in_channels),
        input_image(g.padded_height * input_row),
        input_row_step(g.stride * input_row),
        input_pixel_step(g.stride * g.in_channels),
        gradient_pixel_step(g.out_channels),
        gradient_row_step(g.out_width * gradient_pixel_step),
        gradient_image_step(g.out_height * gradient_row_step) {}

  // pixel(a, d) for every output pixel of `batch` images, in image, row, column order: `a` the pixel's window in the
  // padded input (from `input`, the first image's window origin), `d` its output gradient (from `gradient`).
  template <typename PixelFunction>
  void ForEachPixel(int64_t batch, const float* input, const float* gradient, PixelFunction pixel) const {
    for (int64_t image = 0; image < batch; ++image) {
      const float* input_row_start = input + image * input_image;
      const float* gradient_row_start = gradient + image * gradient_image_step;
      for (int64_t oy = 0; oy < out_height;
           ++oy, input_row_start += input_row_step, gradient_row_start += gradient_row_step) {
        const float* a = input_row_start;
        const float* d = gradient_row_start;
        for (int64_t ox = 0; ox < out_width; ++ox, a += input_pixel_step, d += gradient_pixel_step) pixel(a, d);
      }
    }
  }

  int64_t out_height;
  int64_t out_width;
  int64_t input_row;  // One padded input row.
  int64_t input_image;
  int64_t input_row_step;  // From one output row's window to the next.
  int64_t input_pixel_step;
  int64_t gradient_pixel_step;
  int64_t gradient_row_step;
  int64_t gradient_image_step;
};

// The G vectors of one block: the pixel's 32 inputs and 32 output gradients loaded once for all of them.
template <int G>
inline void WeightGradientGroup(const ConvolutionGeometry& g, int64_t batch, const float* padded_input,
                                const float* output_gradient, const SparseWeightGradientPlan::Block& block,
                                const int32_t* input_lane, const int32_t* output_lane, const int32_t* weight_index,
                                bool contiguous, bool overwrite, float* weight_gradient) {
  const __mmask16 in_low = LaneMask(block.j_count), in_high = LaneMask(block.j_count - 16);
  const __mmask16 out_low = LaneMask(block.o_count), out_high = LaneMask(block.o_count - 16);
  __m512 acc[G];
  __m512i input_index[G], output_index[G];
#pragma GCC unroll 8
  for (int v = 0; v < G; ++v) {
    acc[v] = EntryChainsStart(weight_index + 16 * v, contiguous, overwrite, weight_gradient);
    input_index[v] = _mm512_loadu_si512(input_lane + 16 * v);
    output_index[v] = _mm512_loadu_si512(output_lane + 16 * v);
  }
  const PixelWalk walk(g);
  walk.ForEachPixel(batch, padded_input + block.ky * walk.input_row + block.j0, output_gradient + block.o0,
                    [&](const float* a, const float* d) {
                      __m512 a0 = _mm512_maskz_loadu_ps(in_low, a);
                      __m512 a1 = _mm512_maskz_loadu_ps(in_high, a + 16);
                      __m512 d0 = _mm512_maskz_loadu_ps(out_low, d);
                      __m512 d1 = _mm512_maskz_loadu_ps(out_high, d + 16);
                      // Pins the four rows to registers: without it GCC 12 stored two of them to the stack every
                      // pixel to use them as the permutes' memory operands (4% of this kernel's time).
                      asm("" : "+v"(a0), "+v"(a1), "+v"(d0), "+v"(d1));
#pragma GCC unroll 8
                      for (int v = 0; v < G; ++v) {
                        acc[v] = _mm512_fmadd_ps(_mm512_permutex2var_ps(a0, input_index[v], a1),
                                                 _mm512_permutex2var_ps(d0, output_index[v], d1), acc[v]);
                      }
                    });
#pragma GCC unroll 8
  for (int v = 0; v < G; ++v) StoreEntryChains(weight_index + 16 * v, contiguous, acc[v], weight_gradient);
}

// The vectors of one group: each its own block's inputs (the group's lane masks), all the same output gradients.
template <int K>
inline void WeightGradientVectors(const ConvolutionGeometry& g, int64_t batch, const float* padded_input,
                                  const float* output_gradient, const SparseWeightGradientPlan& plan,
                                  const SparseWeightGradientPlan::Group& group, bool overwrite,
                                  float* weight_gradient) {
  const __mmask16 in_low = LaneMask(group.j_count), in_high = LaneMask(group.j_count - 16);
  const __mmask16 out_low = LaneMask(group.o_count), out_high = LaneMask(group.o_count - 16);
  __m512 acc[K];
  __m512i input_index[K], output_index[K];
  int64_t input_offset[K];
#pragma GCC unroll 8
  for (int k = 0; k < K; ++k) {
    const int64_t vector = group.vector[k];
    acc[k] = EntryChainsStart(plan.weight_index.data() + 16 * vector, plan.contiguous, overwrite, weight_gradient);
    input_index[k] = _mm512_loadu_si512(plan.input_lane.data() + 16 * vector);
    output_index[k] = _mm512_loadu_si512(plan.output_lane.data() + 16 * vector);
    input_offset[k] = group.input_offset[k];
  }
  const PixelWalk walk(g);
  walk.ForEachPixel(batch, padded_input, output_gradient + group.o0, [&](const float* a, const float* d) {
    const __m512 d0 = _mm512_maskz_loadu_ps(out_low, d);
    const __m512 d1 = _mm512_maskz_loadu_ps(out_high, d + 16);
#pragma GCC unroll 8
    for (int k = 0; k < K; ++k) {
      const __m512 a0 = _mm512_maskz_loadu_ps(in_low, a + input_offset[k]);
      const __m512 a1 = _mm512_maskz_loadu_ps(in_high, a + input_offset[k] + 16);
      acc[k] = _mm512_fmadd_ps(_mm512_permutex2var_ps(a0, input_index[k], a1),
                               _mm512_permutex2var_ps(d0, output_index[k], d1), acc[k]);
    }
  });
#pragma GCC unroll 8
  for (int k = 0; k < K; ++k) {
    StoreEntryChains(plan.weight_index.data() + 16 * group.vector[k], plan.contiguous, acc[k], weight_gradient);
  }
}

template <template <int> class Kernel, int N, typename... Arguments>
inline void DispatchCount(int64_t count, Arguments&&... arguments) {
  if constexpr (N > 1) {
    if (count < N) {
      DispatchCount<Kernel, N - 1>(count, arguments...);
      return;
    }
  }
  Kernel<N>::Run(arguments...);
}

template <int T>
struct ForwardKernel {
  static void Run(const int32_t* offsets, const float* values, int64_t begin, int64_t end, const float* in,
                  int64_t scale, const float* bias, float* out) {
    ForwardTile<T>(offsets, values, begin, end, in, scale, bias, out);
  }
};

template <int T>
struct ScatterKernel {
  static void Run(const int32_t* offsets, const float* values, int64_t begin, int64_t end, const float* in,
                  float* target) {
    ScatterTile<T>(offsets, values, begin, end, in, target);
  }
};

template <int G>
struct WeightGradientKernel {
  static void Run(const ConvolutionGeometry& g, int64_t batch, const float* padded_input, const float* output_gradient,
                  const SparseWeightGradientPlan::Block& block, const int32_t* input_lane, const int32_t* output_lane,
                  const int32_t* weight_index, bool contiguous, bool overwrite, float* weight_gradient) {
    WeightGradientGroup<G>(g, batch, padded_input, output_gradient, block, input_lane, output_lane, weight_index,
                           contiguous, overwrite, weight_gradient);
  }
};

template <int K>
struct WeightGradientVectorsKernel {
  static void Run(const ConvolutionGeometry& g, int64_t batch, const float* padded_input, const float* output_gradient,
                  const SparseWeightGradientPlan& plan, const SparseWeightGradientPlan::Group& group, bool overwrite,
                  float* weight_gradient) {
    WeightGradientVectors<K>(g, batch, padded_input, output_gradient, plan, group, overwrite, weight_gradient);
  }
};

}  // namespace

void SparseRowsForward(const SparseRows& rows, const float* values, const float* in, int64_t scale,
                       int64_t lane_vectors, const float* biases, float* out, int64_t out_plane) {
  const int64_t tile = BalancedTile(lane_vectors, kMaxTileVectors);
  const int32_t* row_start = rows.row_start.data();
  const int32_t* offsets = rows.offsets.data();
  // Lane tiles outside, rows inside: every row of a tile reads the same window of a convolution's planar image, which
  // then stays in L1 (rows outside swept the whole image once per row).
  for (int64_t v = 0; v < lane_vectors; v += tile) {
    for (int64_t r = 0; r < rows.rows(); ++r) {
      float* out_row = out + r * out_plane;
      DispatchCount<ForwardKernel, kMaxTileVectors>(std::min(tile, lane_vectors - v), offsets, values, row_start[r],
                                                    row_start[r + 1], in + 16 * v, scale,
                                                    biases != nullptr ? biases + r : nullptr, out_row + 16 * v);
    }
  }
}

void SparseRowsForwardBatchLanes(const SparseRows& rows, const float* values, const float* lanes, int64_t in_row,
                                 int64_t out_height, int64_t out_width, const float* biases, float* band,
                                 float* images) {
  const int64_t tile = BalancedTile(out_width, kMaxTileVectors);
  const int64_t channels = rows.rows();
  const int64_t band_row = BatchLaneBandRow(out_width);
  const int64_t image = out_height * out_width * channels;
  const int32_t* row_start = rows.row_start.data();
  const int32_t* offsets = rows.offsets.data();
  for (int64_t oy = 0; oy < out_height; ++oy) {
    // Pixel tiles outside, rows inside, as SparseRowsForward: the rows of a tile read the same input window.
    for (int64_t ox = 0; ox < out_width; ox += tile) {
      const float* window = lanes + (oy * in_row + ox) * kBatchLanes;
      for (int64_t r = 0; r < channels; ++r) {
        DispatchCount<ForwardKernel, kMaxTileVectors>(std::min(tile, out_width - ox), offsets, values, row_start[r],
                                                      row_start[r + 1], window, kBatchLanes, biases + r,
                                                      band + (r * band_row + ox) * kBatchLanes);
      }
    }
    for (int64_t ox = 0; ox < out_width; ++ox) {
      Transpose<false>(band + ox * kBatchLanes, channels, kBatchLanes, band_row * kBatchLanes,
                       images + (oy * out_width + ox) * channels, image);
    }
  }
}

void SparseRowsAccumulate(const SparseRows& rows, const float* weights, const float* in, int64_t scale,
                          int64_t lane_vectors, float* out, int64_t out_plane) {
  const int32_t* row_start = rows.row_start.data();
  const int32_t* offsets = rows.offsets.data();
  const int32_t* index = rows.weight_index.data();
  for (int64_t r = 0; r < rows.rows(); ++r) {
    const float* x = in + r * scale;
    if (lane_vectors == 1) {
      const __m512 x0 = _mm512_loadu_ps(x);
      for (int64_t e = row_start[r]; e < row_start[r + 1]; ++e) {
        float* target = out + offsets[e] * out_plane;
        _mm512_storeu_ps(target, _mm512_fmadd_ps(_mm512_set1_ps(weights[index[e]]), x0, _mm512_loadu_ps(target)));
      }
    } else {
      const __m512 x0 = _mm512_loadu_ps(x);
      const __m512 x1 = _mm512_loadu_ps(x + 16);
      for (int64_t e = row_start[r]; e < row_start[r + 1]; ++e) {
        float* target = out + offsets[e] * out_plane;
        const __m512 w = _mm512_set1_ps(weights[index[e]]);
        _mm512_storeu_ps(target, _mm512_fmadd_ps(w, x0, _mm512_loadu_ps(target)));
        _mm512_storeu_ps(target + 16, _mm512_fmadd_ps(w, x1, _mm512_loadu_ps(target + 16)));
      }
    }
  }
}

namespace {

// Rows [r0, r0 + streams) of one block side by side, T lane vectors each: S * T chains in flight over the rows'
// common length, then each row's remaining entries.
template <int T, int S>
inline void RowBlockGroup(const SparseRowBlocks& blocks, int64_t r0, int streams, const float* weights,
                          const float* in, int64_t scale, float* out, int64_t out_plane) {
  const SparseRowBlocks::Entry* entry = blocks.entry.data();
  __m512 acc[S][T];
  int64_t first[S], count[S];
  float* target[S];
  int64_t common = INT64_MAX;
#pragma GCC unroll 8
  for (int s = 0; s < S; ++s) {
    if (s >= streams) continue;
    first[s] = blocks.row_start[r0 + s];
    count[s] = blocks.row_start[r0 + s + 1] - first[s];
    common = std::min(common, count[s]);
    target[s] = out + blocks.target_offset[r0 + s] * out_plane;
#pragma GCC unroll 2
    for (int t = 0; t < T; ++t) acc[s][t] = _mm512_loadu_ps(target[s] + 16 * t);
  }
  static_assert(offsetof(SparseRowBlocks::Entry, weight_index) == 0 && offsetof(SparseRowBlocks::Entry, offset) == 4);
  auto add = [&](int s, int64_t e) {
    const IndexPair index = LoadIndexPair(entry[e]);  // 9-11% faster than two loads (SparseRowBlocks::Entry).
    const __m512 w = _mm512_set1_ps(weights[index.first]);
    const float* x = in + index.second * scale;
#pragma GCC unroll 2
    for (int t = 0; t < T; ++t) acc[s][t] = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 16 * t), acc[s][t]);
  };
  // A block's last group may have fewer rows than S: its rows run one after another.
  if (streams < S) common = 0;
  for (int64_t j = 0; j < common; ++j) {
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s) add(s, first[s] + j);
  }
#pragma GCC unroll 8
  for (int s = 0; s < S; ++s) {
    if (s >= streams) continue;
    for (int64_t e = first[s] + common; e < first[s] + count[s]; ++e) add(s, e);
#pragma GCC unroll 2
    for (int t = 0; t < T; ++t) _mm512_storeu_ps(target[s] + 16 * t, acc[s][t]);
  }
}

template <int T, int S>
void RowBlocksForward(const SparseRowBlocks& blocks, const float* weights, const float* in, int64_t scale, float* out,
                      int64_t out_plane) {
  // A block's rows all come from different source rows, so a group never holds one chain twice; blocks run in order,
  // so each chain takes its entries in order.
  for (size_t k = 0; k + 1 < blocks.block_start.size(); ++k) {
    const int64_t end = blocks.block_start[k + 1];
    for (int64_t r = blocks.block_start[k]; r < end; r += S) {
      RowBlockGroup<T, S>(blocks, r, static_cast<int>(std::min<int64_t>(S, end - r)), weights, in, scale, out,
                          out_plane);
    }
  }
}

}  // namespace

void SparseRowBlocksForward(const SparseRowBlocks& blocks, const float* weights, const float* in, int64_t scale,
                            int64_t lane_vectors, float* out, int64_t out_plane) {
  if (lane_vectors == 1) {
    RowBlocksForward<1, 8>(blocks, weights, in, scale, out, out_plane);
  } else {
    RowBlocksForward<2, 4>(blocks, weights, in, scale, out, out_plane);
  }
}

void SparseRowsScatter(const SparseRows& rows, const float* values, const float* in, int64_t lane_vectors,
                       float* target) {
  const int64_t tile = BalancedTile(lane_vectors, kMaxTileVectors);
  const int32_t* row_start = rows.row_start.data();
  const int32_t* offsets = rows.offsets.data();
  for (int64_t r = 0; r < rows.rows(); ++r) {
    float* target_row = target + rows.target_offset[r];
    for (int64_t v = 0; v < lane_vectors; v += tile) {
      DispatchCount<ScatterKernel, kMaxTileVectors>(std::min(tile, lane_vectors - v), offsets, values, row_start[r],
                                                    row_start[r + 1], in + 16 * v, target_row + 16 * v);
    }
  }
}

void SparseRowsScatterBatchLanes(const SparseRows& rows, const std::vector<int32_t>& block_start, const float* values,
                                 const float* lanes, int64_t out_height, int64_t out_width, int64_t in_row,
                                 float* target) {
  const int64_t tile = BalancedTile(out_width, kMaxTileVectors);
  const int32_t* row_start = rows.row_start.data();
  const int32_t* offsets = rows.offsets.data();
  for (size_t b = 0; b + 1 < block_start.size(); ++b) {
    for (int64_t oy = out_height - 1; oy >= 0; --oy) {
      const float* gradients = lanes + oy * out_width * kBatchLanes;
      for (int64_t r = block_start[b]; r < block_start[b + 1]; ++r) {
        float* target_row = target + (rows.target_offset[r] + oy * in_row) * kBatchLanes;
        for (int64_t ox = 0; ox < out_width; ox += tile) {
          DispatchCount<ScatterKernel, kMaxTileVectors>(std::min(tile, out_width - ox), offsets, values, row_start[r],
                                                        row_start[r + 1], gradients + ox * kBatchLanes,
                                                        target_row + ox * kBatchLanes);
        }
      }
    }
  }
}

void SparseWeightGradient(const ConvolutionGeometry& geometry, int64_t batch, const float* padded_input,
                          const float* output_gradient, const SparseWeightGradientPlan& plan, bool overwrite,
                          float* weight_gradient) {
  for (const SparseWeightGradientPlan::Group& group : plan.groups) {
    DispatchCount<WeightGradientVectorsKernel, SparseWeightGradientPlan::kMaxGroupedVectors>(
        group.count, geometry, batch, padded_input, output_gradient, plan, group, overwrite, weight_gradient);
  }
  for (const SparseWeightGradientPlan::Block& block : plan.blocks) {
    if (block.grouped) continue;
    for (int64_t v = 0; v < block.vectors; v += kMaxGroupVectors) {
      const int64_t first = block.first_vector + v;
      DispatchCount<WeightGradientKernel, kMaxGroupVectors>(
          std::min(kMaxGroupVectors, block.vectors - v), geometry, batch, padded_input, output_gradient, block,
          plan.input_lane.data() + 16 * first, plan.output_lane.data() + 16 * first,
          plan.weight_index.data() + 16 * first, plan.contiguous, overwrite, weight_gradient);
    }
  }
}

namespace {

// Batch rows per pass of the line kernels: their accumulators (forward) or output-gradient rows (weight gradient)
// stay in registers.
constexpr int64_t kMaxLineRows = 16;
static_assert(offsetof(SparseLines::Line, weight_offset) == 0 && offsetof(SparseLines::Line, row) == 4,
              "the line kernels read weight_offset and row with LoadIndexPair");

// The forward product of `R` batch rows over S output blocks at a time. Each block's chain runs through its own lines
// in order; S blocks interleave so that S * R independent chains hide the latency of the fused multiply-add. Each
// line carries its weight offset and input row, so a line costs its masked load and R fused multiply-adds with a
// broadcast input, and the S stream pointers stay in registers.
template <int R>
struct LinesForwardKernel {
  static constexpr int S = R <= 6 ? 4 : (R <= 12 ? 2 : 1);

  static void Run(const SparseLines& lines, const float* input, const float* weights, const float* biases,
                  float* output) {
    const int64_t in = lines.in;
    const int64_t out = lines.out;
    const int64_t blocks = (out + 15) / 16;
    const int32_t* start = lines.block_start.data();
    const SparseLines::Line* all = lines.line.data();
    for (int64_t v0 = 0; v0 < blocks; v0 += S) {
      // The last group may have fewer blocks than S: its blocks run one after another.
      const int streams = static_cast<int>(std::min<int64_t>(S, blocks - v0));
      __m512 acc[S][R];
      const SparseLines::Line* stream[S];
      int64_t count[S];
      int64_t common = INT64_MAX;
#pragma GCC unroll 4
      for (int s = 0; s < S; ++s) {
        const int64_t v = v0 + s;
        stream[s] = s < streams ? all + start[v] : all;
        count[s] = s < streams ? start[v + 1] - start[v] : 0;
        if (s < streams) common = std::min(common, count[s]);
        const __m512 bias = s < streams ? _mm512_maskz_loadu_ps(LaneMask(out - 16 * v), biases + 16 * v)
                                        : _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc[s][r] = bias;
      }
      if (streams < S) common = 0;
      // Adds `line` to the accumulators of stream s.
      auto add_line = [&](int s, const SparseLines::Line& line) {
        const IndexPair offsets = LoadIndexPair(line);
        const __m512 w = _mm512_maskz_loadu_ps(line.kept, weights + offsets.first);
        const float* x = input + offsets.second;
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc[s][r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r * in]), w, acc[s][r]);
      };
      for (int64_t t = 0; t < common; ++t) {
#pragma GCC unroll 4
        for (int s = 0; s < S; ++s) add_line(s, stream[s][t]);
      }
#pragma GCC unroll 4
      for (int s = 0; s < S; ++s) {
        if (s >= streams) continue;
        for (int64_t t = common; t < count[s]; ++t) add_line(s, stream[s][t]);
        const int64_t v = v0 + s;
        const __mmask16 mask = LaneMask(out - 16 * v);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(output + r * out + 16 * v, mask, acc[s][r]);
      }
    }
  }
};

// The weight gradient of `R` batch rows: per output block, the rows' output gradients stay in registers while the
// block's lines are read, advanced by R fused multiply-adds (b ascending) and written back on their kept lanes.
template <int R>
struct LinesWeightGradientKernel {
  static void Run(const SparseLines& lines, const float* input, const float* output_gradient, bool overwrite,
                  float* weight_gradient) {
    const int64_t in = lines.in;
    const int64_t out = lines.out;
    const int32_t* start = lines.block_start.data();
    const SparseLines::Line* all = lines.line.data();
    for (int64_t v = 0; v * 16 < out; ++v) {
      const __mmask16 mask = LaneMask(out - 16 * v);
      __m512 gradient[R];
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) gradient[r] = _mm512_maskz_loadu_ps(mask, output_gradient + r * out + 16 * v);
      const SparseLines::Line* end = all + start[v + 1];
      for (const SparseLines::Line* line = all + start[v]; line != end; ++line) {
        const IndexPair offsets = LoadIndexPair(*line);
        float* target = weight_gradient + offsets.first;
        const float* x = input + offsets.second;
        __m512 acc = overwrite ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(line->kept, target);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc = _mm512_fmadd_ps(_mm512_set1_ps(x[r * in]), gradient[r], acc);
        _mm512_mask_storeu_ps(target, line->kept, acc);
      }
    }
  }
};

}  // namespace

void SparseLinesForward(const SparseLines& lines, int64_t batch, const float* input, const float* weights,
                        const float* biases, float* output) {
  const int64_t tile = BalancedTile(batch, kMaxLineRows);
  for (int64_t b = 0; b < batch; b += tile) {
    DispatchCount<LinesForwardKernel, kMaxLineRows>(std::min(tile, batch - b), lines, input + b * lines.in, weights,
                                                    biases, output + b * lines.out);
  }
}

void SparseLinesWeightGradient(const SparseLines& lines, int64_t batch, const float* input,
                               const float* output_gradient, bool overwrite, float* weight_gradient) {
  // Tiles in batch order: each entry's chain continues from the previous tile's value.
  const int64_t tile = BalancedTile(batch, kMaxLineRows);
  for (int64_t b = 0; b < batch; b += tile) {
    DispatchCount<LinesWeightGradientKernel, kMaxLineRows>(std::min(tile, batch - b), lines, input + b * lines.in,
                                                           output_gradient + b * lines.out, overwrite && b == 0,
                                                           weight_gradient);
  }
}


namespace {

// Weights unpacked per piece when several row tiles share them: 24 KiB, as the dense kernel's level-1 block.
constexpr int64_t kPackedPieceFloats = 6 * 1024;
// Output-gradient bytes per pass of the weight-gradient tiles, as the dense kernel's.
constexpr int64_t kPackedGradientBlockBytes = 16 * 1024;

// Mask of vector v of NV whose last vector has the lanes `last`.
template <int NV>
inline __mmask16 PackedVectorMask(int v, __mmask16 last) {
  return v == NV - 1 ? last : static_cast<__mmask16>(0xFFFF);
}

// acc[r][v] += x[r * stride] * row[v] for r < R and v < NV: one rank-one update of a register tile.
template <int R, int NV>
inline __attribute__((always_inline)) void RankOneUpdate(__m512 (&acc)[R][NV], const float* x, int64_t stride,
                                                         const __m512 (&row)[NV]) {
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    const __m512 value = _mm512_set1_ps(x[r * stride]);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(value, row[v], acc[r][v]);
  }
}

// Forward tile: C[r, :] (= bias | +=) sum over j < depth of x[r * ldx + j] * W[j, :] for r < R, W's rows expanded
// from the packed weights under `kept` (kExpand) or read from an unpacked piece of NV vectors per row.
template <int R, int NV, bool kExpand>
struct PackedForwardTile {
  static void Run(const float* x, int64_t ldx, int64_t depth, const uint16_t* kept, const float* weights,
                  const float* bias, float* c, int64_t ldc, __mmask16 last) {
    __m512 acc[R][NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mask = PackedVectorMask<NV>(v, last);
      const __m512 initial = bias != nullptr ? _mm512_maskz_loadu_ps(mask, bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        acc[r][v] = bias != nullptr ? initial : _mm512_maskz_loadu_ps(mask, c + r * ldc + 16 * v);
      }
    }
    for (int64_t j = 0; j < depth; ++j) {
      __m512 row[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        if constexpr (kExpand) {
          const __mmask16 lanes = kept[j * NV + v];
          row[v] = _mm512_maskz_expandloadu_ps(lanes, weights);
          weights += __builtin_popcount(lanes);
        } else {
          row[v] = _mm512_load_ps(weights + (j * NV + v) * 16);
        }
      }
      RankOneUpdate<R, NV>(acc, x + j, ldx, row);
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        _mm512_mask_storeu_ps(c + r * ldc + 16 * v, PackedVectorMask<NV>(v, last), acc[r][v]);
      }
    }
  }
};
template <int R, int NV>
using PackedForwardExpandTile = PackedForwardTile<R, NV, true>;
template <int R, int NV>
using PackedForwardPieceTile = PackedForwardTile<R, NV, false>;

// Weight-gradient tile: for R consecutive inputs of one block, each kept entry's chain over `pixels` examples
// (b ascending) from +0 (`first`) or from its packed value, then compressed back into the packed gradient.
template <int R, int NV>
struct PackedGradientTile {
  static void Run(const float* x, int64_t ldx, const float* d, int64_t ldd, int64_t pixels, const uint16_t* kept,
                  float* target, bool first, __mmask16 last) {
    __m512 acc[R][NV];
    {
      const float* source = target;
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          const __mmask16 lanes = kept[r * NV + v];
          acc[r][v] = first ? _mm512_setzero_ps() : _mm512_maskz_expandloadu_ps(lanes, source);
          source += __builtin_popcount(lanes);
        }
      }
    }
    for (int64_t p = 0; p < pixels; ++p) {
      __m512 gradient[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        gradient[v] = _mm512_maskz_loadu_ps(PackedVectorMask<NV>(v, last), d + p * ldd + 16 * v);
      }
      RankOneUpdate<R, NV>(acc, x + p * ldx, 1, gradient);
    }
    // Compressed in a register and stored under a mask of the first lanes: a compressing store to memory is
    // microcoded on AMD's Zen 4 and 5 (the weight gradient took 2.5x as long with it).
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const __mmask16 lanes = kept[r * NV + v];
        const int count = __builtin_popcount(lanes);
        _mm512_mask_storeu_ps(target, static_cast<__mmask16>((1u << count) - 1u),
                              _mm512_maskz_compress_ps(lanes, acc[r][v]));
        target += count;
      }
    }
  }
};

// Block `block` of 64 outputs of a packed layout: its first output, its vectors, the lanes of its last vector, its kept
// lanes and the packed positions of its inputs' first kept weights.
struct PackedBlock {
  int64_t first;
  int64_t vectors;
  __mmask16 last;
  const uint16_t* kept;
  const int32_t* row_start;
};
inline PackedBlock Block(const PackedDenseLayout& layout, int64_t block) {
  const int64_t first = 64 * block;
  const int64_t width = std::min<int64_t>(64, layout.out - first);
  const int64_t vectors = (width + 15) / 16;
  return {first, vectors, LaneMask(width - 16 * (vectors - 1)), layout.kept.data() + block * layout.in * 4,
          layout.row_start.data() + block * (layout.in + 1)};
}

}  // namespace

void PackedDenseForward(const PackedDenseLayout& layout, int64_t batch, const float* input,
                        const float* packed_weights, const float* biases, float* output) {
  const int64_t in = layout.in;
  const int64_t out = layout.out;
  alignas(64) float piece[kPackedPieceFloats];
  for (int64_t block = 0; 64 * block < out; ++block) {
    const auto [first, vectors, last, kept, row_start] = Block(layout, block);
    const int64_t tile = BalancedTile(batch, register_tiles::kMaxTileRows[vectors]);
    if (batch <= tile) {
      // One row tile: each vector expanded straight into registers.
      register_tiles::Dispatch<PackedForwardExpandTile>(vectors, batch, input, in, in, kept, packed_weights + row_start[0],
                                              biases + first, output + first, out, last);
      continue;
    }
    // Several row tiles: each piece of inputs unpacked once into level 1 and read by every tile, as the dense kernel
    // reads its block of the matrix.
    const int64_t piece_rows = kPackedPieceFloats / (16 * vectors);
    for (int64_t j0 = 0; j0 < in; j0 += piece_rows) {
      const int64_t depth = std::min(piece_rows, in - j0);
      const float* source = packed_weights + row_start[j0];
      for (int64_t k = 0; k < depth * vectors; ++k) {
        const __mmask16 lanes = kept[j0 * vectors + k];
        _mm512_store_ps(piece + 16 * k, _mm512_maskz_expandloadu_ps(lanes, source));
        source += __builtin_popcount(lanes);
      }
      for (int64_t r0 = 0; r0 < batch; r0 += tile) {
        register_tiles::Dispatch<PackedForwardPieceTile>(vectors, std::min(tile, batch - r0), input + r0 * in + j0, in, depth,
                                               nullptr, piece, j0 == 0 ? biases + first : nullptr,
                                               output + r0 * out + first, out, last);
      }
    }
  }
}

void PackedDenseWeightGradient(const PackedDenseLayout& layout, int64_t batch, const float* input,
                               const float* output_gradient, bool overwrite, float* packed_gradient) {
  const int64_t in = layout.in;
  const int64_t out = layout.out;
  for (int64_t block = 0; 64 * block < out; ++block) {
    const auto [first, vectors, last, kept, row_start] = Block(layout, block);
    const int64_t tile = BalancedTile(in, register_tiles::kMaxTileRows[vectors]);
    // Examples per pass: their output gradients (16 KiB) stay in level 1 while every tile of inputs sweeps them.
    const int64_t pixels = std::max<int64_t>(1, kPackedGradientBlockBytes / (64 * vectors));
    for (int64_t p0 = 0; p0 < batch; p0 += pixels) {
      const int64_t count = std::min(pixels, batch - p0);
      for (int64_t j0 = 0; j0 < in; j0 += tile) {
        register_tiles::Dispatch<PackedGradientTile>(vectors, std::min(tile, in - j0), input + p0 * in + j0, in,
                                           output_gradient + p0 * out + first, out, count, kept + j0 * vectors,
                                           packed_gradient + row_start[j0], overwrite && p0 == 0, last);
      }
    }
  }
}
#endif  // defined(__AVX512F__)

SparseRowBlocks MakeSparseRowBlocks(const SparseRows& rows, int64_t reduction) {
  SparseRowBlocks blocks;
  const int64_t source_rows = rows.rows();
  const double density =
      static_cast<double>(std::max<int64_t>(1, rows.entries())) / static_cast<double>(source_rows * reduction);
  const int64_t wanted = static_cast<int64_t>(SparseRowBlocks::kTargetRowEntries / density);
  blocks.block = std::min(reduction, std::max(SparseRowBlocks::kMinBlock, (wanted + 31) / 32 * 32));
  blocks.row_start.push_back(0);
  blocks.block_start.push_back(0);
  // cursor[o]: row o's first entry not yet placed in a block.
  std::vector<int64_t> cursor(rows.row_start.begin(), rows.row_start.end() - 1);
  std::vector<std::pair<int64_t, int64_t>> order;  // (-entries, source row) of the current block.
  std::vector<int64_t> begin(source_rows);
  for (int64_t k0 = 0; k0 < reduction; k0 += blocks.block) {
    order.clear();
    for (int64_t o = 0; o < source_rows; ++o) {
      begin[o] = cursor[o];
      while (cursor[o] < rows.row_start[o + 1] && rows.offsets[cursor[o]] < k0 + blocks.block) ++cursor[o];
      if (cursor[o] > begin[o]) order.emplace_back(begin[o] - cursor[o], o);
    }
    std::sort(order.begin(), order.end());
    for (const auto& [negative_entries, o] : order) {
      for (int64_t e = begin[o]; e < cursor[o]; ++e) blocks.entry.push_back({rows.weight_index[e], rows.offsets[e]});
      blocks.row_start.push_back(static_cast<int32_t>(blocks.entry.size()));
      blocks.target_offset.push_back(static_cast<int32_t>(o));
    }
    blocks.block_start.push_back(static_cast<int32_t>(blocks.target_offset.size()));
  }
  return blocks;
}

}  // namespace parsity::nn_internal
