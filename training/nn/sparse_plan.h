// The sparse execution plan of a network under a fixed pruning mask: for every layer with weights, the structures
// that let its three products (forward, input gradient, weight gradient) compute over the kept weights only, built
// once per trial, and for every product and batch size the kernel that runs it, dense or sparse, whichever was
// measured faster on this machine when the plan was made. Sparse and dense kernels give identical values
// (training/nn/internal/sparse_kernels.h), so the choice changes speed, never results. Design and measured speed:
// training/README.md, "Sparse execution".
//
//   ASSIGN_OR_RETURN(std::unique_ptr<SparsePlan> plan, SparsePlan::Create(*network, mask, {}));
//   GradientEvaluator evaluator(network.get(), {.threads = 1, .max_chunk = 256, .sparse_plan = plan.get()});
//   std::cerr << SparsePlanJson(plan->Describe(batch_size));   // [{"name":"conv2","density":0.08,...}]
#ifndef PARSITY_TRAINING_NN_SPARSE_PLAN_H_
#define PARSITY_TRAINING_NN_SPARSE_PLAN_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "training/nn/layer.h"
#include "training/nn/mask.h"
#include "training/nn/network.h"

namespace parsity::nn {

// How a plan picks each product's kernel.
enum class KernelSelection {
  // Time the dense and the sparse kernel of every product at every power-of-two batch on random data with the
  // real mask; keep the sparse one when it was at least 10% faster.
  kMeasured,
  // Always the dense kernels (the masked-dense network, as before sparse execution existed).
  kDense,
  // Always the sparse kernels (for tests and benchmarks of the kernels themselves).
  kSparse,
};

// "auto" -> kMeasured, "dense" -> kDense, "sparse" -> kSparse. Errors: InvalidArgument naming `text`.
absl::StatusOr<KernelSelection> ParseKernelSelection(absl::string_view text);
// The inverse: "auto", "dense" or "sparse".
const char* KernelSelectionName(KernelSelection selection);

struct SparsePlanOptions {
  KernelSelection selection = KernelSelection::kMeasured;
  // Rounds of timed runs per product and batch under kMeasured: each round runs every candidate kernel once, in turn,
  // and each kernel's fastest run counts.
  int repetitions = 5;
  // Let every layer whose products all run sparse kernels keep its kept weights packed at the front of its weights,
  // in the order its kernels visit them (LayerSparsity::PackWeights): the kernels then touch a few whole cache lines
  // instead of kept entries spread over the matrix, and so does an optimizer's masked update. Such layers run their
  // sparse kernels (kSparse) at every batch. The parameter, gradient and optimizer-state buffers the plan runs on must
  // then be in the plan's order (reordered(), ToPlanOrder), and so must the mask that optimizers use (mask()).
  // Results are those of the network's layout, bit for bit. LeNet-300-100's step at 90% sparsity, measured
  // (training/README.md, "Packed weights"): 1.28-1.49x faster at batches 2-32, 1.07x at 128.
  bool pack_weights = false;
  // The batch size of the training steps the plan serves (0: not known). When it is known, weights may be packed and
  // kernels are measured, the layer reading the network input, if fully connected and not packed for its sparse
  // kernels, is also timed with its weights packed for its dense_packed kernels (LayerSparsity::PackWeightsDense):
  // what a step does with its weights (forward product, weight gradient, one update pass over the weights a masked
  // optimizer visits) at this batch, packed against unpacked; it packs when that is at least 5% faster. Its other
  // batches (a last partial chunk, validation checks) then run the dense_packed kernels too. LeNet-300-100's first
  // layer at 50-70% sparsity and batches 2-8 (training/README.md, "Dense-packed weights").
  int64_t step_batch = 0;
  // For tests: pack the layer reading the network input for its dense_packed kernels whenever it can, unmeasured.
  bool always_pack_dense = false;
};

// What one weighted layer runs at one batch size.
struct LayerKernels {
  std::string name;           // The layer's name, e.g. "conv2".
  double density = 1;         // Kept weights / weights.
  int64_t kept_weights = 0;
  int64_t batch = 0;          // Examples per pass, as the layer sees them: min(batch size, chunk_examples()).
  KernelKind forward = KernelKind::kDense;
  KernelKind input_gradient = KernelKind::kDense;  // Not computed for a layer reading the network input.
  KernelKind weight_gradient = KernelKind::kDense;
  bool has_input_gradient = true;
  bool weights_packed = false;  // The layer's weights lie packed in the plan's order (SparsePlanOptions).
};

class SparsePlan {
 public:
  // Builds the structures of every weighted layer for `mask` (one entry per parameter of `network`) and selects
  // kernels. In builds without the sparse kernels (no AVX-512) every layer runs dense. `network` must outlive the
  // plan. Errors: InvalidArgument when the mask does not cover the network's parameters.
  static absl::StatusOr<std::unique_ptr<SparsePlan>> Create(const Network& network, const Mask& mask,
                                                            const SparsePlanOptions& options);

  const Network& network() const { return *network_; }
  // Per node: the structures, or null for layers without weights. Pass to Network::CreateWorkspace.
  const LayerSparsities& layers() const { return layer_pointers_; }

  // The kernels of every weighted layer for a batch of `batch_size` examples. REQUIRES: batch_size >= 1.
  std::vector<LayerKernels> Describe(int64_t batch_size) const;

