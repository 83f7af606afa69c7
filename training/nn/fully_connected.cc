#include "training/nn/fully_connected.h"

#include <utility>

#include "tools/base/check.h"
#include "training/nn/internal/direct_convolution.h"
#include "training/nn/internal/vector_ops.h"

namespace parsity::nn {
namespace {

using nn_internal::AddFloats;
using nn_internal::ConstMatrixMap;
using nn_internal::CopyFloats;
using nn_internal::MatrixMap;

ImageShape VectorShape(int64_t features) {
  PARSITY_CHECK(features >= 1);
  return ImageShape{1, 1, features};
}

int64_t RoundUpToCacheLine(int64_t floats) { return (floats + 15) / 16 * 16; }

// The batch as one image row of `batch` pixels with `in` channels, convolved with a 1x1 kernel of `out` channels.
nn_internal::ConvolutionGeometry RowGeometry(int64_t batch, int64_t in, int64_t out) {
  nn_internal::ConvolutionGeometry geometry;
  geometry.padded_height = 1;
  geometry.padded_width = batch;
  geometry.in_channels = in;
  geometry.out_height = 1;
  geometry.out_width = batch;
  geometry.out_channels = out;
  geometry.kernel = 1;
  geometry.stride = 1;
  return geometry;
}

}  // namespace

FullyConnectedLayer::FullyConnectedLayer(std::string name, const ImageShape& input_shape, int64_t out_features,
                                         Implementation implementation)
    : Layer(std::move(name), {input_shape}, VectorShape(out_features)),
      implementation_(ResolveImplementation(implementation)) {}

int64_t FullyConnectedLayer::ScratchFloats(int64_t batch) const {
  static_cast<void>(batch);
  // Direct: the transposed weights (out x in) and in zeros.
  if (implementation_ == Implementation::kDirect) {
    return RoundUpToCacheLine(in_features() * out_features()) + RoundUpToCacheLine(in_features());
  }
  return 0;
}

std::vector<ParameterSpec> FullyConnectedLayer::parameter_specs() const {
  return {ParameterSpec{ParameterKind::kWeights, {in_features(), out_features()}, in_features()},
          ParameterSpec{ParameterKind::kBiases, {out_features()}, in_features()}};
}

int64_t FullyConnectedLayer::MultiplyAddsPerExample() const { return in_features() * out_features(); }

void FullyConnectedLayer::Forward(const ForwardArguments& arguments) const {
  const int64_t in = in_features();
  const int64_t out = out_features();
  if (implementation_ == Implementation::kDirect) {
    nn_internal::DirectConvolutionForward(RowGeometry(arguments.batch, in, out), 1, arguments.inputs[0],
                                          arguments.parameters.weights, arguments.parameters.biases, arguments.output);
    return;
  }
  for (int64_t example = 0; example < arguments.batch; ++example) {
    CopyFloats(arguments.parameters.biases, out, arguments.output + example * out);
  }
  MatrixMap(arguments.output, arguments.batch, out).noalias() +=
      ConstMatrixMap(arguments.inputs[0], arguments.batch, in) * ConstMatrixMap(arguments.parameters.weights, in, out);
}

void FullyConnectedLayer::Backward(const BackwardArguments& arguments) const {
  const int64_t in = in_features();
  const int64_t out = out_features();
  const ConstMatrixMap output_gradient(arguments.output_gradient, arguments.batch, out);
  if (arguments.parameter_gradients.biases != nullptr) {
    for (int64_t example = 0; example < arguments.batch; ++example) {
      AddFloats(arguments.output_gradient + example * out, out, arguments.parameter_gradients.biases);
    }
  }
  float* input_gradient = arguments.input_gradients[0];
  if (implementation_ == Implementation::kDirect) {
    if (arguments.parameter_gradients.weights != nullptr) {
      nn_internal::DirectConvolutionWeightGradient(RowGeometry(arguments.batch, in, out), 1, arguments.inputs[0],
                                                   arguments.output_gradient, arguments.parameter_gradients.weights);
    }
    if (input_gradient != nullptr) {
      // input_gradient = output_gradient * weights^T: the forward kernel with the transposed weights, zero biases
      // (overwrite) or none (accumulate).
      float* transposed = arguments.scratch;
      float* zeros = arguments.scratch + RoundUpToCacheLine(in * out);
      nn_internal::TransposeWeights(RowGeometry(arguments.batch, in, out), arguments.parameters.weights, transposed);
      nn_internal::ZeroFloats(in, zeros);
      const bool overwrite = arguments.input_gradient_modes[0] == GradientMode::kOverwrite;
      nn_internal::DirectConvolutionForward(RowGeometry(arguments.batch, out, in), 1, arguments.output_gradient,
                                            transposed, overwrite ? zeros : nullptr, input_gradient);
    }
    return;
  }
  if (arguments.parameter_gradients.weights != nullptr) {
    MatrixMap(arguments.parameter_gradients.weights, in, out).noalias() +=
        ConstMatrixMap(arguments.inputs[0], arguments.batch, in).transpose() * output_gradient;
  }
  if (input_gradient != nullptr) {
    MatrixMap input_gradient_rows(input_gradient, arguments.batch, in);
    const ConstMatrixMap weights(arguments.parameters.weights, in, out);
    if (arguments.input_gradient_modes[0] == GradientMode::kOverwrite) {
      input_gradient_rows.noalias() = output_gradient * weights.transpose();
    } else {
      input_gradient_rows.noalias() += output_gradient * weights.transpose();
    }
  }
}

}  // namespace parsity::nn
