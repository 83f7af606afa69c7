#include "training/nn/fully_connected.h"

#include <algorithm>
#include <utility>

#include "tools/base/check.h"
#include "training/nn/internal/direct_convolution.h"
#include "training/nn/internal/sparse_kernels.h"
#include "training/nn/internal/vector_ops.h"

namespace parsity::nn {
namespace {

using nn_internal::BatchRowGeometry;
using nn_internal::ConstMatrixMap;
using nn_internal::CopyFloats;
using nn_internal::MatrixMap;

ImageShape VectorShape(int64_t features) {
  PARSITY_CHECK(features >= 1);
  return ImageShape{1, 1, features};
}

int64_t RoundUpToCacheLine(int64_t floats) { return (floats + 15) / 16 * 16; }

// A short-lane product (one or two lane vectors) whose chains start in `planes`: over row blocks where they pay, else
// streamed onto the planes in the weights' own order through `streamed_rows`, the blocks' rows transposed.
void ShortLaneProduct(const nn_internal::SparseRowBlocks& blocks, const nn_internal::SparseRows& streamed_rows,
                      const float* weights, const float* planar, int64_t batch, int64_t lane_vectors, float* planes) {
  if (blocks.pays()) {
    nn_internal::SparseRowBlocksForward(blocks, weights, planar, batch, lane_vectors, planes, 16 * lane_vectors);
  } else {
    nn_internal::SparseRowsAccumulate(streamed_rows, weights, planar, batch, lane_vectors, planes, 16 * lane_vectors);
  }
}

// Above two lane vectors the sparse forward and input-gradient products run in chunks of this many examples, each
// transposed into planes, multiplied and transposed back before the next: a chunk's planes (200 KB for a 784-feature
// input) stay in L2, where the whole batch's planes (1.6 MB at batch 512) went out to L3 and back. Each lane's chain
// is the same whatever the chunk, so the results are too. Chosen by measurement (training/README.md).
constexpr int64_t kSparseChunkExamples = 64;

// The 16-lane vectors that hold a batch in the sparse kernels' planes.
int64_t LaneVectors(int64_t batch) { return (batch + 15) / 16; }

// Whether a batch's sparse forward and input-gradient products run as long lanes (LongLaneProduct, in chunks) rather
// than short ones (ShortLaneProduct, whose row blocks take at most two lane vectors).
bool HasLongLanes(int64_t batch) { return LaneVectors(batch) > 2; }

// A long-lane product (more than two lane vectors) in chunks of kSparseChunkExamples: per chunk, the `source_features`
// of each example into planes, each row's chain from start[row] (from the row's value in `target` when `start` is
// null), and back into the `target_features` of each example of `target`.
void LongLaneProduct(const nn_internal::SparseRows& rows, const float* values, const float* source,
                     int64_t source_features, int64_t batch, const float* start, int64_t target_features,
                     float* planar, float* planes, float* target) {
  for (int64_t first = 0; first < batch; first += kSparseChunkExamples) {
    const int64_t n = std::min(kSparseChunkExamples, batch - first);
    const int64_t plane = 16 * LaneVectors(n);
    nn_internal::ToPlanar(nn_internal::MakePlanarGeometry(1, n, source_features, 0, 0, 1, n, 1),
                          source + first * source_features, 1, planar);
    if (start == nullptr) {
      nn_internal::ToPlanes(target + first * target_features, 1, n, target_features, 0, plane, planes);
    }
    nn_internal::SparseRowsForward(rows, values, planar, n, plane / 16, start, planes, plane);
    nn_internal::FromPlanes(planes, 1, n, target_features, 0, plane, /*accumulate=*/false,
                            target + first * target_features);
  }
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

// The sparse structures of one fully connected layer under one mask. The batch is the lane dimension: inputs and
// output gradients are transposed into planes of `batch` floats (one per feature), so entries store feature numbers
// and the kernels scale them by the batch.
class FullyConnectedLayer::Sparsity : public nn_internal::SparseLayerStructures {
 public:
  Sparsity(absl::Span<const float> weight_mask, int64_t max_batch, int64_t in, int64_t out)
      : SparseLayerStructures(weight_mask, max_batch), in_(in), out_(out) {}

  nn_internal::SparseScratchSizes Sizes(int64_t batch) const override {
    const int64_t features = std::max(in_, out_);
    nn_internal::SparseScratchSizes sizes;
    // Long lanes run in chunks (kSparseChunkExamples); short ones whole.
    const int64_t examples = HasLongLanes(batch) ? std::min(batch, kSparseChunkExamples) : batch;
    sizes.planar = features * examples + nn_internal::kPlanarTail;
    sizes.planes = features * 16 * LaneVectors(examples);
    sizes.values = forward_rows.entries();
    sizes.zeros = in_;
    return sizes;
  }

  // Lines serve the forward product and the weight gradient; the input gradient's chain runs over outputs, across a
  // line. They and the dense kernels read the weights in the network's layout, so not once the weights are packed;
  // dense_packed serves the same two products once the weights are packed for it.
  bool Supports(Product product, KernelKind kind) const override {
    switch (kind) {
      case KernelKind::kSparse:
        return true;
      case KernelKind::kDense:
        return weight_order().empty();
      case KernelKind::kSparseLines:
        return product != Product::kInputGradient && weight_order().empty();
      case KernelKind::kDensePacked:
        return product != Product::kInputGradient && dense_packed_;
    }
    return false;
  }

  // The kept weights in the order of the weight-gradient kernel's vectors (a vector's lanes side by side, a vector's
  // unused lanes holding pruned weights), then the other pruned weights in ascending order. The forward and
  // input-gradient structures read weights by index, so they follow wherever the weights go.
  bool PackLayerWeights() override {
    const int64_t weights = in_ * out_;
    const std::vector<int32_t>& lanes = weight_gradient.weight_index;
    if (static_cast<int64_t>(lanes.size()) > weights) return false;  // Unused lanes outnumber the pruned weights.
    std::vector<int32_t> position(weights, -1);
    for (size_t p = 0; p < lanes.size(); ++p) {
      if (lanes[p] >= 0) position[lanes[p]] = static_cast<int32_t>(p);
    }
    std::vector<int32_t> order(weights, -1);
    for (size_t p = 0; p < lanes.size(); ++p) order[p] = lanes[p];
    MoveWeights(std::move(order), position);
    weight_gradient.contiguous = true;
    return true;
  }

  // The kept weights in the dense_packed kernels' order (nn_internal::PackedDenseLayout), then the pruned ones in
  // ascending order; the sparse structures follow, for the input gradient.
  bool PackLayerWeightsDense() override {
    const int64_t weights = in_ * out_;
    std::vector<float> mask(weights, 0.0f);
    for (const int32_t index : forward_rows.weight_index) mask[index] = 1.0f;
    packed_dense = nn_internal::MakePackedDenseLayout(in_, out_, mask.data());
    std::vector<int32_t> position(weights, -1);
    std::vector<int32_t> order(weights, -1);
    const std::vector<int32_t>& packed = packed_dense.weight_index;
    for (size_t p = 0; p < packed.size(); ++p) {
      order[p] = packed[p];
      position[packed[p]] = static_cast<int32_t>(p);
    }
    MoveWeights(std::move(order), position);
    dense_packed_ = true;
    return true;
  }

  nn_internal::SparseRows forward_rows;     // Per output o: the kept inputs i, ascending.
  nn_internal::SparseRows transposed_rows;  // Per input i: the kept outputs o, ascending.
  nn_internal::SparseWeightGradientPlan weight_gradient;
  nn_internal::SparseLines lines;
  nn_internal::SparseRowBlocks forward_blocks;     // forward_rows by blocks of inputs.
  nn_internal::SparseRowBlocks transposed_blocks;  // transposed_rows by blocks of outputs.
  nn_internal::PackedDenseLayout packed_dense;     // Only once packed for the dense_packed kernels.

 private:
  // Completes `order` (entry p of the packed weights holds weight order[p]; -1: not yet placed) with the pruned
  // weights in ascending order, points the index-reading structures there (`position`: where each weight goes, -1
  // for those not yet placed) and sets the layer's weight order. The line kernels, which need the network's layout,
  // are dropped.
  void MoveWeights(std::vector<int32_t> order, std::vector<int32_t>& position) {
    int64_t pruned = 0;
    for (size_t p = 0; p < order.size(); ++p) {
      if (order[p] >= 0) continue;
      while (position[pruned] >= 0) ++pruned;
      order[p] = static_cast<int32_t>(pruned);
      position[pruned] = static_cast<int32_t>(p);
    }
    auto move = [&](std::vector<int32_t>& indices) {
      for (int32_t& index : indices) index = position[index];
    };
    move(forward_rows.weight_index);
    move(transposed_rows.weight_index);
    for (auto* blocks : {&forward_blocks, &transposed_blocks}) {
      for (nn_internal::SparseRowBlocks::Entry& entry : blocks->entry) entry.weight_index = position[entry.weight_index];
    }
    for (int32_t& index : weight_gradient.weight_index) {
      if (index >= 0) index = position[index];
    }
    lines = nn_internal::SparseLines{};
    set_weight_order(std::move(order));
  }

  bool dense_packed_ = false;

  int64_t in_;
  int64_t out_;
};

std::unique_ptr<LayerSparsity> FullyConnectedLayer::CreateSparsity(absl::Span<const float> weight_mask,
                                                                   int64_t max_batch) const {
  if (implementation_ != Implementation::kDirect || !nn_internal::HasSparseKernels()) return nullptr;
  const int64_t in = in_features();
  const int64_t out = out_features();
  PARSITY_CHECK(static_cast<int64_t>(weight_mask.size()) == in * out);
  auto sparsity = std::make_unique<Sparsity>(weight_mask, max_batch, in, out);
  auto is_kept = [&](int64_t index) { return weight_mask[index] != 0.0f; };
  nn_internal::SparseRows& forward = sparsity->forward_rows;
  forward.row_start.push_back(0);
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) {
      if (!is_kept(i * out + o)) continue;
      forward.offsets.push_back(static_cast<int32_t>(i));
      forward.weight_index.push_back(static_cast<int32_t>(i * out + o));
    }
    forward.row_start.push_back(static_cast<int32_t>(forward.offsets.size()));
  }
  nn_internal::SparseRows& transposed = sparsity->transposed_rows;
  transposed.row_start.push_back(0);
  for (int64_t i = 0; i < in; ++i) {
    for (int64_t o = 0; o < out; ++o) {
      if (!is_kept(i * out + o)) continue;
      transposed.offsets.push_back(static_cast<int32_t>(o));
      transposed.weight_index.push_back(static_cast<int32_t>(i * out + o));
    }
    transposed.row_start.push_back(static_cast<int32_t>(transposed.offsets.size()));
  }
  sparsity->weight_gradient = nn_internal::MakeSparseWeightGradientPlan(BatchRowGeometry(1, in, out), is_kept);
  sparsity->lines = nn_internal::MakeSparseLines(in, out, weight_mask.data());
  sparsity->forward_blocks = nn_internal::MakeSparseRowBlocks(forward, in);
  sparsity->transposed_blocks = nn_internal::MakeSparseRowBlocks(transposed, out);
  return sparsity;
}

void FullyConnectedLayer::ForwardSparse(const ForwardArguments& arguments, const Sparsity& sparsity) const {
  const int64_t batch = arguments.batch;
  const nn_internal::SparseScratch scratch = sparsity.Regions(arguments.scratch, batch);
  float* planar = scratch.planar;
  float* planes = scratch.planes;
  float* values = scratch.values;
  const int64_t lane_vectors = LaneVectors(batch);
  if (HasLongLanes(batch)) {
    // Long lanes: each output's chain over its kept inputs, lane tile by lane tile, chunk by chunk.
    nn_internal::PackValues(sparsity.forward_rows, arguments.parameters.weights, values);
    LongLaneProduct(sparsity.forward_rows, values, arguments.inputs[0], in_features(), batch,
                    arguments.parameters.biases, out_features(), planar, planes, arguments.output);
    return;
  }
  // Short lanes: each output's chain, in ascending input order, runs over blocks of inputs with the block's planes in
  // L1 and several outputs' accumulators in registers; when the blocks' rows are too short for that to pay, the kept
  // weights stream by in their own order instead, each updating its output's planes in cache.
  nn_internal::ToPlanar(nn_internal::MakePlanarGeometry(1, batch, in_features(), 0, 0, 1, batch, 1),
                        arguments.inputs[0], 1, planar);
  const float* biases = arguments.parameters.biases;
  for (int64_t o = 0; o < out_features(); ++o) {
    std::fill(planes + o * 16 * lane_vectors, planes + (o + 1) * 16 * lane_vectors, biases[o]);
  }
  ShortLaneProduct(sparsity.forward_blocks, sparsity.transposed_rows, arguments.parameters.weights, planar, batch,
                   lane_vectors, planes);
  nn_internal::FromPlanes(planes, 1, batch, out_features(), 0, 16 * lane_vectors, /*accumulate=*/false,
                          arguments.output);
}

void FullyConnectedLayer::InputGradientSparse(const BackwardArguments& arguments, const Sparsity& sparsity) const {
  const int64_t batch = arguments.batch;
  const int64_t in = in_features();
  const nn_internal::SparseScratch scratch = sparsity.Regions(arguments.scratch, batch);
  float* planar = scratch.planar;
  float* planes = scratch.planes;
  float* values = scratch.values;
  float* zeros = scratch.zeros;
  float* input_gradient = arguments.input_gradients[0];
  const int64_t lane_vectors = LaneVectors(batch);
  const bool accumulate = arguments.input_gradient_modes[0] == GradientMode::kAccumulate;
  if (HasLongLanes(batch)) {
    // Long lanes, as in ForwardSparse: each input's sum over its kept outputs, chunk by chunk.
    nn_internal::PackValues(sparsity.transposed_rows, arguments.parameters.weights, values);
    if (!accumulate) nn_internal::ZeroFloats(in, zeros);
    LongLaneProduct(sparsity.transposed_rows, values, arguments.output_gradient, out_features(), batch,
                    accumulate ? nullptr : zeros, in, planar, planes, input_gradient);
    return;
  }
  nn_internal::ToPlanar(nn_internal::MakePlanarGeometry(1, batch, out_features(), 0, 0, 1, batch, 1),
                        arguments.output_gradient, 1, planar);
  // Short lanes, as in ForwardSparse: each input's sum runs over its kept outputs in ascending order, by blocks of
  // outputs with several inputs' chains in flight, or (rows too short) output by output onto the planes in place.
  if (accumulate) {
    nn_internal::ToPlanes(input_gradient, 1, batch, in, 0, 16 * lane_vectors, planes);
  } else {
    nn_internal::ZeroFloats(in * 16 * lane_vectors, planes);
  }
  ShortLaneProduct(sparsity.transposed_blocks, sparsity.forward_rows, arguments.parameters.weights, planar, batch,
                   lane_vectors, planes);
  nn_internal::FromPlanes(planes, 1, batch, in, 0, 16 * lane_vectors, /*accumulate=*/false, input_gradient);
}

void FullyConnectedLayer::Forward(const ForwardArguments& arguments) const {
  const int64_t in = in_features();
  const int64_t out = out_features();
  const auto* sparsity = static_cast<const Sparsity*>(arguments.parameters.sparsity);
  const KernelKind kind =
      sparsity != nullptr ? sparsity->kernel(Product::kForward, arguments.batch) : KernelKind::kDense;
  if (kind == KernelKind::kSparse) {
    ForwardSparse(arguments, *sparsity);
    return;
  }
  if (kind == KernelKind::kDensePacked) {
    nn_internal::PackedDenseForward(sparsity->packed_dense, arguments.batch, arguments.inputs[0],
                                    arguments.parameters.weights, arguments.parameters.biases, arguments.output);
    return;
  }
  if (kind == KernelKind::kSparseLines) {
    nn_internal::SparseLinesForward(sparsity->lines, arguments.batch, arguments.inputs[0], arguments.parameters.weights,
                                    arguments.parameters.biases, arguments.output);
    return;
  }
  if (implementation_ == Implementation::kDirect) {
    nn_internal::DirectConvolutionForward(BatchRowGeometry(arguments.batch, in, out), 1, arguments.inputs[0],
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
  const int64_t out = out_features();
  const bool overwrite = arguments.parameter_gradient_mode == GradientMode::kOverwrite;
  if (arguments.parameter_gradients.biases != nullptr) {
    if (overwrite) nn_internal::ZeroFloats(out, arguments.parameter_gradients.biases);
    nn_internal::AddRows(arguments.output_gradient, arguments.batch, out, arguments.parameter_gradients.biases);
  }
  // Each product runs sparse or dense on its own; what remains for the dense kernels goes to them at the end.
  BackwardArguments dense = arguments;
  if (const auto* sparsity = static_cast<const Sparsity*>(arguments.parameters.sparsity); sparsity != nullptr) {
    dense = nn_internal::RunSparseProducts(
        arguments, *sparsity,
        [&](KernelKind kind) {
          if (kind == KernelKind::kDensePacked) {
            nn_internal::PackedDenseWeightGradient(sparsity->packed_dense, arguments.batch, arguments.inputs[0],
                                                   arguments.output_gradient, overwrite,
                                                   arguments.parameter_gradients.weights);
            return;
          }
          if (kind == KernelKind::kSparseLines) {
            nn_internal::SparseLinesWeightGradient(sparsity->lines, arguments.batch, arguments.inputs[0],
                                                   arguments.output_gradient, overwrite,
                                                   arguments.parameter_gradients.weights);
            return;
          }
          nn_internal::SparseWeightGradient(BatchRowGeometry(arguments.batch, in_features(), out), 1,
                                            arguments.inputs[0], arguments.output_gradient, sparsity->weight_gradient,
                                            overwrite, arguments.parameter_gradients.weights);
        },
        [&](KernelKind) { InputGradientSparse(arguments, *sparsity); });
  }
  if (dense.parameter_gradients.weights != nullptr || dense.input_gradients[0] != nullptr) BackwardDense(dense);
}

void FullyConnectedLayer::BackwardDense(const BackwardArguments& arguments) const {
  const int64_t in = in_features();
  const int64_t out = out_features();
  const ConstMatrixMap output_gradient(arguments.output_gradient, arguments.batch, out);
  float* input_gradient = arguments.input_gradients[0];
  const bool overwrite = arguments.parameter_gradient_mode == GradientMode::kOverwrite;
  if (implementation_ == Implementation::kDirect) {
    if (arguments.parameter_gradients.weights != nullptr) {
      nn_internal::DirectConvolutionWeightGradient(BatchRowGeometry(arguments.batch, in, out), 1, arguments.inputs[0],
                                                   arguments.output_gradient, overwrite,
                                                   arguments.parameter_gradients.weights);
    }
    if (input_gradient != nullptr) {
      // input_gradient = output_gradient * weights^T: the forward kernel with the transposed weights, zero biases
      // (overwrite) or none (accumulate).
      float* transposed = arguments.scratch;
      float* zeros = arguments.scratch + RoundUpToCacheLine(in * out);
      nn_internal::TransposeWeights(BatchRowGeometry(arguments.batch, in, out), arguments.parameters.weights,
                                    transposed);
      nn_internal::ZeroFloats(in, zeros);
      const bool overwrite = arguments.input_gradient_modes[0] == GradientMode::kOverwrite;
      nn_internal::DirectConvolutionForward(BatchRowGeometry(arguments.batch, out, in), 1, arguments.output_gradient,
                                            transposed, overwrite ? zeros : nullptr, input_gradient);
    }
    return;
  }
  if (arguments.parameter_gradients.weights != nullptr) {
    if (overwrite) nn_internal::ZeroFloats(in * out, arguments.parameter_gradients.weights);
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
