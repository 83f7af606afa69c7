#include "training/nn/pooling.h"

#include <algorithm>
#include <utility>

#include "tools/base/check.h"
#include "training/nn/internal/max_pool_routing.h"
#include "training/nn/internal/vector_ops.h"

namespace parsity::nn {
namespace {

using nn_internal::AddFloats;
using nn_internal::ArrayMap;
using nn_internal::ConstStridedMatrixMap;
using nn_internal::CopyFloats;
using nn_internal::StoreFloats;
using nn_internal::StridedMatrixMap;
using nn_internal::ZeroFloats;

ImageShape PooledShape(const ImageShape& input, const PoolOptions& options) {
  PARSITY_CHECK(options.window >= 1 && options.stride >= 1);
  return ImageShape{PaddedOutputSize(input.height, options.window, options.stride, Padding::kValid),
                    PaddedOutputSize(input.width, options.window, options.stride, Padding::kValid), input.channels};
}

// The input pixels at window offset (ky, kx) of output row `out_y` of one example, as a (out_width x channels)
// matrix whose rows are `stride` pixels apart.
ConstStridedMatrixMap WindowRows(const float* image, const ImageShape& in, const ImageShape& out,
                                 const PoolOptions& options, int64_t out_y, int64_t ky, int64_t kx) {
  return ConstStridedMatrixMap(image + ((out_y * options.stride + ky) * in.width + kx) * in.channels, out.width,
                               in.channels, Eigen::OuterStride<>(options.stride * in.channels));
}

StridedMatrixMap MutableWindowRows(float* image, const ImageShape& in, const ImageShape& out,
                                   const PoolOptions& options, int64_t out_y, int64_t ky, int64_t kx) {
  return StridedMatrixMap(image + ((out_y * options.stride + ky) * in.width + kx) * in.channels, out.width, in.channels,
                          Eigen::OuterStride<>(options.stride * in.channels));
}

nn_internal::MatrixMap OutputRows(float* output, const ImageShape& out, int64_t example, int64_t out_y) {
  return nn_internal::MatrixMap(output + (example * out.height + out_y) * out.width * out.channels, out.width,
                                out.channels);
}

nn_internal::ConstMatrixMap OutputRows(const float* output, const ImageShape& out, int64_t example, int64_t out_y) {
  return nn_internal::ConstMatrixMap(output + (example * out.height + out_y) * out.width * out.channels, out.width,
                                     out.channels);
}

// Routes the gradient of one output pixel's `channels` values to the first input of its window equal to the output.
// `window_inputs[w]` / `window_gradients[w]` point at the window's w-th pixel (row-major window order). Adds the
// gradient onto the routed element, or, with `write_window` (windows that tile the input, gradient overwritten), writes
// every element of the window once: the gradient where routed, zero elsewhere, so the caller need not zero the window
// first. `+ 0` keeps the zero-then-add values exactly (a routed -0 becomes +0).
void RouteMaxGradient(const float* output, const float* output_gradient, int64_t channels,
                      const float* const* window_inputs, float* const* window_gradients, int64_t window_pixels,
                      bool write_window) {
#if defined(__AVX512F__)
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t c = 0; c < channels; c += 16) {
    const __mmask16 lanes = nn_internal::TailMask(std::min<int64_t>(16, channels - c));
    const __m512 maximum = _mm512_maskz_loadu_ps(lanes, output + c);
    const __m512 gradient = _mm512_maskz_loadu_ps(lanes, output_gradient + c);
    __mmask16 unrouted = lanes;
    for (int64_t w = 0; w < window_pixels && (write_window || unrouted != 0); ++w) {
      const __mmask16 hit =
          _mm512_mask_cmp_ps_mask(unrouted, _mm512_maskz_loadu_ps(lanes, window_inputs[w] + c), maximum, _CMP_EQ_OQ);
      unrouted = static_cast<__mmask16>(unrouted & ~hit);
      float* destination = window_gradients[w] + c;
      if (write_window) {
        _mm512_mask_storeu_ps(destination, lanes, _mm512_add_ps(_mm512_maskz_mov_ps(hit, gradient), zero));
      } else {
        _mm512_mask_storeu_ps(destination, hit, _mm512_add_ps(_mm512_maskz_loadu_ps(hit, destination), gradient));
      }
    }
  }
#else
  for (int64_t c = 0; c < channels; ++c) {
    bool routed = false;
    for (int64_t w = 0; w < window_pixels; ++w) {
      const bool hit = !routed && window_inputs[w][c] == output[c];
      routed = routed || hit;
      if (write_window) {
        window_gradients[w][c] = (hit ? output_gradient[c] : 0.0f) + 0.0f;
      } else if (hit) {
        window_gradients[w][c] += output_gradient[c];
        break;
      }
    }
  }
#endif
}

#if defined(__AVX512F__)
// The 2 x 2, stride 2 windows of the networks: one pass over each output row instead of Eigen's four. The same
// operations as the general path's cwiseMax, in the same order (the maximum so far, replaced by a window pixel only
// when smaller: _mm512_max_ps returns its second operand on ties and NaN), so the same bits, signed zeros included.
void MaxPool2x2(const float* image, const ImageShape& in, const ImageShape& out, float* output) {
  const int64_t channels = in.channels;
  const int64_t row = in.width * channels;
  for (int64_t out_y = 0; out_y < out.height; ++out_y) {
    const float* top = image + 2 * out_y * row;
    for (int64_t out_x = 0; out_x < out.width; ++out_x) {
      const float* window = top + 2 * out_x * channels;
      float* pixel = output + (out_y * out.width + out_x) * channels;
      for (int64_t c = 0; c < channels; c += 16) {
        const __mmask16 lanes = nn_internal::TailMask(std::min<int64_t>(16, channels - c));
        __m512 maximum = _mm512_maskz_loadu_ps(lanes, window + c);
        maximum = _mm512_max_ps(_mm512_maskz_loadu_ps(lanes, window + channels + c), maximum);
        maximum = _mm512_max_ps(_mm512_maskz_loadu_ps(lanes, window + row + c), maximum);
        maximum = _mm512_max_ps(_mm512_maskz_loadu_ps(lanes, window + row + channels + c), maximum);
        _mm512_mask_storeu_ps(pixel + c, lanes, maximum);
      }
    }
  }
}

// The 2 x 2, stride 2 windows of the networks with the gradient overwritten: each covered input element is written
// once, as RouteMaxGradient's write_window path would, from the rows of one example. The first-hit masks come from
// nn_internal::FirstMaximum2x2, and pixels are addressed directly, without RouteMaxGradient's pointer tables:
// this was 12-17% of Simple-CNN's 98%-sparse step.
void RouteMaxGradient2x2(const float* image, const float* output, const float* output_gradient, const ImageShape& in,
                         const ImageShape& out, float* image_gradient) {
  const int64_t channels = in.channels;
  const int64_t row = in.width * channels;
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t out_y = 0; out_y < out.height; ++out_y) {
    const float* top = image + 2 * out_y * row;
    float* top_gradient = image_gradient + 2 * out_y * row;
    for (int64_t out_x = 0; out_x < out.width; ++out_x) {
      const int64_t pixel = (out_y * out.width + out_x) * channels;
      const int64_t left = 2 * out_x * channels;
      for (int64_t c = 0; c < channels; c += 16) {
        const __mmask16 lanes = nn_internal::TailMask(std::min<int64_t>(16, channels - c));
        const __m512 maximum = _mm512_maskz_loadu_ps(lanes, output + pixel + c);
        const __m512 gradient = _mm512_maskz_loadu_ps(lanes, output_gradient + pixel + c);
        const int64_t at[4] = {left + c, left + channels + c, row + left + c, row + left + channels + c};
        const float* const window[4] = {top + at[0], top + at[1], top + at[2], top + at[3]};
        __mmask16 hit[4];
        nn_internal::FirstMaximum2x2(lanes, maximum, window, hit);
#pragma GCC unroll 4
        for (int w = 0; w < 4; ++w) {
          _mm512_mask_storeu_ps(top_gradient + at[w], lanes, _mm512_add_ps(_mm512_maskz_mov_ps(hit[w], gradient), zero));
        }
      }
    }
  }
}
#endif

}  // namespace

