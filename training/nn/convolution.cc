#include "training/nn/convolution.h"

#include <algorithm>
#include <utility>

#include "tools/base/check.h"
#include "training/nn/internal/direct_convolution.h"
#include "training/nn/internal/sparse_kernels.h"
#include "training/nn/internal/vector_ops.h"

namespace parsity::nn {
namespace {

using nn_internal::AddFloats;
using nn_internal::ConstMatrixMap;
using nn_internal::ConvolutionGeometry;
using nn_internal::CopyFloats;
using nn_internal::MatrixMap;
using nn_internal::StoreFloats;
using nn_internal::ZeroFloats;

// Floats of one im2col block: 256 Ki floats (1 MiB) keeps the block, the weights and the output rows inside the
// 2 MiB level-2 cache, where Eigen's products on these shapes measured as fast as on whole batches or faster.
constexpr int64_t kColumnBlockFloats = int64_t{1} << 18;

ImageShape OutputShape(const ImageShape& input, const Conv2DOptions& options) {
  PARSITY_CHECK(options.kernel_size >= 1 && options.out_channels >= 1 && options.stride >= 1);
  return ImageShape{PaddedOutputSize(input.height, options.kernel_size, options.stride, options.padding),
                    PaddedOutputSize(input.width, options.kernel_size, options.stride, options.padding),
                    options.out_channels};
}

int64_t RoundUpToCacheLine(int64_t floats) { return (floats + 15) / 16 * 16; }

ConvolutionGeometry Geometry(int64_t padded_height, int64_t padded_width, int64_t in_channels, const ImageShape& out,
                             int64_t kernel, int64_t stride) {
  ConvolutionGeometry geometry;
  geometry.padded_height = padded_height;
  geometry.padded_width = padded_width;
  geometry.in_channels = in_channels;
  geometry.out_height = out.height;
  geometry.out_width = out.width;
  geometry.out_channels = out.channels;
  geometry.kernel = kernel;
  geometry.stride = stride;
  return geometry;
}

// Copies `batch` images of `shape` into images of padded_height x padded_width pixels at offset (top, left), with
// zeros around them.
void PadImages(const float* images, int64_t batch, const ImageShape& shape, int64_t top, int64_t left,
               int64_t padded_height, int64_t padded_width, float* padded) {
  const int64_t channels = shape.channels;
  const int64_t padded_row = padded_width * channels;
  const int64_t right = padded_width - left - shape.width;
  for (int64_t image = 0; image < batch; ++image) {
    float* out = padded + image * padded_height * padded_row;
    ZeroFloats(top * padded_row, out);
    for (int64_t y = 0; y < shape.height; ++y) {
      float* row = out + (top + y) * padded_row;
      ZeroFloats(left * channels, row);
      CopyFloats(images + (image * shape.height + y) * shape.width * channels, shape.width * channels,
                 row + left * channels);
      ZeroFloats(right * channels, row + (left + shape.width) * channels);
    }
    ZeroFloats((padded_height - top - shape.height) * padded_row, out + (top + shape.height) * padded_row);
  }
}

// flipped[k-1-ky, k-1-kx, o, c] = weights[ky, kx, c, o]: the weights of the transposed (input-gradient) correlation.
void FlipWeights(const float* weights, int64_t kernel, int64_t in_channels, int64_t out_channels, float* flipped) {
  for (int64_t ky = 0; ky < kernel; ++ky) {
    for (int64_t kx = 0; kx < kernel; ++kx) {
      const float* source = weights + (ky * kernel + kx) * in_channels * out_channels;
      float* destination = flipped + ((kernel - 1 - ky) * kernel + (kernel - 1 - kx)) * out_channels * in_channels;
      for (int64_t c = 0; c < in_channels; ++c) {
        for (int64_t o = 0; o < out_channels; ++o) destination[o * in_channels + c] = source[c * out_channels + o];
      }
    }
  }
}

}  // namespace

Conv2DLayer::Conv2DLayer(std::string name, const ImageShape& input_shape, const Conv2DOptions& options)
    : Layer(std::move(name), {input_shape}, OutputShape(input_shape, options)), options_(options) {
  PARSITY_CHECK(input_shape.size() >= 1);
  pad_top_ = PaddingBefore(input_shape.height, options.kernel_size, options.stride, options.padding);
  pad_left_ = PaddingBefore(input_shape.width, options.kernel_size, options.stride, options.padding);
  patch_size_ = options.kernel_size * options.kernel_size * input_shape.channels;
  rows_per_block_ = std::max<int64_t>(16, kColumnBlockFloats / patch_size_);
  implementation_ = ResolveImplementation(options.implementation);
  const int64_t k = options.kernel_size;
  padded_height_ =
      pad_top_ + input_shape.height +
      std::max<int64_t>(0, (output_shape().height - 1) * options.stride + k - input_shape.height - pad_top_);
  padded_width_ = pad_left_ + input_shape.width +
                  std::max<int64_t>(0, (output_shape().width - 1) * options.stride + k - input_shape.width - pad_left_);
  gather_input_gradient_ =
      options.stride == 1 && output_shape().height == input_shape.height && output_shape().width == input_shape.width;
}

std::vector<ParameterSpec> Conv2DLayer::parameter_specs() const {
  const int64_t k = options_.kernel_size;
  return {
      ParameterSpec{ParameterKind::kWeights, {k, k, input_shapes()[0].channels, options_.out_channels}, patch_size_},
      ParameterSpec{ParameterKind::kBiases, {options_.out_channels}, patch_size_}};
}

int64_t Conv2DLayer::ScratchFloats(int64_t batch) const {
  if (implementation_ == Implementation::kDirect) return DirectScratchLayout(batch).total;
  const int64_t rows = batch * output_shape().height * output_shape().width;
  return std::min(rows, rows_per_block_) * patch_size_;
}

Conv2DLayer::DirectScratch Conv2DLayer::DirectScratchLayout(int64_t batch) const {
  const ImageShape& in = input_shapes()[0];
  const int64_t k = options_.kernel_size;
  DirectScratch layout;
  const int64_t padded_input =
      needs_padding() ? RoundUpToCacheLine(batch * padded_height_ * padded_width_ * in.channels) : 0;
  const int64_t padded_gradient =
      gather_input_gradient_
          ? RoundUpToCacheLine(batch * (in.height + k - 1) * (in.width + k - 1) * options_.out_channels)
          : padded_input;
  layout.padded_input = 0;
  layout.padded_gradient = padded_input;
  layout.weights = layout.padded_gradient + padded_gradient;
  layout.zeros = layout.weights + RoundUpToCacheLine(patch_size_ * options_.out_channels);
  layout.total = layout.zeros + RoundUpToCacheLine(in.channels);
  return layout;
}

void Conv2DLayer::ForwardDirect(const ForwardArguments& arguments) const {
  const ImageShape& in = input_shapes()[0];
  const float* input = arguments.inputs[0];
  if (needs_padding()) {
    PadImages(input, arguments.batch, in, pad_top_, pad_left_, padded_height_, padded_width_, arguments.scratch);
    input = arguments.scratch;
  }
  nn_internal::DirectConvolutionForward(
      Geometry(padded_height_, padded_width_, in.channels, output_shape(), options_.kernel_size, options_.stride),
      arguments.batch, input, arguments.parameters.weights, arguments.parameters.biases, arguments.output);
}

void Conv2DLayer::BackwardDirect(const BackwardArguments& arguments) const {
  const ImageShape& in = input_shapes()[0];
  const ImageShape& out = output_shape();
  const int64_t k = options_.kernel_size;
  const int64_t batch = arguments.batch;
  const DirectScratch layout = DirectScratchLayout(batch);
  float* padded_input = arguments.scratch + layout.padded_input;
  float* padded_gradient = arguments.scratch + layout.padded_gradient;
  float* weights = arguments.scratch + layout.weights;
  const ConvolutionGeometry geometry = Geometry(padded_height_, padded_width_, in.channels, out, k, options_.stride);
  if (arguments.parameter_gradients.weights != nullptr) {
    const float* input = arguments.inputs[0];
    if (needs_padding()) {
      PadImages(input, batch, in, pad_top_, pad_left_, padded_height_, padded_width_, padded_input);
      input = padded_input;
    }
    nn_internal::DirectConvolutionWeightGradient(geometry, batch, input, arguments.output_gradient,
                                                 arguments.parameter_gradient_mode == GradientMode::kOverwrite,
                                                 arguments.parameter_gradients.weights);
  }
  float* input_gradient = arguments.input_gradients[0];
  if (input_gradient == nullptr) return;
  const GradientMode mode = arguments.input_gradient_modes[0];
  if (gather_input_gradient_) {
    // input_gradient[y, x, c] = sum_{ky', kx', o} g[y + ky', x + kx', o] * flipped[ky', kx', o, c], where g is the
    // output gradient padded by k - 1 - pad before (and pad after).
    FlipWeights(arguments.parameters.weights, k, in.channels, out.channels, weights);
    PadImages(arguments.output_gradient, batch, out, k - 1 - pad_top_, k - 1 - pad_left_, in.height + k - 1,
              in.width + k - 1, padded_gradient);
    float* zeros = arguments.scratch + layout.zeros;
    ZeroFloats(in.channels, zeros);
    nn_internal::DirectConvolutionForward(Geometry(in.height + k - 1, in.width + k - 1, out.channels, in, k, 1), batch,
                                          padded_gradient, weights, mode == GradientMode::kOverwrite ? zeros : nullptr,
                                          input_gradient);
    return;
  }
  nn_internal::TransposeWeights(geometry, arguments.parameters.weights, weights);
  if (needs_padding()) {
    ZeroFloats(batch * padded_height_ * padded_width_ * in.channels, padded_gradient);
    nn_internal::DirectConvolutionInputGradient(geometry, batch, arguments.output_gradient, weights, padded_gradient);
    const int64_t padded_image = padded_height_ * padded_width_ * in.channels;
    for (int64_t image = 0; image < batch; ++image) {
      for (int64_t y = 0; y < in.height; ++y) {
        StoreFloats(padded_gradient + image * padded_image + ((pad_top_ + y) * padded_width_ + pad_left_) * in.channels,
                    in.width * in.channels, mode, input_gradient + (image * in.height + y) * in.width * in.channels);
      }
    }
  } else {
    if (mode == GradientMode::kOverwrite) ZeroFloats(batch * in.size(), input_gradient);
    nn_internal::DirectConvolutionInputGradient(geometry, batch, arguments.output_gradient, weights, input_gradient);
  }
}

// The sparse structures of one convolution under one mask, and the sizes of its scratch regions.
class Conv2DLayer::Sparsity : public nn_internal::SparseLayerStructures {
 public:
  Sparsity(absl::Span<const float> weight_mask, int64_t max_batch) : SparseLayerStructures(weight_mask, max_batch) {}