  // The mask's KeptBits (training/nn/mask.h) in the plan's order: which lines of 16 entries of the parameter buffer
  // hold a kept entry.
  absl::Span<const uint16_t> kept_bits() const { return kept_bits_; }

  // Whether some layer keeps its weights in another order than the network's (SparsePlanOptions::pack_weights).
  bool reordered() const { return !weight_orders_.empty(); }
  // The mask in the plan's order (the mask the plan was made from when nothing is reordered).
  const Mask& mask() const { return *mask_; }
  // Moves the entries of a buffer laid out like the network's parameters (parameters, gradients, optimizer state,
  // mask values) from the network's order into the plan's, and back. Each is the identity when nothing is reordered.
  // REQUIRES: buffer.size() == network().parameter_count().
  void ToPlanOrder(absl::Span<float> buffer) const;
  void ToNetworkOrder(absl::Span<float> buffer) const;

  // Calls visit(begin, end) for disjoint ranges [begin, end) of the parameter buffer that together hold every entry
  // that gradient passes (Network::AccumulateGradient) over `batch` or `other_batch` examples add into: all the
  // weights of a layer whose weight gradient runs dense at a chunk size these batches bring (or that has no sparse
  // structures), every layer's biases unless all of them are pruned (LayerSparsity::biases_pruned), and elsewhere the
  // runs of 16-entry lines with a kept weight (Mask::KeptBits), because the sparse weight-gradient kernels write kept
  // entries only. What lies outside is pruned and never written by such passes, so the evaluator zeroes (before
  // adding into a buffer) and sums only these ranges. REQUIRES: batches >= 1.
  template <typename Visit>
  void ForEachGradientRange(int64_t batch, int64_t other_batch, Visit visit) const {
    // The chunk sizes the layers see: whole chunks of chunk_examples(), then the rest.
    const int64_t chunk = network_->chunk_examples();
    int64_t sizes[4];
    int size_count = 0;
    for (const int64_t examples : {batch, other_batch}) {
      sizes[size_count++] = std::min(examples, chunk);
      if (examples > chunk && examples % chunk != 0) sizes[size_count++] = examples % chunk;
    }
    for (const GradientRanges& layer : gradient_ranges_) {
      const LayerSparsity* sparsity = layer_pointers_[layer.node];
      bool dense = sparsity == nullptr;
      for (int s = 0; s < size_count && !dense; ++s) {
        dense = sparsity->kernel(Product::kWeightGradient, sizes[s]) == KernelKind::kDense;
      }
      if (dense) {
        visit(layer.weights.first, layer.weights.second);
      } else {
        for (const auto& [begin, end] : layer.kept_runs) visit(begin, end);
      }
      const bool biases_written = sparsity == nullptr || !sparsity->biases_pruned();
      if (biases_written && layer.biases.second > layer.biases.first) {
        visit(layer.biases.first, layer.biases.second);
      }
    }
    for (const auto& [begin, end] : other_ranges_) visit(begin, end);
  }

 private:
  SparsePlan() = default;
  void BuildGradientRanges();

  const Network* network_ = nullptr;
  std::vector<std::unique_ptr<LayerSparsity>> layers_;
  // Per node: kept weights (0 for layers without weights).
  std::vector<int64_t> kept_weights_;
  LayerSparsities layer_pointers_;
  std::vector<uint16_t> kept_bits_;
  // Per weighted node: its weights and biases ranges, and the runs of kept lines within its weights.
  struct GradientRanges {
    size_t node = 0;
    std::pair<int64_t, int64_t> weights;
    std::pair<int64_t, int64_t> biases;
    std::vector<std::pair<int64_t, int64_t>> kept_runs;
  };
  std::vector<GradientRanges> gradient_ranges_;
  // Parameters outside every node's weights and biases (none in parsity's networks), always visited.
  std::vector<std::pair<int64_t, int64_t>> other_ranges_;
  // The layers whose weights lie in their own order (LayerSparsity::weight_order) and where they lie.
  struct WeightOrder {
    int64_t weights_offset = 0;
    absl::Span<const int32_t> order;  // The layer's LayerSparsity::weight_order().
  };
  std::vector<WeightOrder> weight_orders_;
  // Moves one buffer's entries into the plan's order (to_plan) or back.
  void Reorder(absl::Span<float> buffer, bool to_plan) const;
  std::unique_ptr<Mask> mask_;  // In the plan's order.
};

// The same description for a network that runs dense (no mask): density 1, every kernel dense.
std::vector<LayerKernels> DescribeDense(const Network& network, int64_t batch_size);

// "sparse" when every product the layer computes runs a kernel other than dense (sparse, sparse_lines, dense_packed:
// none reads the whole matrix), "dense" when none does, else "mixed".
std::string KernelSummary(const LayerKernels& kernels);

// A JSON array: [{"name": ..., "density": ..., "kept_weights": ..., "kernel": "sparse|dense|mixed", "forward": ...,
// "input_gradient": ... (omitted for the first layer), "weight_gradient": ...}, ...].
std::string SparsePlanJson(const std::vector<LayerKernels>& layers);

}  // namespace parsity::nn

#endif  // PARSITY_TRAINING_NN_SPARSE_PLAN_H_
