#include "training/nn/internal/direct_convolution.h"

#include <algorithm>

#include "training/nn/internal/max_pool_routing.h"
#include "training/nn/internal/register_tiles.h"
#include "training/nn/internal/transpose.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace parsity::nn_internal {

void TransposeWeights(const ConvolutionGeometry& geometry, const float* weights, float* transposed) {
  const int64_t kernel_row = geometry.kernel * geometry.in_channels;
  const int64_t channels = geometry.out_channels;
  for (int64_t ky = 0; ky < geometry.kernel; ++ky) {
    const float* source = weights + ky * kernel_row * channels;
    float* destination = transposed + ky * channels * kernel_row;
    Transpose<false>(source, kernel_row, channels, channels, destination, kernel_row);
  }
}

#if !defined(__AVX512F__)

bool HasDirectConvolution() { return false; }
void DirectConvolutionForward(const ConvolutionGeometry&, int64_t, const float*, const float*, const float*, float*) {}
void DirectConvolutionWeightGradient(const ConvolutionGeometry&, int64_t, const float*, const float*, bool, float*) {}
void DirectConvolutionInputGradient(const ConvolutionGeometry&, int64_t, const float*, const float*, float*) {}
bool CanRouteMaxPoolWeightGradient(const ConvolutionGeometry&) { return false; }
void DirectConvolutionWeightGradientThroughMaxPool(const ConvolutionGeometry&, int64_t, const float*, const float*,
                                                   const float*, const float*, bool, float*, float*) {}

#else

bool HasDirectConvolution() { return true; }

namespace {

using register_tiles::Dispatch;
using register_tiles::DispatchRows;
using register_tiles::kMaxTileRows;
using register_tiles::kMaxVectors;
// Weight floats per block kept in level 1 (24 KiB of the 48 KiB).
constexpr int64_t kWeightBlockFloats = 6 * 1024;
// Output-gradient bytes per pass of the weight-gradient kernel kept in level 1.
constexpr int64_t kGradientBlockBytes = 16 * 1024;

// Lanes [0, n) for 0 < n <= 16.
inline __mmask16 LaneMask(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// Mask of vector v of NV whose last vector has `last` lanes.
template <int NV>
inline __mmask16 VectorMask(int v, __mmask16 last) {
  return v == NV - 1 ? last : static_cast<__mmask16>(0xFFFF);
}

// Splits `length` into tiles of at most `max_tile` of near-equal size; returns the size of the first tiles.
inline int64_t BalancedTile(int64_t length, int64_t max_tile) {
  const int64_t tiles = (length + max_tile - 1) / max_tile;
  return (length + tiles - 1) / tiles;
}

// C[r, :] (= init | +=) sum_t sum_j A[t][r * lda + j] * B[t][j * ldb + :], for r < R. A[t] = a + t * a_tap,
// B[t] = b + t * b_tap. With `bias` non-null the tile starts from it, else from C.
// kDepth > 0 requires depth == kDepth and lda == 1 (stride 1 over one input channel): row r's input j is then row
// r + 1's input j - 1, and with the loop over j unrolled the compiler broadcasts each input once per tap instead of
// once per row and j (R + kDepth - 1 broadcasts instead of R * kDepth).
template <int R, int NV, int kDepth = 0>
inline void ForwardTile(const float* a, int64_t lda, int64_t a_tap, const float* b, int64_t ldb, int64_t b_tap,
                        int64_t taps, int64_t depth, const float* bias, float* c, int64_t ldc, __mmask16 last) {
  __m512 acc[R][NV];
  if (bias != nullptr) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __m512 initial = _mm512_maskz_loadu_ps(VectorMask<NV>(v, last), bias + 16 * v);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) acc[r][v] = initial;
    }
  } else {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_maskz_loadu_ps(VectorMask<NV>(v, last), c + r * ldc + 16 * v);
    }
  }
  for (int64_t t = 0; t < taps; ++t) {
    const float* at = a + t * a_tap;
    const float* bt = b + t * b_tap;
    const auto multiply_add = [&](int64_t j, int64_t row_stride) __attribute__((always_inline)) {
      __m512 row[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) row[v] = _mm512_maskz_loadu_ps(VectorMask<NV>(v, last), bt + j * ldb + 16 * v);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 x = _mm512_set1_ps(at[r * row_stride + j]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(x, row[v], acc[r][v]);
      }
    };
    if constexpr (kDepth > 0) {
#pragma GCC unroll 8
      for (int j = 0; j < kDepth; ++j) multiply_add(j, 1);
    } else {
      for (int64_t j = 0; j < depth; ++j) multiply_add(j, lda);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(c + r * ldc + 16 * v, VectorMask<NV>(v, last), acc[r][v]);
  }
}