  nn_internal::SparseScratchSizes Sizes(int64_t batch) const override {
    nn_internal::SparseScratchSizes sizes;
    sizes.padded_input = padding_floats_per_image * batch;
    sizes.planar = std::max(input_planar.image, gradient_planar.image);
    sizes.planes = planes_floats;
    if (batch_lanes && batch >= nn_internal::kBatchLanes) {
      sizes.planar = std::max(sizes.planar, nn_internal::BatchLaneFloats(batch_input));
      // The forward's band and, for the scatter, the output gradient's lanes.
      sizes.planes =
          std::max(sizes.planes, nn_internal::BatchLaneBandFloats(batch_output.channels, batch_output.width));
      if (!gather) sizes.planes = std::max(sizes.planes, nn_internal::BatchLaneFloats(batch_output));
    }
    sizes.values = std::max(forward_rows.entries(), input_gradient_rows.entries());
    sizes.zeros = zeros;
    return sizes;
  }

  int64_t padding_floats_per_image = 0;  // 0 without padding.
  nn_internal::PlanarGeometry input_planar;
  int64_t lane_vectors = 0;  // Output lanes of the forward product (and of the scatter's output gradient planes).
  // Stride-1 layers: the forward product and the scatter input gradient run on batch lanes for each 16 images of a
  // batch (sparse_kernels.h).
  bool batch_lanes = false;
  nn_internal::PlanarGeometry batch_input;   // BatchLaneGeometry of input_planar.
  nn_internal::PlanarGeometry batch_output;  // Of the output (or output gradient) as an unpadded image.
  nn_internal::SparseRows batch_forward_rows;  // forward_rows with offsets in batch_input.
  // Scatter path with batch lanes only: input_gradient_rows with offsets into the output gradient's batch lanes and
  // target offsets in batch_input, and where each block of rows (a 64-wide block of kx * in_channels + c, see
  // CreateSparsity) starts.
  nn_internal::SparseRows scatter_batch_rows;
  std::vector<int32_t> scatter_block_start;
  nn_internal::SparseRows forward_rows;
  // Stride-1 SAME layers: the input gradient is a forward product with flipped weights over the padded output
  // gradient (gradient_planar, gradient_lane_vectors). Others: scatter rows in the dense kernel's order.
  bool gather = false;
  nn_internal::SparseRows input_gradient_rows;
  nn_internal::PlanarGeometry gradient_planar;
  int64_t gradient_lane_vectors = 0;
  nn_internal::SparseWeightGradientPlan weight_gradient;
  int64_t planes_floats = 0;
  int64_t zeros = 0;
};

std::unique_ptr<LayerSparsity> Conv2DLayer::CreateSparsity(absl::Span<const float> weight_mask,
                                                           int64_t max_batch) const {
  if (implementation_ != Implementation::kDirect || !nn_internal::HasSparseKernels()) return nullptr;
  const ImageShape& in = input_shapes()[0];
  const ImageShape& out = output_shape();
  const int64_t k = options_.kernel_size;
  const int64_t s = options_.stride;
  const int64_t channels = out.channels;
  PARSITY_CHECK(static_cast<int64_t>(weight_mask.size()) == patch_size_ * channels);
  auto sparsity = std::make_unique<Sparsity>(weight_mask, max_batch);
  auto is_kept = [&](int64_t index) { return weight_mask[index] != 0.0f; };
  sparsity->padding_floats_per_image =
      needs_padding() ? RoundUpToCacheLine(padded_height_ * padded_width_ * in.channels) : 0;
  sparsity->input_planar = nn_internal::MakePlanarGeometry(in.height, in.width, in.channels, pad_top_, pad_left_,
                                                           padded_height_, padded_width_, s);
  const nn_internal::PlanarGeometry& planar = sparsity->input_planar;
  sparsity->lane_vectors = nn_internal::LaneVectors(planar, out.height, out.width);
  sparsity->batch_lanes = s == 1;
  if (sparsity->batch_lanes) {
    sparsity->batch_input = nn_internal::BatchLaneGeometry(planar);
    sparsity->batch_output = nn_internal::BatchLaneGeometry(
        nn_internal::MakePlanarGeometry(out.height, out.width, channels, 0, 0, out.height, out.width, 1));
  }
  // A planar offset of `planar` (stride 1: c * plane + ky * phase_width + kx) in batch_input.
  auto batch_offset = [&](int32_t offset) {
    return static_cast<int32_t>(offset / planar.plane * sparsity->batch_input.plane + offset % planar.plane);
  };
  const int64_t out_plane = 16 * sparsity->lane_vectors;
  // Forward: per output channel, the kept (ky, kx, c) in ascending order, as the dense chain runs.
  nn_internal::SparseRows& forward = sparsity->forward_rows;
  forward.row_start.push_back(0);
  for (int64_t o = 0; o < channels; ++o) {
    for (int64_t ky = 0; ky < k; ++ky) {
      for (int64_t kx = 0; kx < k; ++kx) {
        for (int64_t c = 0; c < in.channels; ++c) {
          const int64_t index = ((ky * k + kx) * in.channels + c) * channels + o;
          if (!is_kept(index)) continue;
          forward.offsets.push_back(static_cast<int32_t>(nn_internal::PlanarOffset(planar, ky, kx, c)));
          forward.weight_index.push_back(static_cast<int32_t>(index));
        }
      }
    }
    forward.row_start.push_back(static_cast<int32_t>(forward.offsets.size()));
  }
  nn_internal::SparseRows& backward = sparsity->input_gradient_rows;
  backward.row_start.push_back(0);
  sparsity->gather = gather_input_gradient_;
  int64_t gradient_planes = 0;
  if (gather_input_gradient_) {
    // Output c of the flipped product: kept (ky', kx', o) ascending, weight (k-1-ky', k-1-kx', c, o).
    sparsity->gradient_planar = nn_internal::MakePlanarGeometry(
        out.height, out.width, channels, k - 1 - pad_top_, k - 1 - pad_left_, in.height + k - 1, in.width + k - 1, 1);
    sparsity->gradient_lane_vectors = nn_internal::LaneVectors(sparsity->gradient_planar, in.height, in.width);
    for (int64_t c = 0; c < in.channels; ++c) {
      for (int64_t fy = 0; fy < k; ++fy) {
        for (int64_t fx = 0; fx < k; ++fx) {
          for (int64_t o = 0; o < channels; ++o) {
            const int64_t index = (((k - 1 - fy) * k + (k - 1 - fx)) * in.channels + c) * channels + o;
            if (!is_kept(index)) continue;
            backward.offsets.push_back(
                static_cast<int32_t>(nn_internal::PlanarOffset(sparsity->gradient_planar, fy, fx, o)));
            backward.weight_index.push_back(static_cast<int32_t>(index));
          }
        }
      }
      backward.row_start.push_back(static_cast<int32_t>(backward.offsets.size()));
    }
    gradient_planes = in.channels * 16 * sparsity->gradient_lane_vectors;
  } else {
    // Rows k = (ky, kx, c) with a kept weight, in the order the dense scatter adds them onto one input element:
    // by 64-wide block of kx * in_channels + c, then ky, then descending kx (ascending output column).
    struct Row {
      int64_t block, ky, kx, c;
    };
    std::vector<Row> rows;
    for (int64_t ky = 0; ky < k; ++ky) {
      for (int64_t kx = 0; kx < k; ++kx) {
        for (int64_t c = 0; c < in.channels; ++c) rows.push_back(Row{(kx * in.channels + c) / 64, ky, kx, c});
      }
    }
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      if (a.block != b.block) return a.block < b.block;
      if (a.ky != b.ky) return a.ky < b.ky;
      return a.kx > b.kx;
    });
    int64_t last_block = -1;
    for (const Row& row : rows) {
      const int64_t first = static_cast<int64_t>(backward.offsets.size());
      for (int64_t o = 0; o < channels; ++o) {
        const int64_t index = ((row.ky * k + row.kx) * in.channels + row.c) * channels + o;
        if (!is_kept(index)) continue;
        backward.offsets.push_back(static_cast<int32_t>(o * out_plane));
        backward.weight_index.push_back(static_cast<int32_t>(index));
      }
      if (static_cast<int64_t>(backward.offsets.size()) == first) continue;
      if (sparsity->batch_lanes && row.block != last_block) {
        sparsity->scatter_block_start.push_back(static_cast<int32_t>(backward.rows()));
        last_block = row.block;
      }
      backward.row_start.push_back(static_cast<int32_t>(backward.offsets.size()));
      backward.target_offset.push_back(static_cast<int32_t>(nn_internal::PlanarOffset(planar, row.ky, row.kx, row.c)));
    }
  }
  if (!gather_input_gradient_ && sparsity->batch_lanes) {
    sparsity->scatter_block_start.push_back(static_cast<int32_t>(backward.rows()));
    nn_internal::SparseRows& batch_rows = sparsity->scatter_batch_rows;
    batch_rows = backward;
    for (int32_t& offset : batch_rows.offsets) {
      offset = static_cast<int32_t>(offset / out_plane * sparsity->batch_output.plane * nn_internal::kBatchLanes);
    }
    for (int32_t& offset : batch_rows.target_offset) offset = batch_offset(offset);
  }
  if (sparsity->batch_lanes) {
    sparsity->batch_forward_rows = forward;
    for (int32_t& offset : sparsity->batch_forward_rows.offsets) offset = batch_offset(offset);
  }
  sparsity->weight_gradient = nn_internal::MakeSparseWeightGradientPlan(
      Geometry(padded_height_, padded_width_, in.channels, out, k, s), is_kept);
  sparsity->planes_floats = std::max(channels * out_plane, gradient_planes);
  sparsity->zeros = in.channels;
  return sparsity;
}

