// The 2 x 2 max-pool's routing rule, shared by MaxPoolLayer's backward pass and by a convolution that takes the pool's
// gradient in pooled form (Layer::TakesPooledGradient): the two must route alike to give the same bits.
#ifndef PARSITY_TRAINING_NN_INTERNAL_MAX_POOL_ROUTING_H_
#define PARSITY_TRAINING_NN_INTERNAL_MAX_POOL_ROUTING_H_

#if defined(__AVX512F__)
#include <immintrin.h>

namespace parsity::nn_internal {

// For one 2 x 2 window and 16 channels: hit[w] holds the lanes (of `lanes`) whose element w, in row-major window order,
// is the first to equal `maximum`. The four elements are compared at once and the first hits derived afterwards, the
// same masks as testing them in turn.
inline void FirstMaximum2x2(__mmask16 lanes, __m512 maximum, const float* const window[4], __mmask16 hit[4]) {
  __mmask16 routed = 0;
#pragma GCC unroll 4
  for (int w = 0; w < 4; ++w) {
    const __mmask16 equal =
        _mm512_mask_cmp_ps_mask(lanes, _mm512_maskz_loadu_ps(lanes, window[w]), maximum, _CMP_EQ_OQ);
    hit[w] = static_cast<__mmask16>(equal & ~routed);
    routed = static_cast<__mmask16>(routed | hit[w]);
  }
}

}  // namespace parsity::nn_internal

#endif  // defined(__AVX512F__)

#endif  // PARSITY_TRAINING_NN_INTERNAL_MAX_POOL_ROUTING_H_
