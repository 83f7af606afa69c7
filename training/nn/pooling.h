// Pooling layers: max and average pooling over square windows (VALID padding), and global average pooling.
//
//   MaxPoolLayer pool("pool1", ImageShape{24, 24, 32}, PoolOptions{2, 2});   // output_shape() == {12, 12, 32}
//   GlobalAveragePoolLayer gap("global_pool", ImageShape{8, 8, 64});        // output_shape() == {1, 1, 64}
//
// None has parameters or needs scratch memory. Output size per dimension: floor((input - window) / stride) + 1.
#ifndef PARSITY_TRAINING_NN_POOLING_H_
#define PARSITY_TRAINING_NN_POOLING_H_

#include <cstdint>
#include <string>

#include "training/nn/layer.h"

namespace parsity::nn {

struct PoolOptions {
  int64_t window = 2;  // Square window, >= 1.
  int64_t stride = 2;  // >= 1.
};

// output[b, oy, ox, c] = max over the window at (oy*stride, ox*stride) of input[b, y, x, c]. The gradient flows to
// the first maximal element of each window in row-major window order (ties are measure-zero except among zeros after
// a ReLU, where the ReLU's own gradient is zero anyway).
class MaxPoolLayer : public Layer {
 public:
  // REQUIRES: window fits the input (programmer errors abort).
  MaxPoolLayer(std::string name, const ImageShape& input_shape, const PoolOptions& options);

  const PoolOptions& options() const { return options_; }
  void Forward(const ForwardArguments& arguments) const override;
  void Backward(const BackwardArguments& arguments) const override;
  // Windows that tile the input (window == stride) are read and then written one at a time.
  bool OverwritesInputWithGradient() const override { return options_.window == options_.stride; }
  bool IsMaxPool2x2() const override { return options_.window == 2 && options_.stride == 2; }

 private:
  PoolOptions options_;
};

// output[b, oy, ox, c] = (1 / window^2) * sum over the window of input[b, y, x, c].
class AveragePoolLayer : public Layer {
 public:
  AveragePoolLayer(std::string name, const ImageShape& input_shape, const PoolOptions& options);

  const PoolOptions& options() const { return options_; }
  void Forward(const ForwardArguments& arguments) const override;
  void Backward(const BackwardArguments& arguments) const override;

 private:
  PoolOptions options_;
};

// output[b, 0, 0, c] = mean over all (y, x) of input[b, y, x, c]; output shape (1, 1, channels).
class GlobalAveragePoolLayer : public Layer {
 public:
  GlobalAveragePoolLayer(std::string name, const ImageShape& input_shape);

  void Forward(const ForwardArguments& arguments) const override;
  void Backward(const BackwardArguments& arguments) const override;
};

}  // namespace parsity::nn

#endif  // PARSITY_TRAINING_NN_POOLING_H_