void Conv2DLayer::ForwardSparse(const ForwardArguments& arguments, const Sparsity& sparsity) const {
  const ImageShape& in = input_shapes()[0];
  const ImageShape& out = output_shape();
  const nn_internal::SparseScratch scratch = sparsity.Regions(arguments.scratch, arguments.batch);
  nn_internal::PackValues(sparsity.forward_rows, arguments.parameters.weights, scratch.values);
  const int64_t out_plane = 16 * sparsity.lane_vectors;
  int64_t image = 0;
  if (sparsity.batch_lanes) {
    const nn_internal::PlanarGeometry& geometry = sparsity.batch_input;
    for (; image + nn_internal::kBatchLanes <= arguments.batch; image += nn_internal::kBatchLanes) {
      // As below, the padding's zeros stay from the first group.
      if (image == 0 && needs_padding()) ZeroFloats(nn_internal::BatchLaneFloats(geometry), scratch.planar);
      nn_internal::ToBatchLanes(geometry, arguments.inputs[0] + image * in.size(), scratch.planar);
      nn_internal::SparseRowsForwardBatchLanes(sparsity.batch_forward_rows, scratch.values, scratch.planar,
                                               geometry.phase_width, out.height, out.width,
                                               arguments.parameters.biases, scratch.planes,
                                               arguments.output + image * out.size());
    }
  }
  for (const int64_t first_image = image; image < arguments.batch; ++image) {
    // The planar image's zeros stay from the first image: only the sparse product reads it.
    (image == first_image ? nn_internal::ToPlanar : nn_internal::CopyToPlanar)(
        sparsity.input_planar, arguments.inputs[0] + image * in.size(), 1, scratch.planar);
    nn_internal::SparseRowsForward(sparsity.forward_rows, scratch.values, scratch.planar, 1, sparsity.lane_vectors,
                                   arguments.parameters.biases, scratch.planes, out_plane);
    nn_internal::FromPlanes(scratch.planes, out.height, out.width, out.channels, sparsity.input_planar.phase_width,
                            out_plane, /*accumulate=*/false, arguments.output + image * out.size());
  }
}

