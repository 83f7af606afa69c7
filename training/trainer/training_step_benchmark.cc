// One training step (forward, backward, SGD update) of each network at sparsity 0, 0.5, 0.7, 0.9, 0.95 and 0.98 and
// batch sizes 2 ... 2048, single-threaded and with 2 threads, reporting examples/s, GFLOP/s (of the dense network) and,
// for pruned networks, speedup_over_dense: the step time of the same network unpruned over this one's, and
// speedup_over_masked_dense: that of the same pruned network on the dense kernels (what parsity ran before sparse
// execution) over this one's; each the median of 21 interleaved rounds in which the three take turns on one parameter
// buffer and one evaluator (the two pruned ones also on one optimizer where the plan keeps the network's order).
// Pruned networks run their sparse execution plan (kernels chosen by measurement, as trials do) with the masked SGD
// update. Masks: SNIP on 10,000 MNIST training examples from the network's initialization where MNIST is installed
// (Simple-CNN, LeNet-300-100); otherwise, and for ResNet-8 (CIFAR-10 is not on these machines), random masks with the
// per-layer densities SNIP gives on synthetic data.
// Also the machine's own single-core SGEMM rate with Eigen, so that the step's rate can be read as a fraction of it.
// tools/peers/pytorch_step_time.py runs this binary beside PyTorch and prints the ratio. Results and the machine they
// came from: training/README.md.
//
//   bazel run //training/trainer:training_step_benchmark -- --benchmark_filter=simple_cnn/sparsity:0.9/
#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "Eigen/Core"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "tools/base/aligned_vector.h"
#include "tools/base/check.h"
#include "pruning/pruning.h"
#include "training/data/dataset.h"
#include "training/data/examples.h"
#include "training/nn/mask.h"
#include "training/nn/networks.h"
#include "training/nn/sparse_plan.h"
#include "training/optimizers/optimizer_factory.h"
#include "training/trainer/gradient_evaluator.h"

