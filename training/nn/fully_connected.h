// A fully connected (dense) layer over the flattened example: output = input * weights + biases.
//
//   FullyConnectedLayer fc("fc", ImageShape{4, 4, 64}, 10);   // 1024 -> 10, output_shape() == {1, 1, 10}
//   fc.parameter_specs();                                      // weights {1024, 10} (fan_in 1024), biases {10}
//
// Math: the input example is read as a vector of in_features = height * width * channels floats in HWC order, so
// output[b, o] = biases[o] + sum_i input[b, i] * weights[i, o] with weights row-major (in_features x out_features),
// as TensorFlow's matmul after reshape. The batch is one matrix product (batch x in) * (in x out); backward adds
// input^T * output_gradient to the weight gradient and writes output_gradient * weights^T. kDirect runs the products
// with the convolution kernels (the batch seen as one row of batch pixels, a 1x1 convolution); kEigen with Eigen.
// Under a pruning mask (CreateSparsity) each product can run over the kept weights only, vectorized over the batch,
// and the forward product and weight gradient also over the 16-output lines that hold a kept weight, vectorized over
// outputs (KernelKind::kSparseLines, for small batches; training/nn/internal/sparse_kernels.h), or, with the kept
// weights packed in the dense kernel's order (LayerSparsity::PackWeightsDense), the dense kernel's arithmetic over
// the packed weights (KernelKind::kDensePacked), all with results identical to kDirect's.
#ifndef PARSITY_TRAINING_NN_FULLY_CONNECTED_H_
#define PARSITY_TRAINING_NN_FULLY_CONNECTED_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "training/nn/layer.h"

namespace parsity::nn {

class FullyConnectedLayer : public Layer {
 public:
  // REQUIRES: out_features >= 1.
  FullyConnectedLayer(std::string name, const ImageShape& input_shape, int64_t out_features,
                      Implementation implementation = Implementation::kAutomatic);

  int64_t in_features() const { return input_shapes()[0].size(); }
  int64_t out_features() const { return output_shape().channels; }
  // kDirect or kEigen: what the layer runs.
  Implementation implementation() const { return implementation_; }

  std::vector<ParameterSpec> parameter_specs() const override;
  int64_t ScratchFloats(int64_t batch) const override;
  int64_t MultiplyAddsPerExample() const override;
  void Forward(const ForwardArguments& arguments) const override;
  void Backward(const BackwardArguments& arguments) const override;
  bool BackwardReadsOutput() const override { return false; }
  // Sparse structures for kDirect layers in builds with the sparse kernels; null otherwise.
  std::unique_ptr<LayerSparsity> CreateSparsity(absl::Span<const float> weight_mask, int64_t max_batch) const override;

 private:
  class Sparsity;
  void ForwardSparse(const ForwardArguments& arguments, const Sparsity& sparsity) const;
  void InputGradientSparse(const BackwardArguments& arguments, const Sparsity& sparsity) const;
  void BackwardDense(const BackwardArguments& arguments) const;

  Implementation implementation_;
};

}  // namespace parsity::nn

#endif  // PARSITY_TRAINING_NN_FULLY_CONNECTED_H_