void Conv2DLayer::WeightGradientSparse(const BackwardArguments& arguments, const Sparsity& sparsity) const {
  const ImageShape& in = input_shapes()[0];
  const nn_internal::SparseScratch scratch = sparsity.Regions(arguments.scratch, arguments.batch);
  const float* input = arguments.inputs[0];
  if (needs_padding()) {
    PadImages(input, arguments.batch, in, pad_top_, pad_left_, padded_height_, padded_width_, scratch.padded_input);
    input = scratch.padded_input;
  }
  nn_internal::SparseWeightGradient(
      Geometry(padded_height_, padded_width_, in.channels, output_shape(), options_.kernel_size, options_.stride),
      arguments.batch, input, arguments.output_gradient, sparsity.weight_gradient,
      arguments.parameter_gradient_mode == GradientMode::kOverwrite, arguments.parameter_gradients.weights);
}

void Conv2DLayer::InputGradientSparse(const BackwardArguments& arguments, const Sparsity& sparsity) const {
  const ImageShape& in = input_shapes()[0];
  const ImageShape& out = output_shape();
  const nn_internal::SparseScratch scratch = sparsity.Regions(arguments.scratch, arguments.batch);
  float* planar = scratch.planar;
  float* planes = scratch.planes;
  float* values = scratch.values;
  float* input_gradient = arguments.input_gradients[0];
  const bool accumulate = arguments.input_gradient_modes[0] == GradientMode::kAccumulate;
  nn_internal::PackValues(sparsity.input_gradient_rows, arguments.parameters.weights, values);
  if (sparsity.gather) {
    const nn_internal::PlanarGeometry& gradient = sparsity.gradient_planar;
    const int64_t plane = 16 * sparsity.gradient_lane_vectors;
    float* zeros = scratch.zeros;
    ZeroFloats(in.channels, zeros);
    for (int64_t image = 0; image < arguments.batch; ++image) {
      float* target = input_gradient + image * in.size();
      // As in ForwardSparse, the planar image's zeros stay from the first image.
      (image == 0 ? nn_internal::ToPlanar : nn_internal::CopyToPlanar)(
          gradient, arguments.output_gradient + image * out.size(), 1, planar);
      if (accumulate) nn_internal::ToPlanes(target, in.height, in.width, in.channels, gradient.phase_width, plane, planes);
      nn_internal::SparseRowsForward(sparsity.input_gradient_rows, values, planar, 1, sparsity.gradient_lane_vectors,
                                     accumulate ? nullptr : zeros, planes, plane);
      nn_internal::FromPlanes(planes, in.height, in.width, in.channels, gradient.phase_width, plane,
                              /*accumulate=*/false, target);
    }
    return;
  }
  // Scatter: the output gradient as planes (zero in the lanes past each row), partial sums added onto the planar
  // input gradient, which starts at zero, or at the current input gradient when adding to it without padding.
  const nn_internal::PlanarGeometry& geometry = sparsity.input_planar;
  const int64_t out_plane = 16 * sparsity.lane_vectors;
  const bool start_from_target = accumulate && !needs_padding();
  int64_t image = 0;
  if (sparsity.batch_lanes) {
    const nn_internal::PlanarGeometry& lanes = sparsity.batch_input;
    for (; image + nn_internal::kBatchLanes <= arguments.batch; image += nn_internal::kBatchLanes) {
      float* target = input_gradient + image * in.size();
      nn_internal::ToBatchLanes(sparsity.batch_output, arguments.output_gradient + image * out.size(), planes);
      if (start_from_target) {
        nn_internal::ToBatchLanes(lanes, target, planar);
      } else {
        ZeroFloats(nn_internal::BatchLaneFloats(lanes), planar);
      }
      nn_internal::SparseRowsScatterBatchLanes(sparsity.scatter_batch_rows, sparsity.scatter_block_start, values,
                                               planes, out.height, out.width, lanes.phase_width, planar);
      nn_internal::FromBatchLanes(lanes, planar, /*accumulate=*/accumulate && needs_padding(), target);
    }
  }
  for (const int64_t first_image = image; image < arguments.batch; ++image) {
    float* target = input_gradient + image * in.size();
    // ToPlanes writes the same lanes for every image, so the zeros past each row stay from the first image.
    if (image == first_image) ZeroFloats(out.channels * out_plane, planes);
    nn_internal::ToPlanes(arguments.output_gradient + image * out.size(), out.height, out.width, out.channels,
                          geometry.phase_width, out_plane, planes);
    if (start_from_target) {
      nn_internal::ToPlanar(geometry, target, 1, planar);
    } else {
      ZeroFloats(geometry.image, planar);
    }
    nn_internal::SparseRowsScatter(sparsity.input_gradient_rows, values, planes, sparsity.lane_vectors, planar);
    nn_internal::FromPlanar(geometry, planar, 1, /*accumulate=*/accumulate && needs_padding(), target);
  }
}

