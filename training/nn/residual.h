// The pieces of a residual connection: the elementwise sum of two branches, and the parameter-free shortcut that
// matches a downsampling branch (He et al. 2016's option A).
//
//   ShortcutLayer shortcut("block2/shortcut", ImageShape{32, 32, 16}, 32);            // -> 16x16x32
//   ResidualAddLayer add("block2/add", ImageShape{16, 16, 32});                        // inputs: branch, shortcut
//
// Neither has parameters or needs scratch.
#ifndef PARSITY_TRAINING_NN_RESIDUAL_H_
#define PARSITY_TRAINING_NN_RESIDUAL_H_

#include <cstdint>
#include <string>

#include "training/nn/layer.h"

namespace parsity::nn {

// output = inputs[0] + inputs[1], both of the same shape.
class ResidualAddLayer : public Layer {
 public:
  ResidualAddLayer(std::string name, const ImageShape& shape);

  void Forward(const ForwardArguments& arguments) const override;
  void Backward(const BackwardArguments& arguments) const override;
};

// 2x2 average pooling with stride 2, then zero channels appended after the pooled ones:
// output[b, oy, ox, c] = (1/4) sum_{dy, dx in {0,1}} input[b, 2oy + dy, 2ox + dx, c] for c < in_channels, 0 for
// in_channels <= c < out_channels.
class ShortcutLayer : public Layer {
 public:
  // REQUIRES: even input height and width, out_channels >= in channels (programmer errors abort).
  ShortcutLayer(std::string name, const ImageShape& input_shape, int64_t out_channels);

  void Forward(const ForwardArguments& arguments) const override;
  void Backward(const BackwardArguments& arguments) const override;
};

}  // namespace parsity::nn

#endif  // PARSITY_TRAINING_NN_RESIDUAL_H_
