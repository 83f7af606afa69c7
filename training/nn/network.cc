#include "training/nn/network.h"

#include <algorithm>
#include <utility>

#include "Eigen/Core"
#include "absl/strings/str_cat.h"
#include "tools/base/check.h"
#include "tools/base/status_macros.h"
#include "training/nn/initialization.h"
#include "training/nn/loss.h"

namespace parsity::nn {
namespace {

// Workspace regions start on 64-byte boundaries (16 floats) for aligned vector loads.
int64_t RoundUpToCacheLine(int64_t floats) { return (floats + 15) / 16 * 16; }

// Most inputs any layer has (the residual add has two).
constexpr int kMaxLayerInputs = 4;

}  // namespace

int64_t Network::ForwardFlopsPerExample() const {
  int64_t multiply_adds = 0;
  for (const Node& node : nodes_) multiply_adds += node.layer->MultiplyAddsPerExample();
  return 2 * multiply_adds;
}

bool Network::Node::reads_only_network_input() const { return inputs == std::vector<int>{NetworkBuilder::kInput}; }

int64_t Network::TrainingFlopsPerExample() const {
  int64_t multiply_adds = 0;
  for (const Node& node : nodes_) {
    const bool needs_input_gradient = !node.reads_only_network_input();
    multiply_adds += (needs_input_gradient ? 3 : 2) * node.layer->MultiplyAddsPerExample();
  }
  return 2 * multiply_adds;
}

void Network::Initialize(std::mt19937_64& engine, absl::Span<float> parameters) const {
  InitializeParameters(layout_, engine, parameters);
}

std::unique_ptr<Workspace> Network::CreateWorkspace(int64_t max_batch, const LayerSparsities* sparsities) const {
  PARSITY_CHECK(max_batch >= 1);
  std::unique_ptr<Workspace> workspace(new Workspace());
  workspace->network_ = this;
  workspace->max_batch_ = max_batch;
  workspace->capacity_ = std::min(max_batch, chunk_examples_);
  const int64_t capacity = workspace->capacity_;
  if (sparsities != nullptr) {
    PARSITY_CHECK_OK(CheckSparsities(*sparsities, capacity));
    workspace->sparsities_ = *sparsities;
  }
  // Offsets first (the storage does not exist yet), pointers after allocating it.
  const int tensors = static_cast<int>(tensor_shapes_.size());
  std::vector<int64_t> value_offsets(tensors, -1), gradient_offsets(tensors, -1);
  int64_t total = 0;
  for (int tensor = 1; tensor < tensors; ++tensor) {
    const int64_t floats = RoundUpToCacheLine(capacity * tensor_shapes_[tensor].size());
    value_offsets[tensor] = total;
    total += floats;
    gradient_offsets[tensor] = gradient_shares_values_[tensor] ? value_offsets[tensor] : total;
    if (!gradient_shares_values_[tensor]) total += floats;
  }
  int64_t scratch_floats = 0;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    scratch_floats = std::max(scratch_floats, nodes_[n].layer->ScratchFloats(capacity));
    if (!workspace->sparsities_.empty() && workspace->sparsities_[n] != nullptr) {
      scratch_floats = std::max(scratch_floats, workspace->sparsities_[n]->ScratchFloats(capacity));
    }
  }
  const int64_t scratch_offset = total;
  total += RoundUpToCacheLine(scratch_floats);
  // Zero-filled, so that no pass can ever read uninitialized memory (bit-identical reruns).
  workspace->storage_.assign(static_cast<size_t>(total), 0.0f);
  float* base = workspace->storage_.data();
  workspace->values_.assign(tensors, nullptr);
  workspace->gradients_.assign(tensors, nullptr);
  for (int tensor = 1; tensor < tensors; ++tensor) {
    workspace->values_[tensor] = base + value_offsets[tensor];
    workspace->gradients_[tensor] = base + gradient_offsets[tensor];
  }
  workspace->scratch_ = base + scratch_offset;
  workspace->scratch_floats_ = scratch_floats;
  return workspace;
}

absl::Status Network::CheckSparsities(const LayerSparsities& sparsities, int64_t capacity) const {
  if (sparsities.size() != nodes_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(sparsities.size(), " sparse structures for a network of ", nodes_.size(), " nodes"));
  }
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (sparsities[n] != nullptr && sparsities[n]->max_batch() < capacity) {
      return absl::InvalidArgumentError(absl::StrCat("node ", n, "'s sparse structures serve ",
                                                     sparsities[n]->max_batch(), " examples, the workspace ", capacity));
    }
  }
  return absl::OkStatus();
}