void Conv2DLayer::Forward(const ForwardArguments& arguments) const {
  const auto* sparsity = static_cast<const Sparsity*>(arguments.parameters.sparsity);
  if (sparsity != nullptr && sparsity->kernel(Product::kForward, arguments.batch) == KernelKind::kSparse) {
    ForwardSparse(arguments, *sparsity);
  } else if (implementation_ == Implementation::kDirect) {
    ForwardDirect(arguments);
  } else {
    ForwardEigen(arguments);
  }
}

bool Conv2DLayer::TakesPooledGradient(const LayerSparsity* sparsity, int64_t batch) const {
  if (implementation_ != Implementation::kDirect) return false;
  const ImageShape& in = input_shapes()[0];
  if (!nn_internal::CanRouteMaxPoolWeightGradient(Geometry(padded_height_, padded_width_, in.channels, output_shape(),
                                                           options_.kernel_size, options_.stride))) {
    return false;
  }
  // A sparse weight-gradient kernel reads the whole output gradient.
  return sparsity == nullptr || sparsity->kernel(Product::kWeightGradient, batch) == KernelKind::kDense;
}

void Conv2DLayer::BackwardThroughPool(const BackwardArguments& arguments) const {
  PARSITY_CHECK(arguments.input_gradients[0] == nullptr);
  const ImageShape& in = input_shapes()[0];
  const int64_t batch = arguments.batch;
  const float* input = arguments.inputs[0];
  if (needs_padding()) {
    float* padded_input = arguments.scratch + DirectScratchLayout(batch).padded_input;
    PadImages(input, batch, in, pad_top_, pad_left_, padded_height_, padded_width_, padded_input);
    input = padded_input;
  }
  const bool overwrite = arguments.parameter_gradient_mode == GradientMode::kOverwrite;
  float* weight_gradient = arguments.parameter_gradients.weights;
  PARSITY_CHECK(weight_gradient != nullptr);
  nn_internal::DirectConvolutionWeightGradientThroughMaxPool(
      Geometry(padded_height_, padded_width_, in.channels, output_shape(), options_.kernel_size, options_.stride),
      batch, input, arguments.pooled->output, arguments.pooled->pooled_output, arguments.pooled->pooled_gradient,
      overwrite, weight_gradient, arguments.parameter_gradients.biases);
}

