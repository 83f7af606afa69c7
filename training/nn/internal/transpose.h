// Matrix transposes in 16 x 16 tiles held in registers (AVX-512 builds; plain loops elsewhere, the same values: a
// transpose only copies or adds once per element). The layers use them to turn NHWC rows into channel planes and
// back, and to transpose weight matrices for input gradients.
//
//   Transpose<false>(weights, in, out, out, transposed, in);  // transposed[o * in + i] = weights[i * out + o]
#ifndef PARSITY_TRAINING_NN_INTERNAL_TRANSPOSE_H_
#define PARSITY_TRAINING_NN_INTERNAL_TRANSPOSE_H_

#include <algorithm>
#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace parsity::nn_internal {

#if defined(__AVX512F__)
// One tile of up to 16 x 16 in registers: `rows` source rows of `columns` floats are loaded (the rest of the 16 x 16
// is zero), transposed by three rounds of shuffles (within 128-bit lanes, of 64-bit pairs, of lanes), and `columns`
// destination rows of `rows` floats are stored or added. Partial tiles matter: a 14-pixel image row is one.
template <bool kAccumulate>
inline void TransposeTile(const float* source, int64_t rows, int64_t columns, int64_t source_stride,
                          float* destination, int64_t destination_stride) {
  const __mmask16 column_lanes = static_cast<__mmask16>((1u << columns) - 1u);
  const __mmask16 row_lanes = static_cast<__mmask16>((1u << rows) - 1u);
  __m512 r[16], t[16], u[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) {
    r[i] = i < rows ? _mm512_maskz_loadu_ps(column_lanes, source + i * source_stride) : _mm512_setzero_ps();
  }
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4g + c], 128-bit lane k: rows 4g .. 4g + 3 of column 4k + c.
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) {
    const __m512d t0 = _mm512_castps_pd(t[4 * g]), t1 = _mm512_castps_pd(t[4 * g + 1]);
    const __m512d t2 = _mm512_castps_pd(t[4 * g + 2]), t3 = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
  }
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m512 low0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), low1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
    const __m512 high0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE), high1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
    r[c] = _mm512_shuffle_f32x4(low0, low1, 0x88);
    r[4 + c] = _mm512_shuffle_f32x4(low0, low1, 0xDD);
    r[8 + c] = _mm512_shuffle_f32x4(high0, high1, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(high0, high1, 0xDD);
  }
#pragma GCC unroll 16
  for (int j = 0; j < 16; ++j) {
    if (j >= columns) break;
    float* target = destination + j * destination_stride;
    if constexpr (kAccumulate) {
      _mm512_mask_storeu_ps(target, row_lanes, _mm512_add_ps(_mm512_maskz_loadu_ps(row_lanes, target), r[j]));
    } else {
      _mm512_mask_storeu_ps(target, row_lanes, r[j]);
    }
  }
}
#endif

// destination[j * destination_stride + i] (= or +=) source[i * source_stride + j] for i < rows, j < columns, in
// 16 x 16 tiles (in registers where the build has AVX-512).
template <bool kAccumulate>
inline void Transpose(const float* source, int64_t rows, int64_t columns, int64_t source_stride, float* destination,
               int64_t destination_stride) {
  constexpr int64_t kTile = 16;
  for (int64_t i0 = 0; i0 < rows; i0 += kTile) {
    const int64_t i1 = std::min(rows, i0 + kTile);
    for (int64_t j0 = 0; j0 < columns; j0 += kTile) {
      const int64_t j1 = std::min(columns, j0 + kTile);
#if defined(__AVX512F__)
      TransposeTile<kAccumulate>(source + i0 * source_stride + j0, i1 - i0, j1 - j0, source_stride,
                                 destination + j0 * destination_stride + i0, destination_stride);
#else
      for (int64_t j = j0; j < j1; ++j) {
        float* target = destination + j * destination_stride;
        for (int64_t i = i0; i < i1; ++i) {
          if constexpr (kAccumulate) {
            target[i] += source[i * source_stride + j];
          } else {
            target[i] = source[i * source_stride + j];
          }
        }
      }
#endif
    }
  }
}

}  // namespace parsity::nn_internal

#endif  // PARSITY_TRAINING_NN_INTERNAL_TRANSPOSE_H_