absl::Status Network::UseSparsities(const LayerSparsities* sparsities, Workspace* workspace) const {
  PARSITY_CHECK(workspace != nullptr && workspace->network_ == this);
  if (sparsities == nullptr) {
    workspace->sparsities_.clear();
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(CheckSparsities(*sparsities, workspace->capacity_));
  for (size_t n = 0; n < nodes_.size(); ++n) {
    const LayerSparsity* sparsity = (*sparsities)[n];
    if (sparsity != nullptr && sparsity->ScratchFloats(workspace->capacity_) > workspace->scratch_floats_) {
      return absl::InvalidArgumentError(absl::StrCat("node ", n, "'s sparse structures need ",
                                                     sparsity->ScratchFloats(workspace->capacity_),
                                                     " floats of scratch, the workspace holds ",
                                                     workspace->scratch_floats_));
    }
  }
  workspace->sparsities_ = *sparsities;
  return absl::OkStatus();
}

void Network::CheckArguments(absl::Span<const float> parameters, int64_t batch, const Workspace* workspace) const {
  PARSITY_CHECK(static_cast<int64_t>(parameters.size()) == parameter_count());
  PARSITY_CHECK(batch >= 0);
  PARSITY_CHECK(workspace != nullptr && workspace->network_ == this);
  PARSITY_CHECK(std::min(batch, chunk_examples_) <= workspace->capacity_);
}

double Network::ForwardChunk(const float* parameters, const float* inputs, const int32_t* labels, int64_t count,
                             bool backward, Workspace* workspace, int64_t* correct, uint8_t* correct_flags) const {
  const float* input_pointers[kMaxLayerInputs];
  for (size_t n = 0; n < nodes_.size(); ++n) {
    const Node& node = nodes_[n];
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      const int tensor = node.inputs[j];
      input_pointers[j] = tensor == NetworkBuilder::kInput ? inputs : workspace->values_[tensor];
    }
    ForwardArguments arguments;
    arguments.batch = count;
    arguments.inputs = absl::MakeConstSpan(input_pointers, node.inputs.size());
    arguments.parameters.weights = node.weights_offset >= 0 ? parameters + node.weights_offset : nullptr;
    arguments.parameters.biases = node.biases_offset >= 0 ? parameters + node.biases_offset : nullptr;
    arguments.parameters.sparsity = workspace->sparsities_.empty() ? nullptr : workspace->sparsities_[n];
    arguments.output = workspace->values_[n + 1];
    arguments.scratch = workspace->scratch_;
    node.layer->Forward(arguments);
  }
  const int logits = static_cast<int>(nodes_.size());
  const float* logit_values = workspace->values_[logits];
  if (correct != nullptr) *correct += CountCorrect(logit_values, labels, count, num_classes_, correct_flags);
  return SoftmaxCrossEntropy(logit_values, labels, count, num_classes_,
                             backward ? workspace->gradients_[logits] : nullptr);
}

bool Network::PoolFusedInPass(int node, const Workspace& workspace, int64_t count) const {
  const LayerSparsity* sparsity = workspace.sparsities_.empty() ? nullptr : workspace.sparsities_[node];
  return fused_pool_[node] >= 0 && nodes_[node].layer->TakesPooledGradient(sparsity, count);
}