void Conv2DLayer::Backward(const BackwardArguments& arguments) const {
  if (arguments.pooled != nullptr) {
    BackwardThroughPool(arguments);
    return;
  }
  if (arguments.parameter_gradients.biases != nullptr) {
    const int64_t channels = options_.out_channels;
    const int64_t rows = arguments.batch * output_shape().height * output_shape().width;
    if (arguments.parameter_gradient_mode == GradientMode::kOverwrite) {
      ZeroFloats(channels, arguments.parameter_gradients.biases);
    }
    nn_internal::AddRows(arguments.output_gradient, rows, channels, arguments.parameter_gradients.biases);
  }
  // Each product runs sparse or dense on its own; what remains for the dense kernels goes to them at the end.
  BackwardArguments dense = arguments;
  if (const auto* sparsity = static_cast<const Sparsity*>(arguments.parameters.sparsity); sparsity != nullptr) {
    dense = nn_internal::RunSparseProducts(
        arguments, *sparsity, [&](KernelKind) { WeightGradientSparse(arguments, *sparsity); },
        [&](KernelKind) { InputGradientSparse(arguments, *sparsity); });
    if (dense.parameter_gradients.weights == nullptr && dense.input_gradients[0] == nullptr) return;
  }
  if (implementation_ == Implementation::kDirect) {
    BackwardDirect(dense);
  } else {
    BackwardEigen(dense);
  }
}

