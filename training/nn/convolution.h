// 2-D convolution (TensorFlow's conv2d: cross-correlation, NHWC input, HWIO weights) plus a per-channel bias.
//
//   Conv2DOptions options;
//   options.kernel_size = 5; options.out_channels = 32; options.padding = Padding::kValid;
//   Conv2DLayer conv1("conv1", ImageShape{28, 28, 1}, options);   // output_shape() == {24, 24, 32}
//
// Math: output[b, oy, ox, o] = biases[o] + sum_{ky, kx, c} input[b, oy*s - pad_top + ky, ox*s - pad_left + kx, c] *
// weights[ky, kx, c, o], with out-of-image input read as 0 (SAME padding; see Padding in layer.h).
//
// Under a pruning mask (CreateSparsity, training/nn/sparse_plan.h) each of the three products can also run sparse
// kernels over the kept weights only (training/nn/internal/sparse_kernels.h), with results identical to kDirect's.
//
// Two implementations, chosen per layer (Conv2DOptions::implementation), both tested against the same reference:
// - kDirect (the default where the build targets AVX-512, as on the study machines): "implicit GEMM" kernels that
//   read the (zero-padded, for SAME) NHWC images in place and keep a tile of output pixels x output channels in
//   registers (training/nn/internal/direct_convolution.h). The input gradient is the forward kernel run on the padded
//   output gradient with flipped weights for stride-1 SAME layers, else scattered back tile by tile.
// - kEigen (the portable fallback): the M = batch * out_height * out_width output pixels are the rows of one matrix
//   product, in blocks of rows small enough for the level-2 cache: im2col copies each block's receptive fields into
//   a (rows x K) matrix, K = kernel_size^2 * in_channels, ordered (ky, kx, c) like the weights' row-major (K x out)
//   layout, and Eigen multiplies it by the weights into the output rows, which already hold the bias. Backward
//   re-creates the block, adds block^T * output_gradient to the weight gradient, then overwrites the block with
//   output_gradient * weights^T and scatters it back onto the input gradient (col2im).
#ifndef PARSITY_TRAINING_NN_CONVOLUTION_H_
#define PARSITY_TRAINING_NN_CONVOLUTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "training/nn/layer.h"

namespace parsity::nn {

struct Conv2DOptions {
  int64_t kernel_size = 3;   // Square kernel, >= 1.
  int64_t out_channels = 1;  // >= 1.
  int64_t stride = 1;        // Same in both directions, >= 1.
  Padding padding = Padding::kValid;
  Implementation implementation = Implementation::kAutomatic;
};

// Parameters: "weights" of shape {kernel_size, kernel_size, in_channels, out_channels} with fan_in
// kernel_size^2 * in_channels, then "biases" of shape {out_channels}. One input.
class Conv2DLayer : public Layer {
 public:
  // REQUIRES: options valid and, for VALID padding, the kernel fits the input (programmer errors abort).
  Conv2DLayer(std::string name, const ImageShape& input_shape, const Conv2DOptions& options);

  const Conv2DOptions& options() const { return options_; }
  // Zero rows / columns added above / left of the input (0 for VALID).
  int64_t pad_top() const { return pad_top_; }
  int64_t pad_left() const { return pad_left_; }
  // kDirect or kEigen: what the layer runs.
  Implementation implementation() const { return implementation_; }

  std::vector<ParameterSpec> parameter_specs() const override;
  int64_t ScratchFloats(int64_t batch) const override;
  int64_t MultiplyAddsPerExample() const override;
  void Forward(const ForwardArguments& arguments) const override;
  void Backward(const BackwardArguments& arguments) const override;
  bool BackwardReadsOutput() const override { return false; }
  // kDirect layers over one input channel at stride 1 (Simple-CNN's first), while their weight gradient runs dense:
  // one pass computes the weight and bias gradients from the pooled gradient
  // (nn_internal::DirectConvolutionWeightGradientThroughMaxPool).
  bool TakesPooledGradient(const LayerSparsity* sparsity, int64_t batch) const override;
  // Sparse structures for kDirect layers in builds with the sparse kernels; null otherwise.
  std::unique_ptr<LayerSparsity> CreateSparsity(absl::Span<const float> weight_mask, int64_t max_batch) const override;

 private:
  class Sparsity;
  void ForwardSparse(const ForwardArguments& arguments, const Sparsity& sparsity) const;
  void WeightGradientSparse(const BackwardArguments& arguments, const Sparsity& sparsity) const;
  void InputGradientSparse(const BackwardArguments& arguments, const Sparsity& sparsity) const;
  void ForwardEigen(const ForwardArguments& arguments) const;
  void BackwardEigen(const BackwardArguments& arguments) const;
  void ForwardDirect(const ForwardArguments& arguments) const;
  void BackwardDirect(const BackwardArguments& arguments) const;
  // Backward from BackwardArguments::pooled (TakesPooledGradient).
  void BackwardThroughPool(const BackwardArguments& arguments) const;
  bool needs_padding() const {
    return padded_height_ != input_shapes()[0].height || padded_width_ != input_shapes()[0].width;
  }
  // Where the direct path keeps its temporaries inside the scratch memory, as float offsets.
  struct DirectScratch {
    int64_t padded_input = 0;     // batch x padded image (when padding).
    int64_t padded_gradient = 0;  // Padded input gradient (scatter) or padded output gradient (gather).
    int64_t weights = 0;          // Transposed or flipped weights.
    int64_t zeros = 0;            // in_channels zeros (the gather path's "bias").
    int64_t total = 0;
  };
  DirectScratch DirectScratchLayout(int64_t batch) const;

  // Writes rows [first_row, first_row + rows) of the im2col matrix of `input` into `columns` (rows x K).
  void Im2Col(const float* input, int64_t first_row, int64_t rows, float* columns) const;
  // Adds those rows of a (rows x K) matrix back onto the input positions they were copied from.
  void Col2ImAdd(const float* columns, int64_t first_row, int64_t rows, float* input_gradient) const;

  Conv2DOptions options_;
  int64_t pad_top_ = 0;
  int64_t pad_left_ = 0;
  int64_t patch_size_ = 0;      // K = kernel_size^2 * in_channels.
  int64_t rows_per_block_ = 0;  // Output pixels per im2col block.
  Implementation implementation_ = Implementation::kEigen;
  // The direct kernels read an image zero-padded to padded_height_ x padded_width_ (pad_top_ rows above, pad_left_
  // columns to the left, and whatever the last windows need below and to the right).
  int64_t padded_height_ = 0;
  int64_t padded_width_ = 0;
  // Stride 1 with output size == input size (SAME): the input gradient is the correlation of the padded output
  // gradient with the flipped weights, computed by the forward kernel (no scatter, no zeroing). Else it is scattered.
  bool gather_input_gradient_ = false;
};

}  // namespace parsity::nn

#endif  // PARSITY_TRAINING_NN_CONVOLUTION_H_
