#include "training/nn/sparse_plan.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <random>
#include <utility>

#include "Eigen/Core"
#include "absl/strings/str_cat.h"
#include "tools/base/aligned_vector.h"
#include "tools/base/check.h"
#include "tools/base/json.h"
#include "training/nn/parameter_buffer.h"

namespace parsity::nn {
namespace {

// A sparse kernel is chosen only when measured at least 10% faster than the dense one.
constexpr double kSparseMargin = 0.9;
// The first layer packs for its dense_packed kernels when a step's work on its weights measured at least 5% faster
// so. A smaller margin than kernels get: alone the gain reads smaller than in a step (LeNet-300-100's first layer at
// 50% sparsity, batch 2: 1.12-1.16x alone, the whole step 1.19-1.20x faster), and a wrong pick costs little (the step
// with that layer packed anyway at batches 8-128: 0.98-1.00x of the unpacked step).
constexpr double kDensePackingMargin = 0.95;

// Buffers for timing one layer's products on random data (the values do not change the time; the mask does).
struct Bench {
  explicit Bench(const Layer& layer, int64_t max_batch, const LayerSparsity& sparsity, absl::Span<const float> mask,
                 int64_t weights_size, int64_t biases_size) {
    std::mt19937_64 engine(0);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    auto fill = [&](AlignedFloatVector& values, int64_t size) {
      values.resize(static_cast<size_t>(size));
      for (float& value : values) value = uniform(engine);
    };
    const int64_t in = layer.input_shapes()[0].size();
    const int64_t out = layer.output_shape().size();
    fill(input, max_batch * in);
    fill(output_gradient, max_batch * out);
    fill(weights, weights_size);
    for (int64_t i = 0; i < weights_size; ++i) {
      if (mask[i] == 0.0f) weights[i] = 0.0f;
    }
    fill(biases, biases_size);
    output.assign(static_cast<size_t>(max_batch * out), 0.0f);
    input_gradient.assign(static_cast<size_t>(max_batch * in), 0.0f);
    weight_gradient.assign(static_cast<size_t>(weights_size), 0.0f);
    scratch.assign(static_cast<size_t>(std::max(layer.ScratchFloats(max_batch), sparsity.ScratchFloats(max_batch))),
                   0.0f);
  }
  AlignedFloatVector input, output, output_gradient, input_gradient, weights, biases, weight_gradient, scratch;
};

// Runs `product` of `layer` on `batch` examples of `bench` with the kernels `sparsity` sets.
void RunProduct(const Layer& layer, const LayerSparsity& sparsity, Bench& bench, Product product, int64_t batch) {
  const float* inputs[1] = {bench.input.data()};
  float* input_gradients[1] = {bench.input_gradient.data()};
  const GradientMode modes[1] = {GradientMode::kOverwrite};
  LayerParameters parameters;
  parameters.weights = bench.weights.data();
  parameters.biases = bench.biases.empty() ? nullptr : bench.biases.data();
  parameters.sparsity = &sparsity;
  if (product == Product::kForward) {
    ForwardArguments arguments;
    arguments.batch = batch;
    arguments.inputs = absl::MakeConstSpan(inputs, 1);
    arguments.parameters = parameters;
    arguments.output = bench.output.data();
    arguments.scratch = bench.scratch.data();
    layer.Forward(arguments);
    return;
  }
  float* no_gradient[1] = {nullptr};
  BackwardArguments arguments;
  arguments.batch = batch;
  arguments.inputs = absl::MakeConstSpan(inputs, 1);
  arguments.output = bench.output.data();
  arguments.output_gradient = bench.output_gradient.data();
  arguments.parameters = parameters;
  arguments.input_gradients = product == Product::kInputGradient ? absl::MakeConstSpan(input_gradients, 1)
                                                                  : absl::MakeConstSpan(no_gradient, 1);
  arguments.input_gradient_modes = absl::MakeConstSpan(modes, 1);
  if (product == Product::kWeightGradient) arguments.parameter_gradients.weights = bench.weight_gradient.data();
  arguments.scratch = bench.scratch.data();
  layer.Backward(arguments);
}

// Seconds of one run of `product` of `layer` on `batch` examples with each of `kinds`, the fastest of `rounds` runs
// per kind (after one warm-up run each). The kinds take turns within every round, so that a stretch of time in which
// the machine runs slowly (another process, an interrupt) slows runs of every kind rather than all runs of one: timed
// one kind after another, a dense kernel about 3x faster than its sparse twin once measured slower than it.
std::vector<double> TimeProduct(const Layer& layer, LayerSparsity& sparsity, Bench& bench, Product product,
                                int64_t batch, absl::Span<const KernelKind> kinds, int rounds) {
  auto run = [&](KernelKind kind) {
    sparsity.set_kernel(product, batch, kind);
    RunProduct(layer, sparsity, bench, product, batch);
  };
  for (const KernelKind kind : kinds) run(kind);
  std::vector<double> best(kinds.size(), std::numeric_limits<double>::infinity());
  for (int round = 0; round < rounds; ++round) {
    for (size_t k = 0; k < kinds.size(); ++k) {
      const auto start = std::chrono::steady_clock::now();
      run(kinds[k]);
      best[k] = std::min(best[k], std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
  }
  return best;
}

// One layout of a layer's weights as a training step meets it: the structures and kernels, buffers with the weights
// in that layout, and the ranges of the weights a masked optimizer update visits.
struct StepSetup {
  const LayerSparsity* sparsity;
  Bench* bench;
  std::vector<std::pair<int64_t, int64_t>> update_ranges;
};

// Seconds of what one training step does with a layer's weights at `batch`, for each set-up: the forward product,
// the weight gradient and one SGD-like pass over the update ranges. The set-ups take turns within every round (as in
// TimeProduct), each running once untimed and then kBurst times timed, since what a layout gains in a step is partly
// that its weights are still in cache from the step before; the fastest of `rounds` bursts counts.
std::vector<double> TimeLayerSteps(const Layer& layer, absl::Span<StepSetup> setups, int64_t batch, int rounds) {
  constexpr int kBurst = 4;
  auto run = [&](StepSetup& setup) {
    RunProduct(layer, *setup.sparsity, *setup.bench, Product::kForward, batch);
    RunProduct(layer, *setup.sparsity, *setup.bench, Product::kWeightGradient, batch);
    float* weights = setup.bench->weights.data();
    const float* gradient = setup.bench->weight_gradient.data();
    for (const auto& [begin, end] : setup.update_ranges) {
      Eigen::Map<Eigen::ArrayXf>(weights + begin, end - begin) -=
          1e-4f * Eigen::Map<const Eigen::ArrayXf>(gradient + begin, end - begin);
    }
  };
  std::vector<double> best(setups.size(), std::numeric_limits<double>::infinity());
  for (int round = 0; round < rounds; ++round) {
    for (size_t k = 0; k < setups.size(); ++k) {
      run(setups[k]);
      const auto start = std::chrono::steady_clock::now();
      for (int repeat = 0; repeat < kBurst; ++repeat) run(setups[k]);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      best[k] = std::min(best[k], seconds / kBurst);
    }
  }
  return best;
}

// The runs of 16-entry lines of a buffer that hold a kept entry (`kept_bits`: Mask::KeptBits) and overlap [begin, end),
// as entry ranges clipped to it (a line may straddle two tensors): what a masked optimizer update visits of a tensor.
std::vector<std::pair<int64_t, int64_t>> KeptRunsWithin(absl::Span<const uint16_t> kept_bits, int64_t begin,
                                                        int64_t end) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (const LineRun& run : KeptLineRuns(kept_bits, begin / 16, (end + 15) / 16)) {
    ranges.emplace_back(std::max(run.first_line * 16, begin), std::min(run.end_line * 16, end));
  }
  return ranges;
}

// Floats of the layer's tensor of `kind` (0 when it has none).
int64_t TensorSize(const Layer& layer, ParameterKind kind) {
  for (const ParameterSpec& spec : layer.parameter_specs()) {
    if (spec.kind != kind) continue;
    int64_t size = 1;
    for (int64_t dimension : spec.shape) size *= dimension;
    return size;
  }
  return 0;
}

// Per weighted layer of `network`: what it runs at `batch_size` under `plan`, or dense (all weights kept) without one.
std::vector<LayerKernels> DescribeLayers(const Network& network, const SparsePlan* plan, int64_t batch_size,
                                         const std::vector<int64_t>* kept_weights) {
  PARSITY_CHECK(batch_size >= 1);
  const int64_t batch = std::min(batch_size, network.chunk_examples());
  std::vector<LayerKernels> result;
  for (size_t n = 0; n < network.nodes().size(); ++n) {
    const Network::Node& node = network.nodes()[n];
    if (node.weights_offset < 0) continue;
    LayerKernels kernels;
    kernels.name = node.layer->name();
    kernels.batch = batch;
    kernels.has_input_gradient = !node.reads_only_network_input();
    const int64_t weights = TensorSize(*node.layer, ParameterKind::kWeights);
    kernels.kept_weights = kept_weights != nullptr ? (*kept_weights)[n] : weights;
    kernels.density = weights > 0 ? static_cast<double>(kernels.kept_weights) / static_cast<double>(weights) : 1.0;
    const LayerSparsity* sparsity = plan != nullptr ? plan->layers()[n] : nullptr;
    if (sparsity != nullptr) {
      kernels.forward = sparsity->kernel(Product::kForward, batch);
      kernels.input_gradient = sparsity->kernel(Product::kInputGradient, batch);
      kernels.weight_gradient = sparsity->kernel(Product::kWeightGradient, batch);
      kernels.weights_packed = !sparsity->weight_order().empty();
    }
    result.push_back(kernels);
  }
  return result;
}

// Whether every product `node`'s layer computes runs a sparse kernel at every batch (the first layer computes no input
// gradient).
bool RunsSparseOnly(const LayerSparsity& sparsity, const Network::Node& node) {
  const bool first_layer = node.reads_only_network_input();
  for (int64_t batch : sparsity.RepresentativeBatches()) {
    for (Product product : {Product::kForward, Product::kInputGradient, Product::kWeightGradient}) {
      if (first_layer && product == Product::kInputGradient) continue;
      if (sparsity.kernel(product, batch) == KernelKind::kDense) return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<KernelSelection> ParseKernelSelection(absl::string_view text) {
  if (text == "auto") return KernelSelection::kMeasured;
  if (text == "dense") return KernelSelection::kDense;
  if (text == "sparse") return KernelSelection::kSparse;
  return absl::InvalidArgumentError(
      absl::StrCat("sparse kernel selection must be auto, dense or sparse, got \"", text, "\""));
}

const char* KernelSelectionName(KernelSelection selection) {
  switch (selection) {
    case KernelSelection::kMeasured:
      return "auto";
    case KernelSelection::kDense:
      return "dense";
    case KernelSelection::kSparse:
      return "sparse";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<SparsePlan>> SparsePlan::Create(const Network& network, const Mask& mask,
                                                               const SparsePlanOptions& options) {
  if (mask.size() != network.parameter_count()) {
    return absl::InvalidArgumentError(absl::StrCat("sparse plan: the mask has ", mask.size(), " entries but ",
                                                   network.name(), " has ", network.parameter_count(),
                                                   " parameters"));
  }
  PARSITY_CHECK(options.repetitions >= 1);
  std::unique_ptr<SparsePlan> plan(new SparsePlan());
  plan->network_ = &network;
  const absl::Span<const float> mask_values = mask.values();
  const int64_t max_batch = network.chunk_examples();
  for (size_t n = 0; n < network.nodes().size(); ++n) {
    const Network::Node& node = network.nodes()[n];
    std::unique_ptr<LayerSparsity> sparsity;
    if (node.weights_offset >= 0) {
      const int64_t weights_size = TensorSize(*node.layer, ParameterKind::kWeights);
      const int64_t biases_size = TensorSize(*node.layer, ParameterKind::kBiases);
      const absl::Span<const float> weight_mask = mask_values.subspan(node.weights_offset, weights_size);
      plan->kept_weights_.push_back(CountKept(weight_mask));
      sparsity = node.layer->CreateSparsity(weight_mask, max_batch);
      if (sparsity != nullptr && node.biases_offset >= 0 && biases_size > 0) {
        sparsity->set_biases_pruned(CountKept(mask_values.subspan(node.biases_offset, biases_size)) == 0);
      }
      const bool first_layer = node.reads_only_network_input();
      // Buffers for timing the layer (kMeasured only): its kernels, then whether it packs for dense_packed ones.
      std::unique_ptr<Bench> bench;
      if (sparsity != nullptr && options.selection == KernelSelection::kMeasured) {
        bench = std::make_unique<Bench>(*node.layer, max_batch, *sparsity, weight_mask, weights_size, biases_size);
      }
      if (sparsity != nullptr && options.selection != KernelSelection::kSparse) {
        for (int64_t batch : sparsity->RepresentativeBatches()) {
          for (Product product : {Product::kForward, Product::kInputGradient, Product::kWeightGradient}) {
            KernelKind choice = KernelKind::kDense;
            if (bench != nullptr && !(first_layer && product == Product::kInputGradient)) {
              // Dense, sparse (every layer has both: LayerSparsity::Supports), then lines where the layer has them.
              std::vector<KernelKind> kinds = {KernelKind::kDense, KernelKind::kSparse};
              if (sparsity->Supports(product, KernelKind::kSparseLines)) kinds.push_back(KernelKind::kSparseLines);
              const std::vector<double> times =
                  TimeProduct(*node.layer, *sparsity, *bench, product, batch, kinds, options.repetitions);
              // The fastest sparse kind, then a margin against dense: near break-even the isolated timing can
              // mislead (in a real step other data competes for the cache), and a wrong sparse pick costs more than
              // a missed one.
              size_t fastest_sparse = 1;
              for (size_t k = 2; k < kinds.size(); ++k) {
                if (times[k] < times[fastest_sparse]) fastest_sparse = k;
              }
              if (times[fastest_sparse] < kSparseMargin * times[0]) choice = kinds[fastest_sparse];
            }
            sparsity->set_kernel(product, batch, choice);
          }
        }
      }
      const bool packs = sparsity != nullptr && options.pack_weights && options.selection != KernelSelection::kDense;
      if (packs && options.always_pack_dense && first_layer && sparsity->PackWeightsDense()) {
        // Packed for the dense_packed kernels, unmeasured (tests).
      } else if (packs && RunsSparseOnly(*sparsity, node)) {
        sparsity->PackWeights();
      } else if (packs && bench != nullptr && options.step_batch > 0 && first_layer) {
        std::unique_ptr<LayerSparsity> packed = node.layer->CreateSparsity(weight_mask, max_batch);
        if (packed != nullptr && packed->PackWeightsDense()) {
          packed->set_biases_pruned(sparsity->biases_pruned());
          Bench packed_bench = *bench;
          const absl::Span<const int32_t> order = packed->weight_order();
          for (size_t p = 0; p < order.size(); ++p) packed_bench.weights[p] = bench->weights[order[p]];
          // What the masked update visits: the kept lines of the network's layout (relative to the layer's weights),
          // or the packed kept weights at the front.
          std::vector<std::pair<int64_t, int64_t>> kept_runs =
              KeptRunsWithin(mask.KeptBits(), node.weights_offset, node.weights_offset + weights_size);
          for (auto& [begin, end] : kept_runs) {
            begin -= node.weights_offset;
            end -= node.weights_offset;
          }
          StepSetup setups[2] = {{sparsity.get(), bench.get(), std::move(kept_runs)},
                                 {packed.get(), &packed_bench, {{0, plan->kept_weights_.back()}}}};
          const std::vector<double> times = TimeLayerSteps(*node.layer, absl::MakeSpan(setups),
                                                           std::min(options.step_batch, max_batch),
                                                           2 * options.repetitions);
          if (times[1] < kDensePackingMargin * times[0]) sparsity = std::move(packed);
        }
      }
      if (sparsity != nullptr && !sparsity->weight_order().empty()) {
        plan->weight_orders_.push_back({node.weights_offset, sparsity->weight_order()});
      }
    }
    if (node.weights_offset < 0) plan->kept_weights_.push_back(0);
    plan->layer_pointers_.push_back(sparsity.get());
    plan->layers_.push_back(std::move(sparsity));
  }
  std::vector<float> plan_order_values(mask_values.begin(), mask_values.end());
  plan->ToPlanOrder(absl::MakeSpan(plan_order_values));
  absl::StatusOr<Mask> plan_order_mask = Mask::Create(std::move(plan_order_values));
  PARSITY_CHECK_OK(plan_order_mask.status());  // The same 0/1 values, moved.
  plan->mask_ = std::make_unique<Mask>(*std::move(plan_order_mask));
  plan->kept_bits_ = plan->mask_->KeptBits();
  plan->BuildGradientRanges();
  return plan;
}

void SparsePlan::ToPlanOrder(absl::Span<float> buffer) const { Reorder(buffer, /*to_plan=*/true); }

void SparsePlan::ToNetworkOrder(absl::Span<float> buffer) const { Reorder(buffer, /*to_plan=*/false); }

void SparsePlan::Reorder(absl::Span<float> buffer, bool to_plan) const {
  PARSITY_CHECK(static_cast<int64_t>(buffer.size()) == network_->parameter_count());
  std::vector<float> layer;
  for (const WeightOrder& reordered : weight_orders_) {
    float* values = buffer.data() + reordered.weights_offset;
    const int64_t size = static_cast<int64_t>(reordered.order.size());
    layer.assign(values, values + size);
    for (int64_t p = 0; p < size; ++p) {
      if (to_plan) {
        values[p] = layer[reordered.order[p]];
      } else {
        values[reordered.order[p]] = layer[p];
      }
    }
  }
}

void SparsePlan::BuildGradientRanges() {
  const int64_t parameters = network_->parameter_count();
  std::vector<bool> covered(parameters, false);
  for (size_t n = 0; n < network_->nodes().size(); ++n) {
    const Network::Node& node = network_->nodes()[n];
    if (node.weights_offset < 0) continue;
    GradientRanges ranges;
    ranges.node = n;
    const int64_t weights_end = node.weights_offset + TensorSize(*node.layer, ParameterKind::kWeights);
    ranges.weights = {node.weights_offset, weights_end};
    if (node.biases_offset >= 0) {
      ranges.biases = {node.biases_offset, node.biases_offset + TensorSize(*node.layer, ParameterKind::kBiases)};
    }
    ranges.kept_runs = KeptRunsWithin(kept_bits_, node.weights_offset, weights_end);
    // Where a quarter of the lines or more hold a kept weight in runs of fewer than 2 lines on average, one pass over
    // the whole tensor streams faster than thousands of one-line pieces. Longer runs stay runs even when they cover
    // most lines: skipping the rest keeps the step's data in cache (SNIP's 90% masks average 4.1 lines per run in
    // LeNet-300-100's first layer and 3.3 in Simple-CNN's conv2; LeNet's batch-2 step gained about 10% from runs,
    // Simple-CNN's and ResNet-8's moved by less than the spread between runs).
    int64_t kept_lines = 0;
    for (const auto& [begin, end] : ranges.kept_runs) kept_lines += (end - begin + 15) / 16;
    const int64_t runs = static_cast<int64_t>(ranges.kept_runs.size());
    if (4 * kept_lines >= (weights_end - node.weights_offset) / 16 && kept_lines < 2 * runs) {
      ranges.kept_runs = {ranges.weights};
    }
    for (const auto& [begin, end] : {ranges.weights, ranges.biases}) {
      std::fill(covered.begin() + begin, covered.begin() + end, true);
    }
    gradient_ranges_.push_back(std::move(ranges));
  }
  for (int64_t i = 0; i < parameters;) {
    if (covered[i]) {
      ++i;
      continue;
    }
    int64_t end = i;
    while (end < parameters && !covered[end]) ++end;
    other_ranges_.emplace_back(i, end);
    i = end;
  }
}

std::vector<LayerKernels> SparsePlan::Describe(int64_t batch_size) const {
  return DescribeLayers(*network_, this, batch_size, &kept_weights_);
}

std::vector<LayerKernels> DescribeDense(const Network& network, int64_t batch_size) {
  return DescribeLayers(network, nullptr, batch_size, nullptr);
}

std::string KernelSummary(const LayerKernels& kernels) {
  std::vector<KernelKind> kinds = {kernels.forward, kernels.weight_gradient};
  if (kernels.has_input_gradient) kinds.push_back(kernels.input_gradient);
  const bool all_sparse = std::all_of(kinds.begin(), kinds.end(), [](KernelKind k) { return k != KernelKind::kDense; });
  const bool all_dense = std::all_of(kinds.begin(), kinds.end(), [](KernelKind k) { return k == KernelKind::kDense; });
  return all_sparse ? "sparse" : all_dense ? "dense" : "mixed";
}

std::string SparsePlanJson(const std::vector<LayerKernels>& layers) {
  std::string json = "[";
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerKernels& layer = layers[i];
    absl::StrAppend(&json, i == 0 ? "" : ",", "{\"name\":", JsonQuote(layer.name),
                    ",\"density\":", JsonNumber(layer.density), ",\"kept_weights\":", layer.kept_weights,
                    ",\"kernel\":", JsonQuote(KernelSummary(layer)), ",\"forward\":\"", KernelKindName(layer.forward),
                    "\"");
    if (layer.has_input_gradient) {
      absl::StrAppend(&json, ",\"input_gradient\":\"", KernelKindName(layer.input_gradient), "\"");
    }
    absl::StrAppend(&json, ",\"weight_gradient\":\"", KernelKindName(layer.weight_gradient), "\"");
    if (layer.weights_packed) absl::StrAppend(&json, ",\"weights_packed\":true");
    absl::StrAppend(&json, "}");
  }
  return json + "]";
}

}  // namespace parsity::nn