// C[r, :] += sum over pixels (y < rows, x < columns) of A[y * a_row + x * a_pixel + r] * D[y * d_row + x * d_pixel + :]
// for r < R: a tile of R consecutive weight rows of the weight gradient. With `overwrite` the sum starts from +0
// instead of C.
template <int R, int NV>
inline void WeightGradientTile(const float* a, int64_t a_row, int64_t a_pixel, const float* d, int64_t d_row,
                               int64_t d_pixel, int64_t rows, int64_t columns, bool overwrite, float* c, int64_t ldc,
                               __mmask16 last) {
  __m512 acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      acc[r][v] = overwrite ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(VectorMask<NV>(v, last), c + r * ldc + 16 * v);
    }
  }
  for (int64_t y = 0; y < rows; ++y) {
    const float* ay = a + y * a_row;
    const float* dy = d + y * d_row;
    for (int64_t x = 0; x < columns; ++x) {
      const float* ax = ay + x * a_pixel;
      __m512 gradient[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        gradient[v] = _mm512_maskz_loadu_ps(VectorMask<NV>(v, last), dy + x * d_pixel + 16 * v);
      }
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const __m512 value = _mm512_set1_ps(ax[r]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(value, gradient[v], acc[r][v]);
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(c + r * ldc + 16 * v, VectorMask<NV>(v, last), acc[r][v]);
  }
}

// T[r * t_pixel + :] += sum_n D[r * d_pixel + n] * B[n * ldb + :] for r < R, in order of r (targets of neighbouring
// pixels overlap: each read sees the previous pixel's write).
template <int R, int NV>
inline void InputGradientTile(const float* d, int64_t d_pixel, const float* b, int64_t ldb, int64_t depth, float* t,
                              int64_t t_pixel, __mmask16 last) {
  __m512 acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  for (int64_t n = 0; n < depth; ++n) {
    __m512 row[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) row[v] = _mm512_maskz_loadu_ps(VectorMask<NV>(v, last), b + n * ldb + 16 * v);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_set1_ps(d[r * d_pixel + n]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(x, row[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* target = t + r * t_pixel + 16 * v;
      const __mmask16 mask = VectorMask<NV>(v, last);
      _mm512_mask_storeu_ps(target, mask, _mm512_add_ps(_mm512_maskz_loadu_ps(mask, target), acc[r][v]));
    }
  }
}

template <int R, int NV>
struct ForwardKernel {
  static void Run(const float* a, int64_t lda, int64_t a_tap, const float* b, int64_t ldb, int64_t b_tap, int64_t taps,
                  int64_t depth, const float* bias, float* c, int64_t ldc, __mmask16 last) {
    ForwardTile<R, NV>(a, lda, a_tap, b, ldb, b_tap, taps, depth, bias, c, ldc, last);
  }
};

// One input channel at stride 1 with kernel width 5 (Simple-CNN's first layer): tiles of 6 pixels with the 5 weight
// rows of a tap held in registers. In isolation (conv1's shapes, Ice Lake, 2026-12-03) 0.20-0.27 ns per multiply-add
// against 0.34-0.41 for the general tile of 12 pixels, which broadcasts every input 5 times; 4, 5, 7 and 8 pixels were
// slower than 6.
constexpr int kSlidingWidth = 5;
constexpr int kSlidingTileRows = 6;

template <int R, int NV>
struct SlidingForwardKernel {
  static void Run(const float* a, int64_t lda, int64_t a_tap, const float* b, int64_t ldb, int64_t b_tap, int64_t taps,
                  int64_t depth, const float* bias, float* c, int64_t ldc, __mmask16 last) {
    ForwardTile<R, NV, kSlidingWidth>(a, lda, a_tap, b, ldb, b_tap, taps, depth, bias, c, ldc, last);
  }
};

// Calls Tile<rows, vectors>::Run(arguments...) for runtime rows <= kSlidingTileRows and vectors 1 or 2.
template <template <int, int> class Tile, typename... Arguments>
inline void DispatchSliding(int64_t vectors, int64_t rows, Arguments... arguments) {
  if (vectors == 1) {
    DispatchRows<Tile, 1, kSlidingTileRows>(rows, arguments...);
  } else {
    DispatchRows<Tile, 2, kSlidingTileRows>(rows, arguments...);
  }
}

template <int R, int NV>
struct WeightGradientKernel {
  static void Run(const float* a, int64_t a_row, int64_t a_pixel, const float* d, int64_t d_row, int64_t d_pixel,
                  int64_t rows, int64_t columns, bool overwrite, float* c, int64_t ldc, __mmask16 last) {
    WeightGradientTile<R, NV>(a, a_row, a_pixel, d, d_row, d_pixel, rows, columns, overwrite, c, ldc, last);
  }
};

template <int R, int NV>
struct InputGradientKernel {
  static void Run(const float* d, int64_t d_pixel, const float* b, int64_t ldb, int64_t depth, float* t,
                  int64_t t_pixel, __mmask16 last) {
    InputGradientTile<R, NV>(d, d_pixel, b, ldb, depth, t, t_pixel, last);
  }
};

// A channel block: up to 64 channels starting at `first`, as `vectors` vectors whose last has mask `last`.
struct ChannelBlock {
  int64_t first;
  int64_t vectors;
  __mmask16 last;
};

ChannelBlock Block(int64_t first, int64_t channels) {
  const int64_t count = std::min<int64_t>(channels - first, 16 * kMaxVectors);
  return ChannelBlock{first, (count + 15) / 16, LaneMask(count - 16 * ((count - 1) / 16))};
}

}  // namespace

void DirectConvolutionForward(const ConvolutionGeometry& g, int64_t batch, const float* padded_input,
                              const float* weights, const float* biases, float* output) {
  const int64_t kernel_row = g.kernel * g.in_channels;
  const int64_t channels = g.out_channels;
  const int64_t padded_image = g.padded_height * g.padded_width * g.in_channels;
  const int64_t padded_row = g.padded_width * g.in_channels;
  const int64_t out_image = g.out_height * g.out_width * channels;
  for (int64_t first_channel = 0; first_channel < channels; first_channel += 16 * kMaxVectors) {
    const ChannelBlock block = Block(first_channel, channels);
    const int64_t block_width = 16 * block.vectors;
    // Depth blocks: all kernel rows at once when their weights fit the level-1 budget, else one kernel row at a time
    // in pieces of at most `piece` weight rows.
    const bool all_taps = g.kernel * kernel_row * block_width <= kWeightBlockFloats;
    const int64_t piece = all_taps ? kernel_row : std::max<int64_t>(1, kWeightBlockFloats / block_width);
    const int64_t taps = all_taps ? g.kernel : int64_t{1};
    const int64_t lda = g.stride * g.in_channels;
    const bool sliding = all_taps && lda == 1 && kernel_row == kSlidingWidth && block.vectors <= 2;
    const int64_t tile = BalancedTile(g.out_width, sliding ? kSlidingTileRows : kMaxTileRows[block.vectors]);
    for (int64_t image = 0; image < batch; ++image) {
      const float* input_image = padded_input + image * padded_image;
      float* output_image = output + image * out_image + first_channel;
      for (int64_t ky = 0; ky < (all_taps ? 1 : g.kernel); ++ky) {
        for (int64_t j0 = 0; j0 < kernel_row; j0 += piece) {
          const int64_t depth = std::min(piece, kernel_row - j0);
          const float* bias = ky == 0 && j0 == 0 && biases != nullptr ? biases + first_channel : nullptr;
          const float* weight_block = weights + (ky * kernel_row + j0) * channels + first_channel;
          for (int64_t oy = 0; oy < g.out_height; ++oy) {
            const float* input_row = input_image + (oy * g.stride + ky) * padded_row + j0;
            float* output_row = output_image + oy * g.out_width * channels;
            for (int64_t ox = 0; ox < g.out_width; ox += tile) {
              const int64_t rows = std::min(tile, g.out_width - ox);
              const float* input_corner = input_row + ox * lda;
              float* output_corner = output_row + ox * channels;
              if (sliding) {
                DispatchSliding<SlidingForwardKernel>(block.vectors, rows, input_corner, lda, padded_row, weight_block,
                                                      channels, kernel_row * channels, taps, depth, bias,
                                                      output_corner, channels, block.last);
              } else {
                Dispatch<ForwardKernel>(block.vectors, rows, input_corner, lda, padded_row, weight_block, channels,
                                        kernel_row * channels, taps, depth, bias, output_corner, channels, block.last);
              }
            }
          }
        }
      }
    }
  }
}

void DirectConvolutionWeightGradient(const ConvolutionGeometry& g, int64_t batch, const float* padded_input,
                                     const float* output_gradient, bool overwrite, float* weight_gradient) {
  const int64_t kernel_row = g.kernel * g.in_channels;
  const int64_t channels = g.out_channels;
  const int64_t padded_image = g.padded_height * g.padded_width * g.in_channels;
  const int64_t padded_row = g.padded_width * g.in_channels;
  const int64_t out_image = g.out_height * g.out_width * channels;
  for (int64_t first_channel = 0; first_channel < channels; first_channel += 16 * kMaxVectors) {
    const ChannelBlock block = Block(first_channel, channels);
    const int64_t tile = BalancedTile(kernel_row, kMaxTileRows[block.vectors]);
    // Pixels per pass: the output gradient they read (16 KiB) stays in level 1 while every tile of weight rows
    // sweeps over them. Whole image rows when they fit, else pieces of one row.
    const int64_t pixels = std::max<int64_t>(1, kGradientBlockBytes / (64 * block.vectors));
    const int64_t rows_per_pass = std::max<int64_t>(1, pixels / g.out_width);
    const int64_t columns_per_pass = std::min(pixels, g.out_width);
    for (int64_t image = 0; image < batch; ++image) {
      const float* input_image = padded_input + image * padded_image;
      const float* gradient_image = output_gradient + image * out_image + first_channel;
      for (int64_t oy = 0; oy < g.out_height; oy += rows_per_pass) {
        const int64_t rows = std::min(rows_per_pass, g.out_height - oy);
        for (int64_t ox = 0; ox < g.out_width; ox += columns_per_pass) {
          const int64_t columns = std::min(columns_per_pass, g.out_width - ox);
          const float* input_corner = input_image + oy * g.stride * padded_row + ox * g.stride * g.in_channels;
          const float* gradient_corner = gradient_image + (oy * g.out_width + ox) * channels;
          // Every tile of this channel block is first visited in the first pass.
          const bool first_pass = overwrite && image == 0 && oy == 0 && ox == 0;
          for (int64_t ky = 0; ky < g.kernel; ++ky) {
            for (int64_t j0 = 0; j0 < kernel_row; j0 += tile) {
              Dispatch<WeightGradientKernel>(
                  block.vectors, std::min(tile, kernel_row - j0), input_corner + ky * padded_row + j0,
                  g.stride * padded_row, g.stride * g.in_channels, gradient_corner, g.out_width * channels, channels,
                  rows, columns, first_pass, weight_gradient + (ky * kernel_row + j0) * channels + first_channel,
                  channels, block.last);
            }
          }
        }
      }
    }
  }
}

void DirectConvolutionInputGradient(const ConvolutionGeometry& g, int64_t batch, const float* output_gradient,
                                    const float* transposed_weights, float* padded_input_gradient) {
  const int64_t kernel_row = g.kernel * g.in_channels;
  const int64_t channels = g.out_channels;
  const int64_t padded_image = g.padded_height * g.padded_width * g.in_channels;
  const int64_t padded_row = g.padded_width * g.in_channels;
  const int64_t out_image = g.out_height * g.out_width * channels;
  for (int64_t image = 0; image < batch; ++image) {
    const float* gradient_image = output_gradient + image * out_image;
    float* target_image = padded_input_gradient + image * padded_image;
    for (int64_t j0 = 0; j0 < kernel_row; j0 += 16 * kMaxVectors) {
      const ChannelBlock block = Block(j0, kernel_row);
      const int64_t tile = BalancedTile(g.out_width, kMaxTileRows[block.vectors]);
      for (int64_t ky = 0; ky < g.kernel; ++ky) {
        const float* weight_block = transposed_weights + ky * channels * kernel_row + j0;
        for (int64_t oy = 0; oy < g.out_height; ++oy) {
          const float* gradient_row = gradient_image + oy * g.out_width * channels;
          float* target_row = target_image + (oy * g.stride + ky) * padded_row + j0;
          for (int64_t ox = 0; ox < g.out_width; ox += tile) {
            Dispatch<InputGradientKernel>(
                block.vectors, std::min(tile, g.out_width - ox), gradient_row + ox * channels, channels, weight_block,
                kernel_row, channels, target_row + ox * g.stride * g.in_channels, g.stride * g.in_channels, block.last);
          }
        }
      }
    }
  }
}

namespace {

// Kernel widths and pooled rows the kernel below takes: its register tile is one kernel row's taps by the channel
// block, and its route masks for one pooled row live on the stack.
constexpr int64_t kMaxRoutedKernel = 7;
constexpr int64_t kMaxRoutedPooledWidth = 64;

// Whether two kernel rows' taps (2 x kernel x vectors accumulators) fit the routed kernel's register tile.
constexpr bool RoutesTwoKernelRows(int64_t kernel, int64_t vectors) { return 2 * kernel * vectors <= 20; }

// Calls visit(k, t, v) for every accumulator of a KR x K x NV register tile, unrolled.
template <int KR, int K, int NV, typename Visit>
inline __attribute__((always_inline)) void ForEachAccumulator(Visit visit) {
#pragma GCC unroll 2
  for (int k = 0; k < KR; ++k) {
#pragma GCC unroll 8
    for (int t = 0; t < K; ++t) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) visit(k, t, v);
    }
  }
}

// The weight-gradient rows of KR kernel rows (KR x K taps x NV vectors of channels) over one pooled row of one image,
// `input_rows` at the first kernel row's input row: for each of the pooled row's two image rows, each window's
// routed pixel in that row (lanes of `routed[qx][dy]`) adds input x gradient, its input picked per lane from the
// window's two columns by `right[qx][dy]` (a permute of the two candidate inputs), in the dense kernel's order (rows,
// then columns, ascending). `first`: the chains start from +0 instead of `c`.
template <int K, int KR, int NV>
void RoutedWeightGradientRow(const float* input_rows, int64_t padded_row, const float* pooled_gradient_row,
                             int64_t channels, int64_t pooled_width, const __mmask16 (*routed)[2][kMaxVectors],
                             const __mmask16 (*right)[2][kMaxVectors], bool first, float* c, __mmask16 last) {
  __m512 acc[KR][K][NV];
  ForEachAccumulator<KR, K, NV>([&](int k, int t, int v) __attribute__((always_inline)) {
    acc[k][t][v] = first ? _mm512_setzero_ps()
                         : _mm512_maskz_loadu_ps(VectorMask<NV>(v, last), c + (k * K + t) * channels + 16 * v);
  });
  const __m512i one = _mm512_set1_epi32(1);
  for (int dy = 0; dy < 2; ++dy) {
    const float* row = input_rows + dy * padded_row;
    for (int64_t qx = 0; qx < pooled_width; ++qx) {
      __m512 gradient[NV];
      __m512i column[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        gradient[v] = _mm512_maskz_loadu_ps(routed[qx][dy][v], pooled_gradient_row + qx * channels + 16 * v);
        column[v] = _mm512_maskz_mov_epi32(right[qx][dy][v], one);
      }
#pragma GCC unroll 2
      for (int k = 0; k < KR; ++k) {
        const float* window = row + k * padded_row + 2 * qx;
#pragma GCC unroll 8
        for (int t = 0; t < K; ++t) {
          // Lanes 0 and 1: the inputs of tap t at the window's left and right column.
          const __m512 pair =
              _mm512_castpd_ps(_mm512_castpd128_pd512(_mm_load_sd(reinterpret_cast<const double*>(window + t))));
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) {
            acc[k][t][v] = _mm512_fmadd_ps(_mm512_permutexvar_ps(column[v], pair), gradient[v], acc[k][t][v]);
          }
        }
      }
    }
  }
  ForEachAccumulator<KR, K, NV>([&](int k, int t, int v) __attribute__((always_inline)) {
    _mm512_mask_storeu_ps(c + (k * K + t) * channels + 16 * v, VectorMask<NV>(v, last), acc[k][t][v]);
  });
}

