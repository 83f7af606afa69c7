// One optimizer step over a 266,610-entry parameter buffer (the size of the paper's MNIST Simple-CNN), per
// optimizer, without and with a 90%-sparse mask. Reports parameters/s.
//
//   bazel run -c opt //training/optimizers:optimizers_benchmark
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "tools/base/check.h"
#include "training/nn/mask.h"
#include "training/optimizers/optimizer.h"
#include "training/optimizers/optimizer_factory.h"

namespace parsity::optimizers {
namespace {

constexpr int64_t kParameterCount = 266610;

std::vector<float> RandomBuffer(std::mt19937_64& engine) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> buffer(kParameterCount);
  for (float& value : buffer) value = normal(engine);
  return buffer;
}

void BM_Step(benchmark::State& state, const std::string& name, bool masked) {
  std::mt19937_64 engine(0);
  std::vector<float> parameters = RandomBuffer(engine);
  const std::vector<float> gradient = RandomBuffer(engine);
  std::vector<float> keep(kParameterCount);
  std::bernoulli_distribution kept(0.1);
  for (float& value : keep) value = kept(engine) ? 1.0f : 0.0f;
  auto mask = nn::Mask::Create(std::move(keep));
  PARSITY_CHECK_OK(mask.status());
  if (masked) mask->Apply(absl::MakeSpan(parameters));
  OptimizerConfig config;
  config.name = name;
  auto optimizer = CreateOptimizer(config, kParameterCount, masked ? &*mask : nullptr);
  PARSITY_CHECK_OK(optimizer.status());
  for (auto _ : state) {
    // A tiny rate keeps the parameters in range however many iterations run.
    (*optimizer)->Step(1e-12f, gradient, absl::MakeSpan(parameters));
    benchmark::DoNotOptimize(parameters.data());
    benchmark::ClobberMemory();
  }
  state.counters["parameters/s"] =
      benchmark::Counter(static_cast<double>(kParameterCount), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK_CAPTURE(BM_Step, sgd, "sgd", false);
BENCHMARK_CAPTURE(BM_Step, momentum, "momentum", false);
BENCHMARK_CAPTURE(BM_Step, nesterov, "nesterov", false);
BENCHMARK_CAPTURE(BM_Step, adam, "adam", false);
BENCHMARK_CAPTURE(BM_Step, sgd_masked, "sgd", true);
BENCHMARK_CAPTURE(BM_Step, momentum_masked, "momentum", true);
BENCHMARK_CAPTURE(BM_Step, nesterov_masked, "nesterov", true);
BENCHMARK_CAPTURE(BM_Step, adam_masked, "adam", true);

}  // namespace
}  // namespace parsity::optimizers
