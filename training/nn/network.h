// A feed-forward network (a directed acyclic graph of layers, training/nn/layer.h) with a softmax cross-entropy
// head, its parameters in one contiguous buffer (training/nn/parameter_buffer.h), and per-thread workspaces.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Network> network, CreateNetwork("simple_cnn"));   // training/nn/networks.h
//   ParameterBuffer parameters(network->layout()), gradient(network->layout());
//   std::unique_ptr<Workspace> workspace = network->CreateWorkspace(/*max_batch=*/128);   // one per thread
//   double loss = network->AccumulateGradient(parameters.Span(), x, labels, 128, workspace.get(), gradient.Span());
//
// Threading: a Network is immutable once built and every method is const. Any number of threads may call
// AccumulateGradient / Evaluate at once on the same Network as long as each uses its own Workspace and its own
// gradient buffer. Nothing inside runs threads (Eigen's multithreading is not used).
//
// Execution: the batch is processed in chunks of chunk_examples() examples (the last one shorter): each chunk runs
// forward through all layers, then the loss, then backward, and adds its parameter gradient into `gradient`.
// Chunking bounds the workspace and keeps activations in cache; chunk boundaries depend only on `batch`, so the
// result never depends on the workspace's size. Same inputs give bit-identical outputs. The step allocates nothing:
// activations and scratch live in the workspace (the portable Eigen fallback's products allocate internally).
#ifndef PARSITY_TRAINING_NN_NETWORK_H_
#define PARSITY_TRAINING_NN_NETWORK_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "tools/base/aligned_vector.h"
#include "training/nn/layer.h"
#include "training/nn/parameter_buffer.h"

namespace parsity::nn {

class Network;

// Per node of a network, the layer's sparse structures under a pruning mask, or null where the layer runs dense.
// Built and owned by a SparsePlan (training/nn/sparse_plan.h).
using LayerSparsities = std::vector<const LayerSparsity*>;

// Memory for one thread's forward and backward passes: activations, their gradients and layer scratch for up to
// capacity() examples at a time, allocated once. Create with Network::CreateWorkspace; use with that network only.
class Workspace {
 public:
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  // The most examples processed in one pass: min(max_batch, network chunk size).
  int64_t capacity() const { return capacity_; }
  // The max_batch passed at creation.
  int64_t max_batch() const { return max_batch_; }

 private:
  friend class Network;

// Per node of a network, the layer's sparse structures under a pruning mask, or null where the layer runs dense.
// Built and owned by a SparsePlan (training/nn/sparse_plan.h).
using LayerSparsities = std::vector<const LayerSparsity*>;
  Workspace() = default;

  const Network* network_ = nullptr;
  int64_t max_batch_ = 0;
  int64_t capacity_ = 0;
  AlignedFloatVector storage_;
  // Per tensor (index 0, the input, has none): capacity * shape.size() floats of values and of gradients, one buffer
  // for both where Network::GradientSharesValues.
  std::vector<float*> values_;
  std::vector<float*> gradients_;
  float* scratch_ = nullptr;
  int64_t scratch_floats_ = 0;
  // Per node; empty when the network runs dense.
  LayerSparsities sparsities_;
};

class Network {
 public:
  // One layer of the graph. Tensor 0 is the network input; tensor t >= 1 is the output of node t - 1.
  struct Node {
    std::unique_ptr<Layer> layer;
    std::vector<int> inputs;      // Tensor ids, each < this node's output id.
    int64_t weights_offset = -1;  // Into the parameter buffer; -1 when the layer has no such tensor.
    int64_t biases_offset = -1;
    // Whether the node reads the network input and nothing else: no input gradient is then computed for it.
    bool reads_only_network_input() const;
  };

  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const std::string& name() const { return name_; }
  int64_t parameter_count() const { return layout_.size(); }
  const ParameterLayout& layout() const { return layout_; }
  // Named views "<layer>/weights", "<layer>/biases" in buffer order.
  const std::vector<ParameterView>& views() const { return layout_.views(); }
  // Shape of one input example (NHWC: height x width x channels floats, HWC order).
  const ImageShape& input_shape() const { return input_shape_; }
  int num_classes() const { return num_classes_; }
  // Examples per forward/backward pass.
  int64_t chunk_examples() const { return chunk_examples_; }