MaxPoolLayer::MaxPoolLayer(std::string name, const ImageShape& input_shape, const PoolOptions& options)
    : Layer(std::move(name), {input_shape}, PooledShape(input_shape, options)), options_(options) {}

void MaxPoolLayer::Forward(const ForwardArguments& arguments) const {
  const ImageShape& in = input_shapes()[0];
  const ImageShape& out = output_shape();
#if defined(__AVX512F__)
  if (options_.window == 2 && options_.stride == 2) {
    for (int64_t example = 0; example < arguments.batch; ++example) {
      MaxPool2x2(arguments.inputs[0] + example * in.size(), in, out, arguments.output + example * out.size());
    }
    return;
  }
#endif
  for (int64_t example = 0; example < arguments.batch; ++example) {
    const float* image = arguments.inputs[0] + example * in.size();
    for (int64_t out_y = 0; out_y < out.height; ++out_y) {
      nn_internal::MatrixMap rows = OutputRows(arguments.output, out, example, out_y);
      rows = WindowRows(image, in, out, options_, out_y, 0, 0);
      for (int64_t ky = 0; ky < options_.window; ++ky) {
        for (int64_t kx = ky == 0 ? 1 : 0; kx < options_.window; ++kx) {
          rows = rows.cwiseMax(WindowRows(image, in, out, options_, out_y, ky, kx));
        }
      }
    }
  }
}

