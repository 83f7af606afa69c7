#include "training/nn/internal/sparse_kernels.h"

#include <algorithm>
#include <cstring>

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

void ToPlanar(const PlanarGeometry& g, const float* images, int64_t batch, float* planar) {
  const int64_t s = g.stride;
  for (int64_t b = 0; b < batch; ++b) {
    float* out = planar + b * g.image;
    std::memset(out, 0, sizeof(float) * g.image);
    const float* image = images + b * g.height * g.width * g.channels;
    for (int64_t y = 0; y < g.height; ++y) {
      const int64_t py = (y + g.pad_top) % s;
      const int64_t row = (y + g.pad_top) / s;
      for (int64_t x = 0; x < g.width; ++x) {
        const int64_t px = (x + g.pad_left) % s;
        const int64_t column = (x + g.pad_left) / s;
        float* target = out + (py * s + px) * g.channels * g.plane + row * g.phase_width + column;
        const float* source = image + (y * g.width + x) * g.channels;
        for (int64_t c = 0; c < g.channels; ++c) target[c * g.plane] = source[c];
      }
    }
  }
}

void FromPlanar(const PlanarGeometry& g, const float* planar, int64_t batch, bool accumulate, float* images) {
  const int64_t s = g.stride;
  for (int64_t b = 0; b < batch; ++b) {
    const float* in = planar + b * g.image;
    float* image = images + b * g.height * g.width * g.channels;
    for (int64_t y = 0; y < g.height; ++y) {
      const int64_t py = (y + g.pad_top) % s;
      const int64_t row = (y + g.pad_top) / s;
      for (int64_t x = 0; x < g.width; ++x) {
        const int64_t px = (x + g.pad_left) % s;
        const int64_t column = (x + g.pad_left) / s;
        const float* source = in + (py * s + px) * g.channels * g.plane + row * g.phase_width + column;
        float* target = image + (y * g.width + x) * g.channels;
        if (accumulate) {
          for (int64_t c = 0; c < g.channels; ++c) target[c] += source[c * g.plane];
        } else {
          for (int64_t c = 0; c < g.channels; ++c) target[c] = source[c * g.plane];
        }
      }
    }
  }
}

void ToPlanes(const float* image, int64_t out_height, int64_t out_width, int64_t channels, int64_t row, int64_t plane,
              float* planes) {
  for (int64_t oy = 0; oy < out_height; ++oy) {
    for (int64_t ox = 0; ox < out_width; ++ox) {
      const float* source = image + (oy * out_width + ox) * channels;
      float* target = planes + oy * row + ox;
      for (int64_t o = 0; o < channels; ++o) target[o * plane] = source[o];
    }
  }
}

void FromPlanes(const float* planes, int64_t out_height, int64_t out_width, int64_t channels, int64_t row,
                int64_t plane, bool accumulate, float* image) {
  for (int64_t oy = 0; oy < out_height; ++oy) {
    for (int64_t ox = 0; ox < out_width; ++ox) {
      float* target = image + (oy * out_width + ox) * channels;
      const float* source = planes + oy * row + ox;
      if (accumulate) {
        for (int64_t o = 0; o < channels; ++o) target[o] += source[o * plane];
      } else {
        for (int64_t o = 0; o < channels; ++o) target[o] = source[o * plane];
      }
    }
  }
}

void PackValues(const SparseRows& rows, const float* weights, float* values) {
  const int64_t entries = rows.entries();
  const int32_t* index = rows.weight_index.data();
  for (int64_t e = 0; e < entries; ++e) values[e] = weights[index[e]];
}

#if !defined(__AVX512F__)

bool HasSparseKernels() { return false; }
void SparseRowsForward(const SparseRows&, const float*, const float*, int64_t, int64_t, const float*, float*,
                       int64_t) {}
void SparseRowsScatter(const SparseRows&, const float*, const float*, int64_t, float*) {}
void SparseWeightGradient(const ConvolutionGeometry&, int64_t, const float*, const float*,
                          const SparseWeightGradientPlan&, float*, float*) {}

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