int64_t Conv2DLayer::MultiplyAddsPerExample() const {
  return output_shape().height * output_shape().width * patch_size_ * options_.out_channels;
}

void Conv2DLayer::Im2Col(const float* input, int64_t first_row, int64_t rows, float* columns) const {
  const ImageShape& in = input_shapes()[0];
  const ImageShape& out = output_shape();
  const int64_t kernel = options_.kernel_size;
  const int64_t stride = options_.stride;
  const int64_t kernel_row_floats = kernel * in.channels;  // One kernel row of one patch, contiguous in HWC.
  const int64_t pixels = out.height * out.width;
  int64_t example = first_row / pixels;
  int64_t out_y = (first_row % pixels) / out.width;
  int64_t out_x = first_row % out.width;
  for (int64_t row = 0; row < rows; ++row) {
    const float* image = input + example * in.size();
    float* patch = columns + row * patch_size_;
    const int64_t top = out_y * stride - pad_top_;
    const int64_t left = out_x * stride - pad_left_;
    const bool columns_inside = left >= 0 && left + kernel <= in.width;
    for (int64_t ky = 0; ky < kernel; ++ky) {
      float* destination = patch + ky * kernel_row_floats;
      const int64_t y = top + ky;
      if (y < 0 || y >= in.height) {
        ZeroFloats(kernel_row_floats, destination);
      } else if (columns_inside) {
        CopyFloats(image + (y * in.width + left) * in.channels, kernel_row_floats, destination);
      } else {
        for (int64_t kx = 0; kx < kernel; ++kx) {
          const int64_t x = left + kx;
          if (x < 0 || x >= in.width) {
            ZeroFloats(in.channels, destination + kx * in.channels);
          } else {
            CopyFloats(image + (y * in.width + x) * in.channels, in.channels, destination + kx * in.channels);
          }
        }
      }
    }
    if (++out_x == out.width) {
      out_x = 0;
      if (++out_y == out.height) {
        out_y = 0;
        ++example;
      }
    }
  }
}