  // The graph, in execution order; the last node's output is the logits (1 x 1 x num_classes).
  const std::vector<Node>& nodes() const { return nodes_; }
  // Shape of tensor `tensor` (0: the input).
  const ImageShape& tensor_shape(int tensor) const { return tensor_shapes_[tensor]; }

  // Whether a workspace keeps tensor `tensor`'s gradient in the memory of its values (one buffer instead of two, which
  // keeps a chunk's tensors in cache: Simple-CNN's first convolution's output is 1.2 MB at 16 examples). It does when
  // the tensor feeds exactly one layer, once, and that layer overwrites it with its gradient in place
  // (Layer::OverwritesInputWithGradient: max-pool with tiling windows, ReLU) while the layer that produced it does not
  // read it in Backward (Layer::BackwardReadsOutput false: convolutions, fully connected layers). Then nothing reads
  // the values after the gradient is written, so results are the same bits as with separate buffers.
  bool GradientSharesValues(int tensor) const { return gradient_shares_values_[tensor]; }

  // The node of the 2 x 2, stride-2 max-pool that node `node` may take its gradient through in pooled form (see
  // Layer::TakesPooledGradient), or -1. A node qualifies when its layer reads only the network input (no input
  // gradient) and its output feeds nothing but that pool, once: Simple-CNN's conv1 and pool1. Whether a pass fuses
  // them is the layer's call per batch size and sparse kernel; when it does, the pool's backward pass is skipped.
  int FusedPool(int node) const { return fused_pool_[node]; }

  // Floating-point operations of matrix products (2 per multiply-add) per example: forward only, and a full
  // training step (forward, weight gradients, input gradients except for the input image).
  int64_t ForwardFlopsPerExample() const;
  int64_t TrainingFlopsPerExample() const;

  // Fills `parameters` with a fresh initialization drawn from `engine` (training/nn/initialization.h).
  // REQUIRES: parameters.size() == parameter_count().
  void Initialize(std::mt19937_64& engine, absl::Span<float> parameters) const;

  // A workspace for batches of up to `max_batch` examples. Batches larger than max_batch are also accepted when
  // max_batch >= chunk_examples(). With `sparsities` (one entry per node, from a SparsePlan of this network that
  // outlives the workspace) every pass through this workspace runs the masked network: each weighted layer with
  // structures computes only over its kept weights, where its kernel choice says so, and reads pruned weights as 0
  // everywhere. Results equal those of the dense kernels when the parameters' pruned entries are 0.
  // REQUIRES: max_batch >= 1; sparsities, if given, has one entry per node, each serving chunk_examples().
  std::unique_ptr<Workspace> CreateWorkspace(int64_t max_batch, const LayerSparsities* sparsities = nullptr) const;
  // Makes the later passes through `workspace` (from this network's CreateWorkspace) run with `sparsities` instead
  // (null: dense), as a workspace created with them would, on the same memory: where memory lands moves a step's time
  // by up to 10% (training/README.md, "How far to trust a cell"), so comparisons of plans share it. Errors:
  // InvalidArgument when `sparsities` does not have one entry per node, an entry does not serve the workspace's
  // capacity, or an entry needs more scratch than the workspace holds (create it with the structures that need most).
  absl::Status UseSparsities(const LayerSparsities* sparsities, Workspace* workspace) const;

  // Adds sum_i d loss_i / d parameters over the `batch` examples into `gradient` (neither zeroed first nor divided
  // by batch) and returns sum_i loss_i, the softmax cross-entropy of example i. `inputs` holds batch *
  // input_shape().size() floats (NHWC), `labels` batch ints in [0, num_classes()). Parameters are not changed.
  // REQUIRES: parameters.size() == gradient.size() == parameter_count(); `workspace` from this network's
  // CreateWorkspace with max_batch >= batch or >= chunk_examples(); labels in range (violations abort).
  double AccumulateGradient(absl::Span<const float> parameters, const float* inputs, const int32_t* labels,
                            int64_t batch, Workspace* workspace, absl::Span<float> gradient) const;
  // The same sum written into `gradient` rather than added to it, bit for bit what AccumulateGradient adds to a zeroed
  // buffer, without zeroing it first. With a workspace made for sparse structures, the entries that a sparse
  // weight-gradient kernel leaves out (pruned weights), and the biases of a layer whose biases are all pruned
  // (LayerSparsity::biases_pruned), keep whatever they held. Same requirements.
  double WriteGradient(absl::Span<const float> parameters, const float* inputs, const int32_t* labels, int64_t batch,
                       Workspace* workspace, absl::Span<float> gradient) const;

