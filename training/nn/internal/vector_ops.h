// Short elementwise loops the layers run on rows of a few dozen to a few thousand floats, and the Eigen maps they
// multiply with. With AVX-512 (the study machines; `-march=native`) the loops use 16-float vectors with a masked tail
// (Eigen 3.4 does not vectorize `select`, and libc's memcpy costs a call per tiny row); elsewhere plain loops.
// Both paths give the same bits: every operation is exact per element (copy, max, compare-select) or one float add.
//
//   CopyFloats(column_row, image_row, kernel_width * channels);
//   ReluBackward(output, output_gradient, n, GradientMode::kAccumulate, input_gradient);
#ifndef PARSITY_TRAINING_NN_INTERNAL_VECTOR_OPS_H_
#define PARSITY_TRAINING_NN_INTERNAL_VECTOR_OPS_H_

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "Eigen/Core"
#include "training/nn/layer.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace parsity::nn_internal {

using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMajorMatrix>;
using ConstMatrixMap = Eigen::Map<const RowMajorMatrix>;
// A row-major matrix whose rows are `stride` floats apart (e.g. every second pixel of an image row).
using StridedMatrixMap = Eigen::Map<RowMajorMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using ConstStridedMatrixMap = Eigen::Map<const RowMajorMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

#if defined(__AVX512F__)
// Lanes [0, n) for 0 <= n <= 16.
inline __mmask16 TailMask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }
#endif

// destination[i] = source[i] for i in [0, n). The ranges must not overlap.
inline void CopyFloats(const float* source, int64_t n, float* destination) {
#if defined(__AVX512F__)
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(destination + i, _mm512_loadu_ps(source + i));
  if (i < n) {
    const __mmask16 mask = TailMask(n - i);
    _mm512_mask_storeu_ps(destination + i, mask, _mm512_maskz_loadu_ps(mask, source + i));
  }
#else
  std::memcpy(destination, source, static_cast<size_t>(n) * sizeof(float));
#endif
}

// destination[i] = 0 for i in [0, n).
inline void ZeroFloats(int64_t n, float* destination) {
#if defined(__AVX512F__)
  int64_t i = 0;
  const __m512 zero = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(destination + i, zero);
  if (i < n) _mm512_mask_storeu_ps(destination + i, TailMask(n - i), zero);
#else
  std::memset(destination, 0, static_cast<size_t>(n) * sizeof(float));
#endif
}

// destination[i] += source[i] for i in [0, n).
inline void AddFloats(const float* source, int64_t n, float* destination) {
#if defined(__AVX512F__)
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(destination + i, _mm512_add_ps(_mm512_loadu_ps(destination + i), _mm512_loadu_ps(source + i)));
  }
  if (i < n) {
    const __mmask16 mask = TailMask(n - i);
    _mm512_mask_storeu_ps(
        destination + i, mask,
        _mm512_add_ps(_mm512_maskz_loadu_ps(mask, destination + i), _mm512_maskz_loadu_ps(mask, source + i)));
  }
#else
  for (int64_t i = 0; i < n; ++i) destination[i] += source[i];
#endif
}

#if defined(__AVX512F__)
// AddRows over columns [0, 16 * kVectors) of `rows` (the last vector's lanes limited to `last_lanes`).
template <int kVectors>
inline void AddRowsBlock(const float* rows, int64_t count, int64_t columns, __mmask16 last_lanes, float* sums) {
  __m512 accumulators[kVectors];
  const auto lanes = [&](int v) { return v == kVectors - 1 ? last_lanes : static_cast<__mmask16>(0xFFFF); };
#pragma GCC unroll 4
  for (int v = 0; v < kVectors; ++v) accumulators[v] = _mm512_maskz_loadu_ps(lanes(v), sums + 16 * v);
  for (int64_t r = 0; r < count; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) {
      accumulators[v] = _mm512_add_ps(accumulators[v], _mm512_maskz_loadu_ps(lanes(v), rows + r * columns + 16 * v));
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < kVectors; ++v) _mm512_mask_storeu_ps(sums + 16 * v, lanes(v), accumulators[v]);
}
#endif

