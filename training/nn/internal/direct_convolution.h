// Direct ("implicit GEMM") convolution kernels for AVX-512: the three matrix products of a convolution layer computed
// straight from the NHWC images, without im2col copies or Eigen's operand packing. Used by Conv2DLayer
// (training/nn/convolution.h) when the build targets AVX-512; the im2col + Eigen path is the fallback.
//
//   ConvolutionGeometry geometry = ...;   // shapes, kernel, stride; the input already zero-padded
//   DirectConvolutionForward(geometry, batch, padded_input, weights, biases, output);
//
// Register blocking: a tile of R output pixels of one image row (or R weight rows) times up to 64 output channels
// (NV = 1..4 vectors of 16 floats) stays in zmm registers (R * NV <= 24) while the kernel streams the shared
// operand: per step one row of weights (or of the output gradient) is loaded and each pixel's input value is
// broadcast. Weights are walked in blocks of at most 24 KiB, which stay in the 48 KiB level-1 cache across all the
// pixel tiles of an image. Masked loads and stores handle channel counts that are not multiples of 16. A forward pass
// over one input channel at stride 1 with kernel width 5 (Simple-CNN's first layer) uses tiles of 6 pixels whose
// neighbours share 4 of their 5 inputs per kernel row, each broadcast once.
//
// Every kernel works on one image after another and sums in a fixed order, so results are deterministic.
#ifndef PARSITY_TRAINING_NN_INTERNAL_DIRECT_CONVOLUTION_H_
#define PARSITY_TRAINING_NN_INTERNAL_DIRECT_CONVOLUTION_H_

#include <cstdint>

namespace parsity::nn_internal {

// A convolution on an input that has been zero-padded already (padded_height x padded_width x in_channels per
// image, TensorFlow's SAME padding applied by the caller): output pixel (oy, ox) reads the kernel x kernel window
// whose top-left corner is padded pixel (oy * stride, ox * stride). Weights are HWIO: kernel x kernel x in_channels x
// out_channels, i.e. a (kernel * kernel_row) x out_channels row-major matrix with kernel_row = kernel * in_channels.
struct ConvolutionGeometry {
  int64_t padded_height = 0;
  int64_t padded_width = 0;
  int64_t in_channels = 0;
  int64_t out_height = 0;
  int64_t out_width = 0;
  int64_t out_channels = 0;
  int64_t kernel = 0;
  int64_t stride = 1;
};

// A fully connected layer's batch as the kernels below see it: one image row of `batch` pixels with `in` channels,
// convolved with a 1 x 1 kernel of `out` channels.
inline ConvolutionGeometry BatchRowGeometry(int64_t batch, int64_t in, int64_t out) {
  ConvolutionGeometry geometry;
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

// Whether the kernels below exist in this build (compiled with AVX-512F). When false they must not be called.
bool HasDirectConvolution();

// output[b, oy, ox, :] = biases + sum over the window of padded_input * weights, overwriting `output`
// (batch * out_height * out_width * out_channels floats); with `biases` null, the sum is added to `output` instead.
void DirectConvolutionForward(const ConvolutionGeometry& geometry, int64_t batch, const float* padded_input,
                              const float* weights, const float* biases, float* output);

// weight_gradient[ky, kx, c, o] += sum over b, oy, ox of padded_input[b, oy*s + ky, ox*s + kx, c] *
// output_gradient[b, oy, ox, o]. With `overwrite`, = instead of +=: each entry's chain starts from +0, the same bits
// as on a zeroed buffer, without zeroing it.
void DirectConvolutionWeightGradient(const ConvolutionGeometry& geometry, int64_t batch, const float* padded_input,
                                     const float* output_gradient, bool overwrite, float* weight_gradient);

// padded_input_gradient[b, oy*s + ky, ox*s + kx, c] += sum over o of output_gradient[b, oy, ox, o] *
// weights[ky, kx, c, o], for every output pixel and window offset. `transposed_weights` holds, per kernel row ky, the
// out_channels x kernel_row matrix transposed from weights (see TransposeWeights).
void DirectConvolutionInputGradient(const ConvolutionGeometry& geometry, int64_t batch, const float* output_gradient,
                                    const float* transposed_weights, float* padded_input_gradient);

// Whether DirectConvolutionWeightGradientThroughMaxPool takes this geometry: one input channel, stride 1, kernel of at
// most 7, output at least 2 x 2 and at most 129 pixels wide.
bool CanRouteMaxPoolWeightGradient(const ConvolutionGeometry& geometry);

// The weight gradient (and, with `bias_gradient` non-null, the bias gradient) of a convolution whose output feeds only
// a 2 x 2, stride-2 max-pool, computed from the pool's output gradient without forming the convolution's: the pool
// routes pooled_gradient[b, qy, qx, o] to the first pixel of its window, in row-major order, whose
// convolution_output equals pooled_output[b, qy, qx, o] (MaxPoolLayer's rule), and nothing to the others. The result
// has the bits of DirectConvolutionWeightGradient (and AddRows) on that routed gradient: every entry's chain visits
// the routed pixels in the same order, rows then columns, and leaves out only terms whose gradient is zero (a
// routed lane takes one of its window's two inputs per row by a permute), so per window and kernel row it does half
// the dense kernel's multiply-adds plus as many permutes, and none of the pool's gradient writes. Zeros may differ in
// sign only.
// `overwrite` as for DirectConvolutionWeightGradient (the bias chain then starts from +0 too).
// REQUIRES: CanRouteMaxPoolWeightGradient(geometry).
void DirectConvolutionWeightGradientThroughMaxPool(const ConvolutionGeometry& geometry, int64_t batch,
                                                   const float* padded_input, const float* convolution_output,
                                                   const float* pooled_output, const float* pooled_gradient,
                                                   bool overwrite, float* weight_gradient, float* bias_gradient);

// transposed[ky, o, j] = weights[ky, j, o] for j < kernel * in_channels: kernel * out_channels * kernel_row floats.
void TransposeWeights(const ConvolutionGeometry& geometry, const float* weights, float* transposed);

}  // namespace parsity::nn_internal

#endif  // PARSITY_TRAINING_NN_INTERNAL_DIRECT_CONVOLUTION_H_