template <int K, int NV>
struct RoutedWeightGradientKernel {
  template <typename... Arguments>
  static void Run(int64_t kernel_rows, Arguments... arguments) {
    if constexpr (RoutesTwoKernelRows(K, NV)) {
      if (kernel_rows == 2) return RoutedWeightGradientRow<K, 2, NV>(arguments...);
    }
    RoutedWeightGradientRow<K, 1, NV>(arguments...);
  }
};

template <int K, typename... Arguments>
void DispatchRoutedVectors(int64_t vectors, Arguments... arguments) {
  switch (vectors) {
    case 1: RoutedWeightGradientKernel<K, 1>::Run(arguments...); break;
    case 2: RoutedWeightGradientKernel<K, 2>::Run(arguments...); break;
    case 3: RoutedWeightGradientKernel<K, 3>::Run(arguments...); break;
    default: RoutedWeightGradientKernel<K, 4>::Run(arguments...); break;
  }
}

template <typename... Arguments>
void DispatchRouted(int64_t kernel, int64_t vectors, Arguments... arguments) {
  switch (kernel) {
    case 1: DispatchRoutedVectors<1>(vectors, arguments...); break;
    case 2: DispatchRoutedVectors<2>(vectors, arguments...); break;
    case 3: DispatchRoutedVectors<3>(vectors, arguments...); break;
    case 4: DispatchRoutedVectors<4>(vectors, arguments...); break;
    case 5: DispatchRoutedVectors<5>(vectors, arguments...); break;
    case 6: DispatchRoutedVectors<6>(vectors, arguments...); break;
    default: DispatchRoutedVectors<7>(vectors, arguments...); break;
  }
}

}  // namespace

