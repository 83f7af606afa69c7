#include "training/nn/residual.h"

#include <utility>

#include "tools/base/check.h"
#include "training/nn/internal/vector_ops.h"

namespace parsity::nn {
namespace {

using nn_internal::ConstStridedMatrixMap;
using nn_internal::StridedMatrixMap;

ImageShape ShortcutShape(const ImageShape& input, int64_t out_channels) {
  PARSITY_CHECK(input.height % 2 == 0 && input.width % 2 == 0);
  PARSITY_CHECK(out_channels >= input.channels);
  return ImageShape{input.height / 2, input.width / 2, out_channels};
}

}  // namespace

ResidualAddLayer::ResidualAddLayer(std::string name, const ImageShape& shape)
    : Layer(std::move(name), {shape, shape}, shape) {}

void ResidualAddLayer::Forward(const ForwardArguments& arguments) const {
  const int64_t n = arguments.batch * output_shape().size();
  nn_internal::ArrayMap(arguments.output, n) =
      nn_internal::ConstArrayMap(arguments.inputs[0], n) + nn_internal::ConstArrayMap(arguments.inputs[1], n);
}

void ResidualAddLayer::Backward(const BackwardArguments& arguments) const {
  const int64_t n = arguments.batch * output_shape().size();
  for (int input = 0; input < 2; ++input) {
    if (arguments.input_gradients[input] == nullptr) continue;
    nn_internal::StoreFloats(arguments.output_gradient, n, arguments.input_gradient_modes[input],
                             arguments.input_gradients[input]);
  }
}

ShortcutLayer::ShortcutLayer(std::string name, const ImageShape& input_shape, int64_t out_channels)
    : Layer(std::move(name), {input_shape}, ShortcutShape(input_shape, out_channels)) {}

void ShortcutLayer::Forward(const ForwardArguments& arguments) const {
  const ImageShape& in = input_shapes()[0];
  const ImageShape& out = output_shape();
  const Eigen::OuterStride<> input_stride(2 * in.channels);
  const Eigen::OuterStride<> output_stride(out.channels);
  for (int64_t example = 0; example < arguments.batch; ++example) {
    const float* image = arguments.inputs[0] + example * in.size();
    for (int64_t out_y = 0; out_y < out.height; ++out_y) {
      const float* top = image + 2 * out_y * in.width * in.channels;
      const float* bottom = top + in.width * in.channels;
      float* output_row = arguments.output + (example * out.height + out_y) * out.width * out.channels;
      StridedMatrixMap(output_row, out.width, in.channels, output_stride) =
          0.25f * (ConstStridedMatrixMap(top, out.width, in.channels, input_stride) +
                   ConstStridedMatrixMap(top + in.channels, out.width, in.channels, input_stride) +
                   ConstStridedMatrixMap(bottom, out.width, in.channels, input_stride) +
                   ConstStridedMatrixMap(bottom + in.channels, out.width, in.channels, input_stride));
      if (out.channels > in.channels) {
        StridedMatrixMap(output_row + in.channels, out.width, out.channels - in.channels, output_stride).setZero();
      }
    }
  }
}

void ShortcutLayer::Backward(const BackwardArguments& arguments) const {
  float* input_gradient = arguments.input_gradients[0];
  if (input_gradient == nullptr) return;
  const ImageShape& in = input_shapes()[0];
  const ImageShape& out = output_shape();
  const bool overwrite = arguments.input_gradient_modes[0] == GradientMode::kOverwrite;
  const Eigen::OuterStride<> input_stride(2 * in.channels);
  const Eigen::OuterStride<> output_stride(out.channels);
  for (int64_t example = 0; example < arguments.batch; ++example) {
    float* image_gradient = input_gradient + example * in.size();
    for (int64_t out_y = 0; out_y < out.height; ++out_y) {
      const ConstStridedMatrixMap output_rows(
          arguments.output_gradient + (example * out.height + out_y) * out.width * out.channels, out.width, in.channels,
          output_stride);
      float* top = image_gradient + 2 * out_y * in.width * in.channels;
      float* bottom = top + in.width * in.channels;
      for (float* corner : {top, top + in.channels, bottom, bottom + in.channels}) {
        StridedMatrixMap corner_rows(corner, out.width, in.channels, input_stride);
        if (overwrite) {
          corner_rows = 0.25f * output_rows;
        } else {
          corner_rows += 0.25f * output_rows;
        }
      }
    }
  }
}

}  // namespace parsity::nn