void Network::BackwardChunk(const float* parameters, const float* inputs, int64_t count, Workspace* workspace,
                            GradientMode mode, float* gradient) const {
  const float* input_pointers[kMaxLayerInputs];
  float* input_gradient_pointers[kMaxLayerInputs];
  for (size_t n = nodes_.size(); n-- > 0;) {
    const Node& node = nodes_[n];
    // A fused pool's producer takes the pool's gradient in pooled form (below).
    const int producer = fused_producer_[n];
    if (producer >= 0 && PoolFusedInPass(producer, *workspace, count)) continue;
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      const int tensor = node.inputs[j];
      input_pointers[j] = tensor == NetworkBuilder::kInput ? inputs : workspace->values_[tensor];
      input_gradient_pointers[j] = tensor == NetworkBuilder::kInput ? nullptr : workspace->gradients_[tensor];
    }
    BackwardArguments arguments;
    arguments.batch = count;
    arguments.inputs = absl::MakeConstSpan(input_pointers, node.inputs.size());
    // A shared buffer holds the output's gradient by now, no longer its values.
    arguments.output = gradient_shares_values_[n + 1] ? nullptr : workspace->values_[n + 1];
    arguments.output_gradient = workspace->gradients_[n + 1];
    arguments.parameters.weights = node.weights_offset >= 0 ? parameters + node.weights_offset : nullptr;
    arguments.parameters.biases = node.biases_offset >= 0 ? parameters + node.biases_offset : nullptr;
    arguments.parameters.sparsity = workspace->sparsities_.empty() ? nullptr : workspace->sparsities_[n];
    arguments.input_gradients = absl::MakeConstSpan(input_gradient_pointers, node.inputs.size());
    arguments.input_gradient_modes = absl::MakeConstSpan(input_gradient_modes_[n]);
    arguments.parameter_gradients.weights = node.weights_offset >= 0 ? gradient + node.weights_offset : nullptr;
    // A plan whose mask prunes all of the layer's biases needs no bias gradient (LayerSparsity::biases_pruned).
    const LayerSparsity* sparsity = arguments.parameters.sparsity;
    const bool biases_pruned = sparsity != nullptr && sparsity->biases_pruned();
    arguments.parameter_gradients.biases =
        node.biases_offset >= 0 && !biases_pruned ? gradient + node.biases_offset : nullptr;
    arguments.parameter_gradient_mode = mode;
    arguments.scratch = workspace->scratch_;
    PooledGradient pooled;
    if (const int pool = fused_pool_[n]; PoolFusedInPass(static_cast<int>(n), *workspace, count)) {
      // The pool's backward was skipped, so the shared buffer still holds this node's output values.
      pooled.output = workspace->values_[n + 1];
      pooled.pooled_output = workspace->values_[pool + 1];
      pooled.pooled_gradient = workspace->gradients_[pool + 1];
      arguments.output_gradient = nullptr;
      arguments.pooled = &pooled;
    }
    node.layer->Backward(arguments);
  }
}

double Network::AccumulateGradient(absl::Span<const float> parameters, const float* inputs, const int32_t* labels,
                                   int64_t batch, Workspace* workspace, absl::Span<float> gradient) const {
  return GradientSum(parameters, inputs, labels, batch, workspace, GradientMode::kAccumulate, gradient);
}

double Network::WriteGradient(absl::Span<const float> parameters, const float* inputs, const int32_t* labels,
                              int64_t batch, Workspace* workspace, absl::Span<float> gradient) const {
  return GradientSum(parameters, inputs, labels, batch, workspace, GradientMode::kOverwrite, gradient);
}

double Network::GradientSum(absl::Span<const float> parameters, const float* inputs, const int32_t* labels,
                            int64_t batch, Workspace* workspace, GradientMode mode, absl::Span<float> gradient) const {
  CheckArguments(parameters, batch, workspace);
  PARSITY_CHECK(static_cast<int64_t>(gradient.size()) == parameter_count());
  const int64_t input_size = input_shape_.size();
  double loss_sum = 0.0;
  for (int64_t first = 0; first < batch; first += chunk_examples_) {
    const int64_t count = std::min(chunk_examples_, batch - first);
    const float* chunk_inputs = inputs + first * input_size;
    loss_sum += ForwardChunk(parameters.data(), chunk_inputs, labels + first, count, /*backward=*/true, workspace,
                             /*correct=*/nullptr);
    // Every parameter belongs to a layer, so the first chunk's layers write all of the gradient (or its kept entries).
    BackwardChunk(parameters.data(), chunk_inputs, count, workspace,
                  first == 0 ? mode : GradientMode::kAccumulate, gradient.data());
  }
  return loss_sum;
}

double Network::Evaluate(absl::Span<const float> parameters, const float* inputs, const int32_t* labels, int64_t batch,
                         Workspace* workspace, int64_t* correct, uint8_t* correct_flags) const {
  CheckArguments(parameters, batch, workspace);
  PARSITY_CHECK(correct != nullptr);
  *correct = 0;
  const int64_t input_size = input_shape_.size();
  double loss_sum = 0.0;
  for (int64_t first = 0; first < batch; first += chunk_examples_) {
    const int64_t count = std::min(chunk_examples_, batch - first);
    loss_sum += ForwardChunk(parameters.data(), inputs + first * input_size, labels + first, count,
                             /*backward=*/false, workspace, correct,
                             correct_flags != nullptr ? correct_flags + first : nullptr);
  }
  return loss_sum;
}

NetworkBuilder::NetworkBuilder(std::string name, ImageShape input_shape, int num_classes) : network_(new Network()) {
  PARSITY_CHECK(input_shape.height >= 1 && input_shape.width >= 1 && input_shape.channels >= 1);
  PARSITY_CHECK(num_classes >= 1);
  network_->name_ = std::move(name);
  network_->input_shape_ = input_shape;
  network_->num_classes_ = num_classes;
  network_->tensor_shapes_.push_back(input_shape);
}