  // Forward only: returns sum_i loss_i and writes the number of examples whose arg-max logit equals the label to
  // `*correct`; with `correct_flags` (batch bytes), also 1 there for each such example and 0 for the others. An
  // example's logits do not depend on the other examples of the call (bit for bit), so neither do its loss and flag.
  // Same requirements as AccumulateGradient.
  double Evaluate(absl::Span<const float> parameters, const float* inputs, const int32_t* labels, int64_t batch,
                  Workspace* workspace, int64_t* correct, uint8_t* correct_flags = nullptr) const;

 private:
  friend class NetworkBuilder;
  Network() = default;

  // One chunk of `count` examples forward; returns the loss sum. Fills the logits gradient when `backward` is set,
  // adds the number of correct predictions to `*correct` when it is not null (and flags them in `correct_flags`
  // when that is not null).
  double ForwardChunk(const float* parameters, const float* inputs, const int32_t* labels, int64_t count, bool backward,
                      Workspace* workspace, int64_t* correct, uint8_t* correct_flags = nullptr) const;
  // The same chunk backward, after ForwardChunk(..., backward = true); adds into `gradient`, or writes it (`mode`).
  void BackwardChunk(const float* parameters, const float* inputs, int64_t count, Workspace* workspace,
                     GradientMode mode, float* gradient) const;
  // Whether a backward pass of `count` examples through `workspace` fuses node `node` with FusedPool(node).
  bool PoolFusedInPass(int node, const Workspace& workspace, int64_t count) const;
  // AccumulateGradient (kAccumulate) or WriteGradient (kOverwrite): `mode` applies to the first chunk.
  double GradientSum(absl::Span<const float> parameters, const float* inputs, const int32_t* labels, int64_t batch,
                     Workspace* workspace, GradientMode mode, absl::Span<float> gradient) const;
  void CheckArguments(absl::Span<const float> parameters, int64_t batch, const Workspace* workspace) const;
  // OK when `sparsities` has one entry per node, each null or serving `capacity` examples; else InvalidArgument.
  absl::Status CheckSparsities(const LayerSparsities& sparsities, int64_t capacity) const;

  std::string name_;
  ImageShape input_shape_;
  int num_classes_ = 0;
  int64_t chunk_examples_ = 0;
  ParameterLayout layout_;
  std::vector<Node> nodes_;
  std::vector<ImageShape> tensor_shapes_;
  // For node n and input slot j: overwrite or accumulate into that input's gradient during backward.
  std::vector<std::vector<GradientMode>> input_gradient_modes_;
  // Per tensor (see GradientSharesValues); false for the input and the logits.
  std::vector<bool> gradient_shares_values_;
  // Per node: FusedPool, and for such a pool the node whose output it reads (else -1).
  std::vector<int> fused_pool_;
  std::vector<int> fused_producer_;
};

// Assembles a Network layer by layer. Shape mismatches and dangling tensors are programmer errors and abort.
//
//   NetworkBuilder builder("tiny", ImageShape{28, 28, 1}, 10);
//   int x = builder.Add(std::make_unique<FullyConnectedLayer>("fc", builder.shape(NetworkBuilder::kInput), 10),
//                       {NetworkBuilder::kInput});
//   std::unique_ptr<Network> network = std::move(builder).Build(/*chunk_examples=*/64);   // logits: tensor x
class NetworkBuilder {
 public:
  static constexpr int kInput = 0;

  NetworkBuilder(std::string name, ImageShape input_shape, int num_classes);

  // Shape of an existing tensor.
  const ImageShape& shape(int tensor) const;

  // Appends `layer` reading `inputs` (existing tensor ids whose shapes equal layer->input_shapes()) and returns the
  // id of its output tensor. Its parameters get views "<layer name>/weights" and "<layer name>/biases".
  int Add(std::unique_ptr<Layer> layer, std::vector<int> inputs);

  // Finishes the network: the last added tensor is the logits and must have shape (1, 1, num_classes); every other
  // tensor must be read by some layer. REQUIRES: chunk_examples >= 1.
  std::unique_ptr<Network> Build(int64_t chunk_examples) &&;

 private:
  std::unique_ptr<Network> network_;
};

}  // namespace parsity::nn

#endif  // PARSITY_TRAINING_NN_NETWORK_H_