// sums[c] += rows[r * columns + c] for r = 0 .. count - 1 in that order, c in [0, columns): the same additions as
// `count` calls of AddFloats, with the sums kept in registers (a bias gradient over thousands of pixels).
inline void AddRows(const float* rows, int64_t count, int64_t columns, float* sums) {
#if defined(__AVX512F__)
  for (int64_t c = 0; c < columns; c += 64) {
    const int64_t width = std::min<int64_t>(64, columns - c);
    const __mmask16 last_lanes = TailMask(width - 16 * ((width - 1) / 16));
    switch ((width + 15) / 16) {
      case 1: AddRowsBlock<1>(rows + c, count, columns, last_lanes, sums + c); break;
      case 2: AddRowsBlock<2>(rows + c, count, columns, last_lanes, sums + c); break;
      case 3: AddRowsBlock<3>(rows + c, count, columns, last_lanes, sums + c); break;
      default: AddRowsBlock<4>(rows + c, count, columns, last_lanes, sums + c); break;
    }
  }
#else
  for (int64_t r = 0; r < count; ++r) {
    for (int64_t c = 0; c < columns; ++c) sums[c] += rows[r * columns + c];
  }
#endif
}

// Writes (kOverwrite) or adds (kAccumulate) source into destination.
inline void StoreFloats(const float* source, int64_t n, nn::GradientMode mode, float* destination) {
  if (mode == nn::GradientMode::kOverwrite) {
    CopyFloats(source, n, destination);
  } else {
    AddFloats(source, n, destination);
  }
}

// output[i] = max(input[i], 0), propagating NaN (a diverged run must show NaN in its loss). `output` may equal
// `input`.
inline void ReluForward(const float* input, int64_t n, float* output) {
#if defined(__AVX512F__)
  int64_t i = 0;
  const __m512 zero = _mm512_setzero_ps();
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(output + i, _mm512_max_ps(zero, _mm512_loadu_ps(input + i)));
  if (i < n) {
    const __mmask16 mask = TailMask(n - i);
    _mm512_mask_storeu_ps(output + i, mask, _mm512_max_ps(zero, _mm512_maskz_loadu_ps(mask, input + i)));
  }
#else
  // Same result as vmaxps(0, x): x unless 0 > x, so NaN passes through.
  for (int64_t i = 0; i < n; ++i) output[i] = 0.0f > input[i] ? 0.0f : input[i];
#endif
}

// input_gradient[i] (=|+=) output[i] > 0 ? output_gradient[i] : 0, where output = max(input, 0). The derivative at
// input 0 is taken as 0.
inline void ReluBackward(const float* output, const float* output_gradient, int64_t n, nn::GradientMode mode,
                         float* input_gradient) {
#if defined(__AVX512F__)
  const __m512 zero = _mm512_setzero_ps();
  const bool accumulate = mode == nn::GradientMode::kAccumulate;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __mmask16 positive = _mm512_cmp_ps_mask(_mm512_loadu_ps(output + i), zero, _CMP_GT_OQ);
    const __m512 gradient = _mm512_loadu_ps(output_gradient + i);
    if (accumulate) {
      const __m512 base = _mm512_loadu_ps(input_gradient + i);
      _mm512_storeu_ps(input_gradient + i, _mm512_mask_add_ps(base, positive, base, gradient));
    } else {
      _mm512_storeu_ps(input_gradient + i, _mm512_maskz_mov_ps(positive, gradient));
    }
  }
  if (i < n) {
    const __mmask16 mask = TailMask(n - i);
    const __mmask16 positive = _mm512_mask_cmp_ps_mask(mask, _mm512_maskz_loadu_ps(mask, output + i), zero, _CMP_GT_OQ);
    const __m512 gradient = _mm512_maskz_loadu_ps(mask, output_gradient + i);
    if (accumulate) {
      const __m512 base = _mm512_maskz_loadu_ps(mask, input_gradient + i);
      _mm512_mask_storeu_ps(input_gradient + i, mask, _mm512_mask_add_ps(base, positive, base, gradient));
    } else {
      _mm512_mask_storeu_ps(input_gradient + i, mask, _mm512_maskz_mov_ps(positive, gradient));
    }
  }
#else
  if (mode == nn::GradientMode::kOverwrite) {
    for (int64_t i = 0; i < n; ++i) input_gradient[i] = output[i] > 0.0f ? output_gradient[i] : 0.0f;
  } else {
    for (int64_t i = 0; i < n; ++i) {
      if (output[i] > 0.0f) input_gradient[i] += output_gradient[i];
    }
  }
#endif
}

}  // namespace parsity::nn_internal

#endif  // PARSITY_TRAINING_NN_INTERNAL_VECTOR_OPS_H_
