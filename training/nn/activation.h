// The rectified linear unit, elementwise over any shape.
//
//   ReluLayer relu("relu1", ImageShape{24, 24, 32});   // output_shape() == input shape
//   relu.Forward(arguments);                           // output = max(input, 0); may run in place
//
// Backward uses the output: d input = d output where output > 0, else 0 (derivative 0 at input 0). NaN inputs stay
// NaN in the output, so a diverged run shows NaN in its loss. No parameters, no scratch.
#ifndef PARSITY_TRAINING_NN_ACTIVATION_H_
#define PARSITY_TRAINING_NN_ACTIVATION_H_

#include <string>

#include "training/nn/layer.h"

namespace parsity::nn {

class ReluLayer : public Layer {
 public:
  ReluLayer(std::string name, const ImageShape& shape);

  void Forward(const ForwardArguments& arguments) const override;
  void Backward(const BackwardArguments& arguments) const override;
  // Backward reads the output, not the input.
  bool OverwritesInputWithGradient() const override { return true; }
};

}  // namespace parsity::nn

#endif  // PARSITY_TRAINING_NN_ACTIVATION_H_
