#include "training/nn/activation.h"

#include <utility>

#include "training/nn/internal/vector_ops.h"

namespace parsity::nn {

ReluLayer::ReluLayer(std::string name, const ImageShape& shape) : Layer(std::move(name), {shape}, shape) {}

void ReluLayer::Forward(const ForwardArguments& arguments) const {
  nn_internal::ReluForward(arguments.inputs[0], arguments.batch * output_shape().size(), arguments.output);
}

void ReluLayer::Backward(const BackwardArguments& arguments) const {
  if (arguments.input_gradients[0] == nullptr) return;
  nn_internal::ReluBackward(arguments.output, arguments.output_gradient, arguments.batch * output_shape().size(),
                            arguments.input_gradient_modes[0], arguments.input_gradients[0]);
}

}  // namespace parsity::nn