void MaxPoolLayer::Backward(const BackwardArguments& arguments) const {
  float* input_gradient = arguments.input_gradients[0];
  if (input_gradient == nullptr) return;
  const ImageShape& in = input_shapes()[0];
  const ImageShape& out = output_shape();
  // Windows that tile the input write each covered element once; only the rows and columns no window covers need
  // zeros. Otherwise (overlapping windows) gradients add up on a zeroed input gradient.
  const bool overwrite = arguments.input_gradient_modes[0] == GradientMode::kOverwrite;
  const bool write_window = overwrite && options_.window == options_.stride;
  if (write_window) {
    const int64_t covered_height = out.height * options_.stride, covered_width = out.width * options_.stride;
    for (int64_t example = 0; example < arguments.batch; ++example) {
      float* image_gradient = input_gradient + example * in.size();
      for (int64_t y = 0; y < in.height; ++y) {
        const int64_t first = y < covered_height ? covered_width : 0;
        ZeroFloats((in.width - first) * in.channels, image_gradient + (y * in.width + first) * in.channels);
      }
    }
  } else if (overwrite) {
    ZeroFloats(arguments.batch * in.size(), input_gradient);
  }
#if defined(__AVX512F__)
  if (write_window && options_.window == 2) {
    for (int64_t example = 0; example < arguments.batch; ++example) {
      const int64_t pixels = example * out.size();
      RouteMaxGradient2x2(arguments.inputs[0] + example * in.size(), arguments.output + pixels,
                          arguments.output_gradient + pixels, in, out, input_gradient + example * in.size());
    }
    return;
  }
#endif
  constexpr int64_t kMaxWindowPixels = 64;
  const int64_t window_pixels = options_.window * options_.window;
  PARSITY_CHECK(window_pixels <= kMaxWindowPixels);
  const float* window_inputs[kMaxWindowPixels];
  float* window_gradients[kMaxWindowPixels];
  for (int64_t example = 0; example < arguments.batch; ++example) {
    const float* image = arguments.inputs[0] + example * in.size();
    float* image_gradient = input_gradient + example * in.size();
    for (int64_t out_y = 0; out_y < out.height; ++out_y) {
      for (int64_t out_x = 0; out_x < out.width; ++out_x) {
        int64_t w = 0;
        for (int64_t ky = 0; ky < options_.window; ++ky) {
          for (int64_t kx = 0; kx < options_.window; ++kx, ++w) {
            const int64_t offset =
                ((out_y * options_.stride + ky) * in.width + out_x * options_.stride + kx) * in.channels;
            window_inputs[w] = image + offset;
            window_gradients[w] = image_gradient + offset;
          }
        }
        const int64_t pixel = ((example * out.height + out_y) * out.width + out_x) * out.channels;
        RouteMaxGradient(arguments.output + pixel, arguments.output_gradient + pixel, out.channels, window_inputs,
                         window_gradients, window_pixels, write_window);
      }
    }
  }
}

