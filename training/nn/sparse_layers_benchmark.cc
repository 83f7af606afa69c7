// Each product (forward, input gradient, weight gradient) of the weighted layers of Simple-CNN, ResNet-8 and
// LeNet-300-100, dense and sparse, at densities 0.02 to 0.5 under random masks, per batch the layers see (LeNet's
// first layer also under a SNIP-like mask, whose inputs and hidden units keep very different numbers of weights). The
// counter dense_over_sparse is the dense kernel's time over the sparse one's, both timed here, and dense_over_lines the same
// for the fully connected line kernels; they are what the sparse plan's measured kernel selection
// (training/nn/sparse_plan.h) decides from.
//
//   bazel run //training/nn:sparse_layers_benchmark -- --benchmark_filter=conv2
#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "tools/base/aligned_vector.h"
#include "training/nn/convolution.h"
#include "training/nn/fully_connected.h"
#include "training/nn/internal/sparse_kernels.h"
#include "training/nn/layer_testing.h"

namespace parsity::nn {
namespace {

struct LayerCase {
  std::string name;
  std::unique_ptr<Layer> (*make)();
  std::vector<int64_t> batches;
};

std::unique_ptr<Layer> Conv(const std::string& name, ImageShape input, int64_t kernel, int64_t out, int64_t stride,
                            Padding padding) {
  Conv2DOptions options;
  options.kernel_size = kernel;
  options.out_channels = out;
  options.stride = stride;
  options.padding = padding;
  return std::make_unique<Conv2DLayer>(name, input, options);
}

std::vector<LayerCase> Cases() {
  return {
      {"simple_cnn_conv1", [] { return Conv("conv1", {28, 28, 1}, 5, 32, 1, Padding::kValid); }, {2, 16}},
      {"simple_cnn_conv2", [] { return Conv("conv2", {12, 12, 32}, 5, 64, 1, Padding::kValid); }, {2, 16}},
      {"simple_cnn_fc", [] { return std::unique_ptr<Layer>(new FullyConnectedLayer("fc", {4, 4, 64}, 10)); }, {2, 16}},
      {"resnet8_conv_16", [] { return Conv("c16", {32, 32, 16}, 3, 16, 1, Padding::kSame); }, {2, 8}},
      {"resnet8_conv_16_32_s2", [] { return Conv("c32s2", {32, 32, 16}, 3, 32, 2, Padding::kSame); }, {2, 8}},
      {"resnet8_conv_64", [] { return Conv("c64", {8, 8, 64}, 3, 64, 1, Padding::kSame); }, {2, 8}},
      {"lenet_fc1", [] { return std::unique_ptr<Layer>(new FullyConnectedLayer("fc1", {1, 1, 784}, 300)); },
       {2, 8, 32, 128, 256}},
      {"lenet_fc2", [] { return std::unique_ptr<Layer>(new FullyConnectedLayer("fc2", {1, 1, 300}, 100)); },
       {2, 32, 256}},
  };
}

double Seconds(const std::chrono::steady_clock::time_point& start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void LayerProduct(benchmark::State& state, const LayerCase& layer_case, Product product, double density,
                  int64_t batch, bool clustered) {
  const std::unique_ptr<Layer> layer = layer_case.make();
  testing::LayerTestData data = testing::MakeLayerTestData(*layer, batch, testing::InputValues::kGaussian, 1);
  std::vector<float> mask = testing::RandomWeightMask(static_cast<int64_t>(data.weights.size()), density, 1);
  if (clustered) {
    // Like SNIP's: inputs and hidden units differ in how many weights they keep. Weight (i, o) is kept with
    // probability density * a_i * b_o, a and b log-normal (sigma 1) with mean 1: at density 0.1 the kept weights
    // (about 8%) lie in about 60% of the lines of 16 outputs, against 81% under the random mask (SNIP's 90% mask of
    // LeNet-300-100 keeps 7.5% of the first layer's weights in 46%).
    const int64_t out = layer->output_shape().size();
    const int64_t in = static_cast<int64_t>(data.weights.size()) / out;
    std::mt19937_64 engine(1);
    std::lognormal_distribution<double> factor(-0.5, 1.0);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<double> input_factor(in), output_factor(out);
    for (double& value : input_factor) value = factor(engine);
    for (double& value : output_factor) value = factor(engine);
    for (int64_t i = 0; i < in; ++i) {
      for (int64_t o = 0; o < out; ++o) {
        mask[i * out + o] = uniform(engine) < density * input_factor[i] * output_factor[o] ? 1.0f : 0.0f;
      }
    }
  }
  testing::PruneWeights(mask, &data);
  std::unique_ptr<LayerSparsity> sparsity = layer->CreateSparsity(data.weight_mask, batch);
  if (sparsity == nullptr) {
    state.SkipWithError("no sparse kernels in this build");
    return;
  }
  AlignedFloatVector scratch(
      static_cast<size_t>(std::max(layer->ScratchFloats(batch), sparsity->ScratchFloats(batch))), 0.0f);
  // Every buffer aligned, as a training step's are (the test data's vectors are not).
  const AlignedFloatVector input(data.inputs[0].begin(), data.inputs[0].end());
  const AlignedFloatVector weights(data.weights.begin(), data.weights.end());
  const AlignedFloatVector biases(data.biases.begin(), data.biases.end());
  const AlignedFloatVector output_gradient(data.output_gradient.begin(), data.output_gradient.end());
  AlignedFloatVector output(batch * layer->output_shape().size());
  AlignedFloatVector input_gradient(input.size());
  AlignedFloatVector weight_gradient(weights.size());
  const float* inputs[1] = {input.data()};
  float* input_gradients[1] = {input_gradient.data()};
  float* none[1] = {nullptr};
  const GradientMode modes[1] = {GradientMode::kOverwrite};
  auto run = [&] {
    LayerParameters parameters;
    parameters.weights = weights.data();
    parameters.biases = biases.data();
    parameters.sparsity = sparsity.get();
    if (product == Product::kForward) {
      ForwardArguments arguments;
      arguments.batch = batch;
      arguments.inputs = absl::MakeConstSpan(inputs, 1);
      arguments.parameters = parameters;
      arguments.output = output.data();
      arguments.scratch = scratch.data();
      layer->Forward(arguments);
      return;
    }
    BackwardArguments arguments;
    arguments.batch = batch;
    arguments.inputs = absl::MakeConstSpan(inputs, 1);
    arguments.output = output.data();
    arguments.output_gradient = output_gradient.data();
    arguments.parameters = parameters;
    arguments.input_gradients = absl::MakeConstSpan(product == Product::kInputGradient ? input_gradients : none, 1);
    arguments.input_gradient_modes = absl::MakeConstSpan(modes, 1);
    if (product == Product::kWeightGradient) arguments.parameter_gradients.weights = weight_gradient.data();
    arguments.scratch = scratch.data();
    layer->Backward(arguments);
  };
  // Seconds per run of `kind`, after a warm-up run, over at least 0.05 s and 3 runs.
  auto seconds_per_run = [&](KernelKind kind) {
    sparsity->set_kernel(product, batch, kind);
    run();
    const auto start = std::chrono::steady_clock::now();
    int64_t runs = 0;
    while (Seconds(start) < 0.05 || runs < 3) {
      run();
      ++runs;
    }
    return Seconds(start) / static_cast<double>(runs);
  };
  const double dense_seconds = seconds_per_run(KernelKind::kDense);
  sparsity->set_kernel(product, batch, KernelKind::kSparse);
  run();
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) run();
  const double sparse_seconds = Seconds(start) / static_cast<double>(state.iterations());
  state.counters["dense_over_sparse"] = dense_seconds / sparse_seconds;
  state.counters["dense_us"] = dense_seconds * 1e6;
  // Fully connected layers also have kernels over lines of 16 outputs (forward and weight gradient).
  if (sparsity->Supports(product, KernelKind::kSparseLines)) {
    state.counters["dense_over_lines"] = dense_seconds / seconds_per_run(KernelKind::kSparseLines);
  }
}

const bool kRegistered = [] {
  for (const LayerCase& layer_case : Cases()) {
    for (const Product product : {Product::kForward, Product::kInputGradient, Product::kWeightGradient}) {
      for (const double density : {0.5, 0.1, 0.02}) {
        for (const int64_t batch : layer_case.batches) {
          benchmark::RegisterBenchmark(absl::StrCat("LayerProduct/", layer_case.name, "/", ProductName(product),
                                                    "/density:", density, "/batch:", batch)
                                           .c_str(),
                                       [=](benchmark::State& state) {
                                         LayerProduct(state, layer_case, product, density, batch, false);
                                       })
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
          if (layer_case.name != "lenet_fc1") continue;
          benchmark::RegisterBenchmark(absl::StrCat("LayerProduct/lenet_fc1_snip_like/", ProductName(product),
                                                    "/density:", density, "/batch:", batch)
                                           .c_str(),
                                       [=](benchmark::State& state) {
                                         LayerProduct(state, layer_case, product, density, batch, true);
                                       })
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
      }
    }
  }
  return true;
}();

}  // namespace
}  // namespace parsity::nn