bool CanRouteMaxPoolWeightGradient(const ConvolutionGeometry& g) {
  return g.in_channels == 1 && g.stride == 1 && g.kernel <= kMaxRoutedKernel && g.out_height >= 2 &&
         g.out_width >= 2 && g.out_width / 2 <= kMaxRoutedPooledWidth;
}

void DirectConvolutionWeightGradientThroughMaxPool(const ConvolutionGeometry& g, int64_t batch,
                                                   const float* padded_input, const float* convolution_output,
                                                   const float* pooled_output, const float* pooled_gradient,
                                                   bool overwrite, float* weight_gradient, float* bias_gradient) {
  const int64_t channels = g.out_channels;
  const int64_t pooled_height = g.out_height / 2, pooled_width = g.out_width / 2;
  const int64_t padded_image = g.padded_height * g.padded_width;
  const int64_t out_row = g.out_width * channels;
  const int64_t out_image = g.out_height * out_row;
  const int64_t pooled_image = pooled_height * pooled_width * channels;
  // Per window of the pooled row and row of the window: the lanes routed there, and of those the ones routed to the
  // right column.
  __mmask16 routed[kMaxRoutedPooledWidth][2][kMaxVectors];
  __mmask16 right[kMaxRoutedPooledWidth][2][kMaxVectors];
  for (int64_t first_channel = 0; first_channel < channels; first_channel += 16 * kMaxVectors) {
    const ChannelBlock block = Block(first_channel, channels);
    const auto lanes_of = [&](int64_t v) { return v == block.vectors - 1 ? block.last : __mmask16{0xFFFF}; };
    // Two kernel rows per pass where their taps fit the register tile.
    const int64_t rows_per_pass = RoutesTwoKernelRows(g.kernel, block.vectors) ? 2 : 1;
    __m512 bias_sums[kMaxVectors];
    if (bias_gradient != nullptr) {
      for (int64_t v = 0; v < block.vectors; ++v) {
        bias_sums[v] = overwrite ? _mm512_setzero_ps()
                                 : _mm512_maskz_loadu_ps(lanes_of(v), bias_gradient + first_channel + 16 * v);
      }
    }
    for (int64_t image = 0; image < batch; ++image) {
      const float* input_image = padded_input + image * padded_image;
      const float* output_image = convolution_output + image * out_image + first_channel;
      const float* maxima_image = pooled_output + image * pooled_image + first_channel;
      const float* gradient_image = pooled_gradient + image * pooled_image + first_channel;
      for (int64_t qy = 0; qy < pooled_height; ++qy) {
        // The pool's routing: the first pixel of each window, in row-major order, equal to the window's maximum.
        for (int64_t qx = 0; qx < pooled_width; ++qx) {
          const float* window = output_image + 2 * qy * out_row + 2 * qx * channels;
          const float* maxima = maxima_image + (qy * pooled_width + qx) * channels;
          for (int64_t v = 0; v < block.vectors; ++v) {
            const __mmask16 lanes = lanes_of(v);
            const float* const pixels[4] = {window + 16 * v, window + channels + 16 * v, window + out_row + 16 * v,
                                            window + out_row + channels + 16 * v};
            __mmask16 hit[4];
            FirstMaximum2x2(lanes, _mm512_maskz_loadu_ps(lanes, maxima + 16 * v), pixels, hit);
            for (int dy = 0; dy < 2; ++dy) {
              routed[qx][dy][v] = static_cast<__mmask16>(hit[2 * dy] | hit[2 * dy + 1]);
              right[qx][dy][v] = hit[2 * dy + 1];
            }
          }
        }
        const float* gradient_row = gradient_image + qy * pooled_width * channels;
        if (bias_gradient != nullptr) {
          // The bias gradient's sum over the routed pixels, rows then columns, as AddRows adds the unfused gradient.
          for (int dy = 0; dy < 2; ++dy) {
            for (int64_t qx = 0; qx < pooled_width; ++qx) {
              for (int64_t v = 0; v < block.vectors; ++v) {
                bias_sums[v] = _mm512_add_ps(
                    bias_sums[v], _mm512_maskz_loadu_ps(routed[qx][dy][v], gradient_row + qx * channels + 16 * v));
              }
            }
          }
        }
        for (int64_t ky = 0; ky < g.kernel; ky += rows_per_pass) {
          DispatchRouted(g.kernel, block.vectors, std::min(rows_per_pass, g.kernel - ky),
                         input_image + (2 * qy + ky) * g.padded_width, g.padded_width, gradient_row, channels,
                         pooled_width, static_cast<const __mmask16(*)[2][kMaxVectors]>(routed),
                         static_cast<const __mmask16(*)[2][kMaxVectors]>(right), overwrite && image == 0 && qy == 0,
                         weight_gradient + ky * g.kernel * channels + first_channel, block.last);
        }
      }
    }
    if (bias_gradient != nullptr) {
      for (int64_t v = 0; v < block.vectors; ++v) {
        _mm512_mask_storeu_ps(bias_gradient + first_channel + 16 * v, lanes_of(v), bias_sums[v]);
      }
    }
  }
}

#endif  // defined(__AVX512F__)

}  // namespace parsity::nn_internal