AveragePoolLayer::AveragePoolLayer(std::string name, const ImageShape& input_shape, const PoolOptions& options)
    : Layer(std::move(name), {input_shape}, PooledShape(input_shape, options)), options_(options) {}

void AveragePoolLayer::Forward(const ForwardArguments& arguments) const {
  const ImageShape& in = input_shapes()[0];
  const ImageShape& out = output_shape();
  const float scale = 1.0f / static_cast<float>(options_.window * options_.window);
  for (int64_t example = 0; example < arguments.batch; ++example) {
    const float* image = arguments.inputs[0] + example * in.size();
    for (int64_t out_y = 0; out_y < out.height; ++out_y) {
      nn_internal::MatrixMap rows = OutputRows(arguments.output, out, example, out_y);
      rows = WindowRows(image, in, out, options_, out_y, 0, 0);
      for (int64_t ky = 0; ky < options_.window; ++ky) {
        for (int64_t kx = ky == 0 ? 1 : 0; kx < options_.window; ++kx) {
          rows += WindowRows(image, in, out, options_, out_y, ky, kx);
        }
      }
      rows *= scale;
    }
  }
}

void AveragePoolLayer::Backward(const BackwardArguments& arguments) const {
  float* input_gradient = arguments.input_gradients[0];
  if (input_gradient == nullptr) return;
  const ImageShape& in = input_shapes()[0];
  const ImageShape& out = output_shape();
  if (arguments.input_gradient_modes[0] == GradientMode::kOverwrite) {
    ZeroFloats(arguments.batch * in.size(), input_gradient);
  }
  const float scale = 1.0f / static_cast<float>(options_.window * options_.window);
  for (int64_t example = 0; example < arguments.batch; ++example) {
    float* image_gradient = input_gradient + example * in.size();
    for (int64_t out_y = 0; out_y < out.height; ++out_y) {
      const nn_internal::ConstMatrixMap rows = OutputRows(arguments.output_gradient, out, example, out_y);
      for (int64_t ky = 0; ky < options_.window; ++ky) {
        for (int64_t kx = 0; kx < options_.window; ++kx) {
          MutableWindowRows(image_gradient, in, out, options_, out_y, ky, kx) += scale * rows;
        }
      }
    }
  }
}

GlobalAveragePoolLayer::GlobalAveragePoolLayer(std::string name, const ImageShape& input_shape)
    : Layer(std::move(name), {input_shape}, ImageShape{1, 1, input_shape.channels}) {}

void GlobalAveragePoolLayer::Forward(const ForwardArguments& arguments) const {
  const ImageShape& in = input_shapes()[0];
  const int64_t channels = in.channels;
  const int64_t pixels = in.height * in.width;
  const float scale = 1.0f / static_cast<float>(pixels);
  for (int64_t example = 0; example < arguments.batch; ++example) {
    const float* image = arguments.inputs[0] + example * in.size();
    float* sums = arguments.output + example * channels;
    CopyFloats(image, channels, sums);
    for (int64_t pixel = 1; pixel < pixels; ++pixel) AddFloats(image + pixel * channels, channels, sums);
    ArrayMap(sums, channels) *= scale;
  }
}

void GlobalAveragePoolLayer::Backward(const BackwardArguments& arguments) const {
  float* input_gradient = arguments.input_gradients[0];
  if (input_gradient == nullptr) return;
  const ImageShape& in = input_shapes()[0];
  const int64_t channels = in.channels;
  const int64_t pixels = in.height * in.width;
  const float scale = 1.0f / static_cast<float>(pixels);
  constexpr int64_t kMaxChannels = 1024;
  PARSITY_CHECK(channels <= kMaxChannels);
  float scaled[kMaxChannels];
  for (int64_t example = 0; example < arguments.batch; ++example) {
    ArrayMap(scaled, channels) =
        scale * nn_internal::ConstArrayMap(arguments.output_gradient + example * channels, channels);
    float* image_gradient = input_gradient + example * in.size();
    for (int64_t pixel = 0; pixel < pixels; ++pixel) {
      StoreFloats(scaled, channels, arguments.input_gradient_modes[0], image_gradient + pixel * channels);
    }
  }
}

}  // namespace parsity::nn