namespace parsity::trainer {
namespace {

// A network with initialized parameters and a batch of random examples.
struct Setup {
  std::unique_ptr<nn::Network> network;
  AlignedFloatVector parameters;  // Aligned as the trainers' buffers are: a misaligned copy runs up to 20% slower.
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

// A random mask with the given per-view densities, drawn from std::mt19937_64(seed).
nn::Mask RandomMaskWithDensities(const nn::ParameterLayout& layout, const std::vector<double>& densities, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::vector<float> values(layout.size(), 0.0f);
  for (size_t v = 0; v < layout.views().size(); ++v) {
    const nn::ParameterView& view = layout.views()[v];
    std::vector<int64_t> order(view.size);
    for (int64_t i = 0; i < view.size; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), engine);
    const int64_t kept = std::llround(densities[v] * static_cast<double>(view.size));
    for (int64_t i = 0; i < kept; ++i) values[view.offset + order[i]] = 1.0f;
  }
  auto mask = nn::Mask::Create(std::move(values));
  PARSITY_CHECK_OK(mask.status());
  return *std::move(mask);
}

// SNIP's mask of `network_name` at `sparsity` from the initialization in `parameters`: on 10,000 MNIST training
// examples for the MNIST networks when MNIST is installed, else a random mask with the per-view densities of SNIP on
// 1,000 synthetic Gaussian examples. Computed once per (network, sparsity) and kept for the process.
const nn::Mask& SnipMask(const std::string& network_name, const nn::Network& network,
                         absl::Span<const float> parameters, double sparsity) {
  static auto* masks = new std::map<std::pair<std::string, double>, nn::Mask>();
  const auto key = std::make_pair(network_name, sparsity);
  if (auto found = masks->find(key); found != masks->end()) return found->second;
  pruning::PruningConfig config;
  config.scheme = "snip";
  config.sparsity = sparsity;
  config.snip_batches = 100;
  if (network_name != "resnet8") {
    static const auto* mnist = new absl::StatusOr<data::Dataset>(data::LoadDataset("mnist", ""));
    if (mnist->ok()) {
      auto mask = pruning::ComputeMask(config, network, parameters, (*mnist)->train, /*seed=*/0, /*threads=*/2);
      PARSITY_CHECK_OK(mask.status());
      std::cerr << "training_step_benchmark: " << network_name << " sparsity " << sparsity
                << ": SNIP mask on MNIST\n";
      return masks->emplace(key, *std::move(mask)).first->second;
    }
  }
  const nn::ImageShape& shape = network.input_shape();
  data::Examples synthetic;
  synthetic.shape = {static_cast<int>(shape.height), static_cast<int>(shape.width), static_cast<int>(shape.channels)};
  std::mt19937_64 engine(1);
  std::normal_distribution<float> pixel(0.0f, 1.0f);
  synthetic.pixels.resize(1000 * shape.size());
  for (float& value : synthetic.pixels) value = pixel(engine);
  for (int i = 0; i < 1000; ++i) synthetic.labels.push_back(i % 10);
  config.snip_batches = 10;
  auto snip = pruning::ComputeMask(config, network, parameters, synthetic, /*seed=*/0, /*threads=*/2);
  PARSITY_CHECK_OK(snip.status());
  std::vector<double> densities;
  for (const nn::ParameterView& view : network.layout().views()) {
    int64_t kept = 0;
    for (int64_t i = 0; i < view.size; ++i) kept += snip->is_kept(view.offset + i) ? 1 : 0;
    densities.push_back(static_cast<double>(kept) / static_cast<double>(view.size));
  }
  std::cerr << "training_step_benchmark: " << network_name << " sparsity " << sparsity
            << ": random mask with SNIP's per-layer densities on synthetic data\n";
  return masks->emplace(key, RandomMaskWithDensities(network.layout(), densities, 2)).first->second;
}

void TrainingStep(benchmark::State& state, const std::string& network_name, double sparsity, int64_t batch_size,
                  int threads) {
  Setup setup = MakeSetup(network_name, batch_size);
  const nn::Network& network = *setup.network;
  AlignedFloatVector gradient(setup.parameters.size());
  const float* pixels = setup.examples.pixels.data();
  const int32_t* labels = setup.examples.labels.data();
  // SGD, with the masked update under `update_mask` (null: the plain update).
  auto sgd = [&](const nn::Mask* update_mask) {
    auto optimizer = optimizers::CreateOptimizer({.name = "sgd"}, network.parameter_count(), update_mask);
    PARSITY_CHECK_OK(optimizer.status());
    return std::shared_ptr<optimizers::Optimizer>(*std::move(optimizer));
  };
  if (sparsity == 0) {
    GradientEvaluator evaluator(&network, {.threads = threads, .max_chunk = 256});
    const std::shared_ptr<optimizers::Optimizer> optimizer = sgd(nullptr);
    for (auto _ : state) {
      evaluator.GradientSum(setup.parameters, pixels, labels, batch_size, absl::MakeSpan(gradient));
      optimizer->ScaledStep(1e-4f, 1.0f / static_cast<float>(batch_size), gradient, absl::MakeSpan(setup.parameters));
      benchmark::ClobberMemory();
    }
    SetRates(state, batch_size, network.TrainingFlopsPerExample());
    return;
  }
  const nn::Mask& mask = SnipMask(network_name, network, setup.parameters, sparsity);
  mask.Apply(absl::MakeSpan(setup.parameters));
  // As one-process trials make it (trainer.cc): layers whose products all run sparse keep their weights packed, and
  // the first layer packs for its dense_packed kernels where that measured faster at this batch.
  auto plan = nn::SparsePlan::Create(network, mask, {.pack_weights = true, .step_batch = batch_size});
  PARSITY_CHECK_OK(plan.status());
  // Three trainers of the same network on copies of its parameters: unpruned (dense kernels, plain update), pruned on
  // the dense kernels with the masked update (the step before sparse execution existed), and pruned on its plan.
  struct Contender {
    AlignedFloatVector parameters;
    const nn::SparsePlan* plan;
    std::shared_ptr<optimizers::Optimizer> optimizer;
  };
  auto contender = [&](const nn::SparsePlan* contender_plan, std::shared_ptr<optimizers::Optimizer> optimizer) {
    Contender result;
    result.parameters.assign(setup.parameters.begin(), setup.parameters.end());
    if (contender_plan != nullptr) contender_plan->ToPlanOrder(absl::MakeSpan(result.parameters));
    result.plan = contender_plan;
    result.optimizer = std::move(optimizer);
    return result;
  };
  auto dense_plan = nn::SparsePlan::Create(network, mask, {.selection = nn::KernelSelection::kDense});
  PARSITY_CHECK_OK(dense_plan.status());
  std::vector<Contender> contenders;
  contenders.push_back(contender(nullptr, sgd(nullptr)));
  contenders.push_back(contender(dense_plan->get(), sgd(&mask)));
  // SGD keeps no state but its mask's lines, so where the plan keeps the network's order (its mask is then the same)
  // the pruned contenders share one optimizer, and with it the memory of those lines (see below).
  contenders.push_back(contender(plan->get(), (*plan)->reordered() ? sgd(&(*plan)->mask()) : contenders[1].optimizer));
  // The contenders take turns on one parameter buffer and one evaluator (its workspaces), each copying its own
  // parameters in before its turn and out after it: where a buffer lands in memory moves the step's time by up to 10%
  // for the buffer's whole life, so on separate buffers, or with separate evaluators, two identical contenders read up
  // to 12% apart however finely the rounds interleave (training/README.md, "How far to trust a cell").
  AlignedFloatVector shared_parameters(setup.parameters.size());
  GradientEvaluator evaluator(&network, {.threads = threads, .max_chunk = 256, .sparse_plan = plan->get()});
  auto enter = [&](const Contender& c) {
    std::copy(c.parameters.begin(), c.parameters.end(), shared_parameters.begin());
    PARSITY_CHECK_OK(evaluator.UseSparsePlan(c.plan));
  };
  auto leave = [&](Contender& c) {
    std::copy(shared_parameters.begin(), shared_parameters.end(), c.parameters.begin());
  };
  auto step = [&](Contender& c) {
    evaluator.GradientSum(absl::MakeConstSpan(shared_parameters), pixels, labels, batch_size,
                          absl::MakeSpan(gradient));
    c.optimizer->ScaledStep(1e-4f, 1.0f / static_cast<float>(batch_size), gradient,
                            absl::MakeSpan(shared_parameters));
  };
  // Speed-ups from interleaved rounds (each contender timed in turn for about 0.1 s, at least one step), the median
  // of the rounds' ratios: slow drifts of the machine hit all three alike. Google Benchmark calls this function
  // several times per cell to size its timing loop; the rounds run in the first call only.
  struct Speedups {
    double over_dense;
    double over_masked_dense;
  };
  static auto* measured = new std::map<std::tuple<std::string, double, int64_t, int>, Speedups>();
  const auto cell = std::make_tuple(network_name, sparsity, batch_size, threads);
  if (measured->find(cell) == measured->end()) {
    constexpr int kRounds = 21;
    for (Contender& c : contenders) {  // Warm-up.
      enter(c);
      step(c);
      leave(c);
    }
    enter(contenders[0]);
    const auto probe = std::chrono::steady_clock::now();
    step(contenders[0]);
    const double probe_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - probe).count();
    leave(contenders[0]);
    const int64_t steps_per_round = std::max<int64_t>(1, std::llround(0.1 / std::max(probe_seconds, 1e-7)));
    std::vector<double> over_dense, over_masked_dense;
    for (int round = 0; round < kRounds; ++round) {
      double seconds[3];
      for (int position = 0; position < 3; ++position) {
        const int c = (position + round) % 3;
        enter(contenders[c]);
        const auto start = std::chrono::steady_clock::now();
        for (int64_t n = 0; n < steps_per_round; ++n) step(contenders[c]);
        seconds[c] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        leave(contenders[c]);
      }
      over_dense.push_back(seconds[0] / seconds[2]);
      over_masked_dense.push_back(seconds[1] / seconds[2]);
    }
    auto median = [](std::vector<double> values) {
      std::sort(values.begin(), values.end());
      return values[values.size() / 2];
    };
    (*measured)[cell] = {median(over_dense), median(over_masked_dense)};
  }
  enter(contenders[2]);
  for (auto _ : state) {
    step(contenders[2]);
    benchmark::ClobberMemory();
  }
  SetRates(state, batch_size, network.TrainingFlopsPerExample());
  state.counters["speedup_over_dense"] = measured->at(cell).over_dense;
  state.counters["speedup_over_masked_dense"] = measured->at(cell).over_masked_dense;
  state.SetLabel(nn::SparsePlanJson((*plan)->Describe(batch_size)));
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
      for (const double sparsity : {0.0, 0.5, 0.7, 0.9, 0.95, 0.98}) {
        for (const int64_t batch : {2, 8, 32, 128, 512, 2048}) {
          benchmark::RegisterBenchmark(absl::StrCat("TrainingStep/", network, "/sparsity:", sparsity,
                                                    "/batch:", batch, "/threads:", threads)
                                           .c_str(),
                                       [=](benchmark::State& state) {
                                         TrainingStep(state, network, sparsity, batch, threads);
                                       })
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        }
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