const ImageShape& NetworkBuilder::shape(int tensor) const {
  PARSITY_CHECK(tensor >= 0 && tensor < static_cast<int>(network_->tensor_shapes_.size()));
  return network_->tensor_shapes_[tensor];
}

int NetworkBuilder::Add(std::unique_ptr<Layer> layer, std::vector<int> inputs) {
  PARSITY_CHECK(network_ != nullptr && layer != nullptr);
  PARSITY_CHECK(inputs.size() == layer->input_shapes().size());
  PARSITY_CHECK(inputs.size() >= 1 && static_cast<int>(inputs.size()) <= kMaxLayerInputs);
  for (size_t j = 0; j < inputs.size(); ++j) {
    PARSITY_CHECK(shape(inputs[j]) == layer->input_shapes()[j]);
  }
  Network::Node node;
  for (const ParameterSpec& spec : layer->parameter_specs()) {
    const ParameterView& view = network_->layout_.Append(absl::StrCat(layer->name(), "/", ParameterKindName(spec.kind)),
                                                         spec.shape, spec.fan_in, spec.kind);
    int64_t& offset = spec.kind == ParameterKind::kWeights ? node.weights_offset : node.biases_offset;
    PARSITY_CHECK(offset == -1);
    offset = view.offset;
  }
  network_->tensor_shapes_.push_back(layer->output_shape());
  node.layer = std::move(layer);
  node.inputs = std::move(inputs);
  network_->nodes_.push_back(std::move(node));
  return static_cast<int>(network_->nodes_.size());
}

std::unique_ptr<Network> NetworkBuilder::Build(int64_t chunk_examples) && {
  PARSITY_CHECK(network_ != nullptr && !network_->nodes_.empty());
  PARSITY_CHECK(chunk_examples >= 1);
  Network& network = *network_;
  network.chunk_examples_ = chunk_examples;
  PARSITY_CHECK(network.tensor_shapes_.back() == (ImageShape{1, 1, network.num_classes_}));
  // Backward visits nodes in reverse: the first visit to a tensor's gradient overwrites it, later ones add to it.
  const int tensors = static_cast<int>(network.tensor_shapes_.size());
  // Per tensor: how many layer inputs read it, and the node of one of them (the only one when it is read once).
  std::vector<int> uses(tensors, 0), consumer(tensors, -1);
  network.input_gradient_modes_.assign(network.nodes_.size(), {});
  for (size_t n = network.nodes_.size(); n-- > 0;) {
    for (int tensor : network.nodes_[n].inputs) {
      network.input_gradient_modes_[n].push_back(uses[tensor] > 0 ? GradientMode::kAccumulate
                                                                  : GradientMode::kOverwrite);
      ++uses[tensor];
      consumer[tensor] = static_cast<int>(n);
    }
  }
  // Every tensor but the logits feeds some layer, so every gradient read in backward has been written.
  for (int tensor = 0; tensor + 1 < tensors; ++tensor) PARSITY_CHECK(uses[tensor] > 0);
  network.gradient_shares_values_.assign(tensors, false);
  for (int tensor = 1; tensor + 1 < tensors; ++tensor) {
    if (uses[tensor] != 1) continue;
    const Layer& producer = *network.nodes_[tensor - 1].layer;
    const Layer& user = *network.nodes_[consumer[tensor]].layer;
    // A single use is the first visit in backward, so the user overwrites the gradient.
    network.gradient_shares_values_[tensor] = !producer.BackwardReadsOutput() &&
                                              network.nodes_[consumer[tensor]].inputs.size() == 1 &&
                                              user.OverwritesInputWithGradient();
  }
  network.fused_pool_.assign(network.nodes_.size(), -1);
  network.fused_producer_.assign(network.nodes_.size(), -1);
  for (int tensor = 1; tensor + 1 < tensors; ++tensor) {
    const int producer = tensor - 1, pool = consumer[tensor];
    const std::vector<int>& producer_inputs = network.nodes_[producer].inputs;
    const bool reads_only_input = std::all_of(producer_inputs.begin(), producer_inputs.end(),
                                              [](int input) { return input == NetworkBuilder::kInput; });
    // The pool's output values must outlive its gradient (a max-pool reads its output in Backward, so never shared).
    if (uses[tensor] == 1 && reads_only_input && network.nodes_[pool].layer->IsMaxPool2x2() &&
        !network.gradient_shares_values_[pool + 1]) {
      network.fused_pool_[producer] = pool;
      network.fused_producer_[pool] = producer;
    }
  }
  // Eigen's cache-size statics are then initialized before any concurrent use.
  Eigen::initParallel();
  return std::move(network_);
}

}  // namespace parsity::nn