void Conv2DLayer::Col2ImAdd(const float* columns, int64_t first_row, int64_t rows, float* input_gradient) const {
  const ImageShape& in = input_shapes()[0];
  const ImageShape& out = output_shape();
  const int64_t kernel = options_.kernel_size;
  const int64_t stride = options_.stride;
  const int64_t kernel_row_floats = kernel * in.channels;
  const int64_t pixels = out.height * out.width;
  int64_t example = first_row / pixels;
  int64_t out_y = (first_row % pixels) / out.width;
  int64_t out_x = first_row % out.width;
  for (int64_t row = 0; row < rows; ++row) {
    float* image = input_gradient + example * in.size();
    const float* patch = columns + row * patch_size_;
    const int64_t top = out_y * stride - pad_top_;
    const int64_t left = out_x * stride - pad_left_;
    const bool columns_inside = left >= 0 && left + kernel <= in.width;
    for (int64_t ky = 0; ky < kernel; ++ky) {
      const float* source = patch + ky * kernel_row_floats;
      const int64_t y = top + ky;
      if (y < 0 || y >= in.height) continue;
      if (columns_inside) {
        AddFloats(source, kernel_row_floats, image + (y * in.width + left) * in.channels);
      } else {
        for (int64_t kx = 0; kx < kernel; ++kx) {
          const int64_t x = left + kx;
          if (x >= 0 && x < in.width) {
            AddFloats(source + kx * in.channels, in.channels, image + (y * in.width + x) * in.channels);
          }
        }
      }
    }
    if (++out_x == out.width) {
      out_x = 0;
      if (++out_y == out.height) {
        out_y = 0;
        ++example;
      }
    }
  }
}

void Conv2DLayer::ForwardEigen(const ForwardArguments& arguments) const {
  const int64_t channels = options_.out_channels;
  const int64_t total_rows = arguments.batch * output_shape().height * output_shape().width;
  const ConstMatrixMap weights(arguments.parameters.weights, patch_size_, channels);
  for (int64_t first_row = 0; first_row < total_rows; first_row += rows_per_block_) {
    const int64_t rows = std::min(rows_per_block_, total_rows - first_row);
    float* output_rows = arguments.output + first_row * channels;
    for (int64_t row = 0; row < rows; ++row)
      CopyFloats(arguments.parameters.biases, channels, output_rows + row * channels);
    Im2Col(arguments.inputs[0], first_row, rows, arguments.scratch);
    MatrixMap(output_rows, rows, channels).noalias() += ConstMatrixMap(arguments.scratch, rows, patch_size_) * weights;
  }
}

void Conv2DLayer::BackwardEigen(const BackwardArguments& arguments) const {
  const int64_t channels = options_.out_channels;
  const int64_t total_rows = arguments.batch * output_shape().height * output_shape().width;
  const float* output_gradient = arguments.output_gradient;
  float* input_gradient = arguments.input_gradients[0];
  if (input_gradient != nullptr && arguments.input_gradient_modes[0] == GradientMode::kOverwrite) {
    ZeroFloats(arguments.batch * input_shapes()[0].size(), input_gradient);
  }
  if (arguments.parameter_gradients.weights != nullptr &&
      arguments.parameter_gradient_mode == GradientMode::kOverwrite) {
    ZeroFloats(patch_size_ * channels, arguments.parameter_gradients.weights);
  }
  const ConstMatrixMap weights(arguments.parameters.weights, patch_size_, channels);
  MatrixMap weight_gradient(arguments.parameter_gradients.weights, patch_size_, channels);
  for (int64_t first_row = 0; first_row < total_rows; first_row += rows_per_block_) {
    const int64_t rows = std::min(rows_per_block_, total_rows - first_row);
    const ConstMatrixMap output_gradient_rows(output_gradient + first_row * channels, rows, channels);
    Im2Col(arguments.inputs[0], first_row, rows, arguments.scratch);
    if (arguments.parameter_gradients.weights != nullptr) {
      weight_gradient.noalias() +=
          ConstMatrixMap(arguments.scratch, rows, patch_size_).transpose() * output_gradient_rows;
    }
    if (input_gradient != nullptr) {
      MatrixMap(arguments.scratch, rows, patch_size_).noalias() = output_gradient_rows * weights.transpose();
      Col2ImAdd(arguments.scratch, first_row, rows, input_gradient);
    }
  }
}

}  // namespace parsity::nn