template <int G>
inline void WeightGradientGroup(const ConvolutionGeometry& g, int64_t batch, const float* padded_input,
                                const float* output_gradient, const SparseWeightGradientPlan::Block& block,
                                const int32_t* input_lane, const int32_t* output_lane, float* packed) {
  const int64_t padded_image = g.padded_height * g.padded_width * g.in_channels;
  const int64_t padded_row = g.padded_width * g.in_channels;
  const int64_t channels = g.out_channels;
  const __mmask16 in_low = LaneMask(block.j_count), in_high = LaneMask(block.j_count - 16);
  const __mmask16 out_low = LaneMask(block.o_count), out_high = LaneMask(block.o_count - 16);
  __m512 acc[G];
  __m512i input_index[G], output_index[G];
#pragma GCC unroll 8
  for (int v = 0; v < G; ++v) {
    acc[v] = _mm512_loadu_ps(packed + 16 * v);
    input_index[v] = _mm512_loadu_si512(input_lane + 16 * v);
    output_index[v] = _mm512_loadu_si512(output_lane + 16 * v);
  }
  for (int64_t image = 0; image < batch; ++image) {
    const float* input_image = padded_input + image * padded_image + block.ky * padded_row + block.j0;
    const float* gradient_image = output_gradient + image * g.out_height * g.out_width * channels + block.o0;
    for (int64_t oy = 0; oy < g.out_height; ++oy) {
      const float* input_row = input_image + oy * g.stride * padded_row;
      const float* gradient_row = gradient_image + oy * g.out_width * channels;
      for (int64_t ox = 0; ox < g.out_width; ++ox) {
        const float* a = input_row + ox * g.stride * g.in_channels;
        const float* d = gradient_row + ox * channels;
        const __m512 a0 = _mm512_maskz_loadu_ps(in_low, a);
        const __m512 a1 = _mm512_maskz_loadu_ps(in_high, a + 16);
        const __m512 d0 = _mm512_maskz_loadu_ps(out_low, d);
        const __m512 d1 = _mm512_maskz_loadu_ps(out_high, d + 16);
#pragma GCC unroll 8
        for (int v = 0; v < G; ++v) {
          acc[v] = _mm512_fmadd_ps(_mm512_permutex2var_ps(a0, input_index[v], a1),
                                   _mm512_permutex2var_ps(d0, output_index[v], d1), acc[v]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int v = 0; v < G; ++v) _mm512_storeu_ps(packed + 16 * v, acc[v]);
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
                  float* packed) {
    WeightGradientGroup<G>(g, batch, padded_input, output_gradient, block, input_lane, output_lane, packed);
  }
};

}  // namespace

void SparseRowsForward(const SparseRows& rows, const float* values, const float* in, int64_t scale,
                       int64_t lane_vectors, const float* biases, float* out, int64_t out_plane) {
  const int64_t tile = BalancedTile(lane_vectors, kMaxTileVectors);
  const int32_t* row_start = rows.row_start.data();
  const int32_t* offsets = rows.offsets.data();
  for (int64_t r = 0; r < rows.rows(); ++r) {
    float* out_row = out + r * out_plane;
    for (int64_t v = 0; v < lane_vectors; v += tile) {
      DispatchCount<ForwardKernel, kMaxTileVectors>(std::min(tile, lane_vectors - v), offsets, values, row_start[r],
                                                    row_start[r + 1], in + 16 * v, scale,
                                                    biases != nullptr ? biases + r : nullptr, out_row + 16 * v);
    }
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

void SparseWeightGradient(const ConvolutionGeometry& geometry, int64_t batch, const float* padded_input,
                          const float* output_gradient, const SparseWeightGradientPlan& plan, float* packed,
                          float* weight_gradient) {
  const int64_t lanes = 16 * plan.vectors();
  const int32_t* index = plan.weight_index.data();
  for (int64_t lane = 0; lane < lanes; ++lane) packed[lane] = index[lane] >= 0 ? weight_gradient[index[lane]] : 0.0f;
  for (const SparseWeightGradientPlan::Block& block : plan.blocks) {
    for (int64_t v = 0; v < block.vectors; v += kMaxGroupVectors) {
      const int64_t first = block.first_vector + v;
      DispatchCount<WeightGradientKernel, kMaxGroupVectors>(
          std::min(kMaxGroupVectors, block.vectors - v), geometry, batch, padded_input, output_gradient, block,
          plan.input_lane.data() + 16 * first, plan.output_lane.data() + 16 * first, packed + 16 * first);
    }
  }
  for (int64_t lane = 0; lane < lanes; ++lane) {
    if (index[lane] >= 0) weight_gradient[index[lane]] = packed[lane];
  }
}

#endif  // defined(__AVX512F__)

}  // namespace parsity::nn_internal
