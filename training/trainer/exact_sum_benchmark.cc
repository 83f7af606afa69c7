// What the exact gradient sum (TrainerConfig::exact_gradient_sum) costs per training step: each network at sparsity
// 0 and 0.9 (a uniformly random mask, run on its sparse execution plan), batch sizes 2 ... 2048, 1 and 2 threads.
// `exact_over_float` is the time of a step with the exact sum over that of the same step with float sums (gradient,
// SGD update), the median of 5 interleaved rounds; `leaves` is the number of leaves of the batch. Also the raw rate of
// ExactSum::AddFloatsAndClear, in entries per second. Results: training/README.md, "Exact gradient sums".
//
//   bazel run //training/trainer:exact_sum_benchmark -- --benchmark_filter=lenet
#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "tools/base/aligned_vector.h"
#include "tools/base/check.h"
#include "training/nn/mask.h"
#include "training/nn/networks.h"
#include "training/nn/sparse_plan.h"
#include "training/optimizers/optimizer_factory.h"
#include "training/trainer/exact_sum.h"
#include "training/trainer/gradient_evaluator.h"

namespace parsity::trainer {
namespace {

void ExactSumStep(benchmark::State& state, const std::string& network_name, double sparsity, int64_t batch_size,
                  int threads) {
  auto created = nn::CreateNetwork(network_name);
  PARSITY_CHECK_OK(created.status());
  const nn::Network& network = **created;
  const int64_t size = network.parameter_count();
  AlignedFloatVector parameters(size);
  std::mt19937_64 engine(0);
  network.Initialize(engine, absl::MakeSpan(parameters));
  AlignedFloatVector pixels(batch_size * network.input_shape().size());
  std::normal_distribution<float> pixel(0.0f, 1.0f);
  for (float& value : pixels) value = pixel(engine);
  std::vector<int32_t> labels(batch_size);
  for (int64_t i = 0; i < batch_size; ++i) labels[i] = static_cast<int32_t>(i % 10);

  std::unique_ptr<nn::Mask> mask;
  std::unique_ptr<nn::SparsePlan> plan;
  if (sparsity > 0) {
    std::vector<float> values(size, 1.0f);
    std::bernoulli_distribution pruned(sparsity);
    for (float& value : values) value = pruned(engine) ? 0.0f : 1.0f;
    auto created_mask = nn::Mask::Create(std::move(values));
    PARSITY_CHECK_OK(created_mask.status());
    mask = std::make_unique<nn::Mask>(*std::move(created_mask));
    mask->Apply(absl::MakeSpan(parameters));
    auto created_plan = nn::SparsePlan::Create(network, *mask, {});
    PARSITY_CHECK_OK(created_plan.status());
    plan = *std::move(created_plan);
  }
  GradientEvaluator evaluator(&network, {.threads = threads, .max_chunk = 256, .sparse_plan = plan.get()});
  auto optimizer = optimizers::CreateOptimizer({.name = "sgd"}, size, mask.get());
  PARSITY_CHECK_OK(optimizer.status());
  AlignedFloatVector gradient(size);
  // As the trainer does: a pruned network's exact sum holds its kept entries only.
  const std::vector<int32_t> kept = mask != nullptr ? mask->KeptIndices() : std::vector<int32_t>();
  ExactSum sum(mask != nullptr ? static_cast<int64_t>(kept.size()) : size);
  const int64_t leaves = evaluator.LeafCount(batch_size);
  // The trainer's two ways of computing a step's gradient (Trainer::BatchGradient without a reducer), then SGD.
  auto float_step = [&] {
    evaluator.MeanGradient(parameters, pixels.data(), labels.data(), batch_size, absl::MakeSpan(gradient));
    (*optimizer)->Step(1e-4f, gradient, absl::MakeSpan(parameters));
  };
  const float scale = 1.0f / static_cast<float>(batch_size);
  auto exact_step = [&] {
    if (leaves == 1) {
      evaluator.OneLeafGradientSum(parameters, pixels.data(), labels.data(), batch_size, absl::MakeSpan(gradient));
      ExactSum::RoundOneTerm(absl::MakeSpan(gradient), scale);
    } else {
      sum.Clear();
      evaluator.AddLeafGradients(parameters, pixels.data(), labels.data(), batch_size, 0, leaves, &sum, kept);
      if (kept.empty()) {
        sum.Round(absl::MakeSpan(gradient), scale);
      } else {
        sum.Round(absl::MakeSpan(gradient), kept, scale);
      }
    }
    (*optimizer)->Step(1e-4f, gradient, absl::MakeSpan(parameters));
  };
  float_step();
  exact_step();
  const auto probe = std::chrono::steady_clock::now();
  float_step();
  const double probe_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - probe).count();
  const int64_t steps_per_round = std::max<int64_t>(1, std::llround(0.05 / std::max(probe_seconds, 1e-7)));
  std::vector<double> ratios;
  for (int round = 0; round < 5; ++round) {
    auto time = [&](auto& step) {
      const auto start = std::chrono::steady_clock::now();
      for (int64_t n = 0; n < steps_per_round; ++n) step();
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    const double float_seconds = time(float_step);
    ratios.push_back(time(exact_step) / float_seconds);
  }
  std::sort(ratios.begin(), ratios.end());
  for (auto _ : state) {
    exact_step();
    benchmark::ClobberMemory();
  }
  state.counters["exact_over_float"] = ratios[ratios.size() / 2];
  state.counters["leaves"] = static_cast<double>(leaves);
}

void AddFloatsAndClear(benchmark::State& state) {
  const int64_t size = state.range(0);
  AlignedFloatVector values(size);
  ExactSum sum(size);
  std::mt19937_64 engine(0);
  std::normal_distribution<float> normal(0.0f, 1e-3f);
  for (auto _ : state) {
    state.PauseTiming();
    for (float& value : values) value = normal(engine);
    state.ResumeTiming();
    sum.AddFloatsAndClear(absl::MakeSpan(values));
    benchmark::ClobberMemory();
  }
  state.counters["entries/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * size, benchmark::Counter::kIsRate);
}
// Simple-CNN's and LeNet-300-100's parameter counts.
BENCHMARK(AddFloatsAndClear)->Arg(62346)->Arg(266610);


const bool kRegistered = [] {
  for (const char* network : {"simple_cnn", "resnet8", "lenet_300_100"}) {
    for (const int threads : {1, 2}) {
      for (const double sparsity : {0.0, 0.9}) {
        for (const int64_t batch : {2, 8, 32, 128, 512, 2048}) {
          benchmark::RegisterBenchmark(absl::StrCat("ExactSumStep/", network, "/sparsity:", sparsity, "/batch:", batch,
                                                    "/threads:", threads)
                                           .c_str(),
                                       [=](benchmark::State& state) {
                                         ExactSumStep(state, network, sparsity, batch, threads);
                                       })
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        }
      }
    }
  }
  return true;
}();

}  // namespace
}  // namespace parsity::trainer
