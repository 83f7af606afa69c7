// SNIP's connection sensitivity (one forward and backward pass over the sample, in batches of 100) for each network
// on 2,000 synthetic examples, with 1 and 2 threads, reporting examples/s. On MNIST (54,000 examples) the time is
// 54,000 / that rate; pruning_mnist_test prints the real figure.
//
//   bazel run //pruning:snip_benchmark
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "pruning/snip.h"
#include "tools/base/check.h"
#include "training/nn/networks.h"

namespace parsity::pruning {
namespace {

constexpr int64_t kExamples = 2000;

void ConnectionSensitivityOverExamples(benchmark::State& state, const std::string& network_name, int threads) {
  auto created = nn::CreateNetwork(network_name);
  PARSITY_CHECK_OK(created.status());
  const nn::Network& network = **created;
  std::vector<float> parameters(network.parameter_count());
  std::mt19937_64 engine(0);
  network.Initialize(engine, absl::MakeSpan(parameters));
  data::Examples examples;
  examples.shape = {static_cast<int>(network.input_shape().height), static_cast<int>(network.input_shape().width),
                    static_cast<int>(network.input_shape().channels)};
  examples.num_classes = network.num_classes();
  std::normal_distribution<float> pixel(0.0f, 1.0f);
  examples.pixels.resize(kExamples * examples.shape.Size());
  for (float& value : examples.pixels) value = pixel(engine);
  for (int64_t i = 0; i < kExamples; ++i) examples.labels.push_back(static_cast<int32_t>(i % examples.num_classes));
  SnipOptions options;
  options.threads = threads;
  for (auto _ : state) {
    absl::StatusOr<std::vector<double>> sensitivity = ConnectionSensitivity(network, parameters, examples, options);
    PARSITY_CHECK_OK(sensitivity.status());
    benchmark::DoNotOptimize(sensitivity->data());
  }
  state.counters["examples/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kExamples, benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(ConnectionSensitivityOverExamples, simple_cnn_1_thread, "simple_cnn", 1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(ConnectionSensitivityOverExamples, simple_cnn_2_threads, "simple_cnn", 2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(ConnectionSensitivityOverExamples, lenet_300_100_2_threads, "lenet_300_100", 2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(ConnectionSensitivityOverExamples, resnet8_2_threads, "resnet8", 2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace parsity::pruning
