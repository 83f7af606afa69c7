// One training step (forward, backward, SGD update) of each network at batch sizes 2 ... 2048, single-threaded
// and with 2 threads, reporting examples/s and GFLOP/s; and the machine's own single-core SGEMM rate with Eigen, so
// that the step's rate can be read as a fraction of it. tools/peers/pytorch_step_time.py runs this binary beside
// PyTorch and prints the ratio. Results and the machine they came from: training/README.md.
//
//   bazel run //training/trainer:training_step_benchmark -- --benchmark_filter=simple_cnn
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "tools/base/check.h"
#include "training/data/examples.h"
#include "training/nn/networks.h"
#include "training/optimizers/optimizer_factory.h"
#include "training/trainer/gradient_evaluator.h"

namespace parsity::trainer {
namespace {

// A network with initialized parameters and a batch of random examples.
struct Setup {
  std::unique_ptr<nn::Network> network;
  std::vector<float> parameters;
  data::Examples examples;
};

Setup MakeSetup(const std::string& network_name, int64_t batch_size) {
  Setup setup;
  auto created = nn::CreateNetwork(network_name);
  PARSITY_CHECK_OK(created.status());
  setup.network = *std::move(created);
  const nn::Network& network = *setup.network;
  setup.parameters.resize(network.parameter_count());
  std::mt19937_64 engine(0);
  network.Initialize(engine, absl::MakeSpan(setup.parameters));
  const nn::ImageShape& shape = network.input_shape();
  setup.examples.shape = {static_cast<int>(shape.height), static_cast<int>(shape.width),
                          static_cast<int>(shape.channels)};
  std::normal_distribution<float> pixel(0.0f, 1.0f);
  setup.examples.pixels.resize(batch_size * shape.size());
  for (float& value : setup.examples.pixels) value = pixel(engine);
  for (int64_t i = 0; i < batch_size; ++i) setup.examples.labels.push_back(static_cast<int32_t>(i % 10));
  return setup;
}

void SetRates(benchmark::State& state, int64_t examples_per_iteration, int64_t flops_per_example) {
  const double examples = static_cast<double>(state.iterations()) * examples_per_iteration;
  state.counters["examples/s"] = benchmark::Counter(examples, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(examples * flops_per_example * 1e-9, benchmark::Counter::kIsRate);
}

void TrainingStep(benchmark::State& state, const std::string& network_name, int64_t batch_size, int threads) {
  Setup setup = MakeSetup(network_name, batch_size);
  const nn::Network& network = *setup.network;
  std::vector<float> gradient(setup.parameters.size());
  GradientEvaluator evaluator(&network, {.threads = threads, .max_chunk = 256});
  auto optimizer = optimizers::CreateOptimizer({.name = "sgd"}, network.parameter_count(), nullptr);
  PARSITY_CHECK_OK(optimizer.status());
  for (auto _ : state) {
    evaluator.MeanGradient(setup.parameters, setup.examples.pixels.data(), setup.examples.labels.data(), batch_size,
                           absl::MakeSpan(gradient));
    (*optimizer)->Step(1e-4f, gradient, absl::MakeSpan(setup.parameters));
    benchmark::ClobberMemory();
  }
  SetRates(state, batch_size, network.TrainingFlopsPerExample());
}

// One evaluation pass (forward only) over 1,000 examples: the cost of a validation check is 6x this on MNIST.
void Evaluate(benchmark::State& state, const std::string& network_name, int threads) {
  Setup setup = MakeSetup(network_name, 1000);
  GradientEvaluator evaluator(setup.network.get(), {.threads = threads, .max_chunk = 256});
  for (auto _ : state) benchmark::DoNotOptimize(evaluator.Evaluate(setup.parameters, setup.examples));
  SetRates(state, 1000, setup.network->ForwardFlopsPerExample());
}

// C = A B with square float matrices: 2 n^3 FLOP. Eigen's single-threaded GEMM is the machine's reference rate.
void EigenSgemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf b = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf c(n, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 2.0 * n * n * n * 1e-9, benchmark::Counter::kIsRate);
}
BENCHMARK(EigenSgemm)->Arg(256)->Arg(512)->Arg(1024)->Unit(benchmark::kMillisecond);

const bool kRegistered = [] {
  for (const char* network : {"simple_cnn", "resnet8", "lenet_300_100"}) {
    for (const int threads : {1, 2}) {
      for (const int64_t batch : {2, 8, 32, 128, 512, 2048}) {
        benchmark::RegisterBenchmark(
            absl::StrCat("TrainingStep/", network, "/batch:", batch, "/threads:", threads).c_str(),
            [=](benchmark::State& state) { TrainingStep(state, network, batch, threads); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
      benchmark::RegisterBenchmark(absl::StrCat("Evaluate/", network, "/examples:1000/threads:", threads).c_str(),
                                   [=](benchmark::State& state) { Evaluate(state, network, threads); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  return true;
}();

}  // namespace
}  // namespace parsity::trainer
