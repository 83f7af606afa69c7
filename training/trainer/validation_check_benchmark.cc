// The cost of one validation check of Simple-CNN on MNIST's 6,000 validation examples (synthetic pixels of the same
// shape when MNIST is not installed), goal 0.02 (at most 120 errors), one thread, dense and 90% pruned (random mask,
// sparse kernels), at validation errors 0.9, 0.1 and 0.03:
//   - full: every example (the protocol's check, --check_early_exit=false);
//   - early_exit/first: early exit with no earlier check, so examples go by index;
//   - early_exit/next: early exit right after a check of the same parameters, so the examples misclassified there
//     come first (the best case; a real trial's next check has moved on by check_interval steps).
// The errors are set exactly by choosing labels against the network's own predictions (the cost of a forward pass
// does not depend on the labels). Counters: examples evaluated and the time relative to the full check.
//
//   bazel run -c opt //training/trainer:validation_check_benchmark
#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "tools/base/check.h"
#include "training/data/dataset.h"
#include "training/data/examples.h"
#include "training/nn/mask.h"
#include "training/nn/networks.h"
#include "training/nn/sparse_plan.h"
#include "training/trainer/gradient_evaluator.h"
#include "training/trainer/trainer.h"
#include "training/trainer/validation_check.h"

namespace parsity::trainer {
namespace {

constexpr double kGoal = 0.02;

data::Examples ValidationExamples() {
  absl::StatusOr<data::Dataset> mnist = data::LoadDataset("mnist", "");
  if (mnist.ok()) return mnist->validation;
  data::Examples examples;
  examples.shape = {28, 28, 1};
  std::mt19937_64 engine(3);
  std::normal_distribution<float> pixel(0.0f, 1.0f);
  examples.pixels.resize(6000 * 784);
  for (float& value : examples.pixels) value = pixel(engine);
  examples.labels.assign(6000, 0);
  return examples;
}

struct Fixture {
  std::unique_ptr<nn::Network> network;
  std::vector<float> parameters;
  std::unique_ptr<nn::Mask> mask;
  std::unique_ptr<nn::SparsePlan> plan;
  data::Examples validation;
};

Fixture MakeFixture(double sparsity) {
  Fixture fixture;
  auto network = nn::CreateNetwork("simple_cnn");
  PARSITY_CHECK_OK(network.status());
  fixture.network = *std::move(network);
  fixture.parameters.resize(fixture.network->parameter_count());
  InitializeParameters(*fixture.network, 0, absl::MakeSpan(fixture.parameters));
  if (sparsity > 0) {
    std::mt19937_64 engine(5);
    std::bernoulli_distribution kept(1 - sparsity);
    std::vector<float> keep(fixture.parameters.size());
    for (float& value : keep) value = kept(engine) ? 1.0f : 0.0f;
    auto mask = nn::Mask::Create(std::move(keep));
    PARSITY_CHECK_OK(mask.status());
    fixture.mask = std::make_unique<nn::Mask>(*std::move(mask));
    fixture.mask->Apply(absl::MakeSpan(fixture.parameters));
    auto plan = nn::SparsePlan::Create(*fixture.network, *fixture.mask, {});
    PARSITY_CHECK_OK(plan.status());
    fixture.plan = *std::move(plan);
  }
  fixture.validation = ValidationExamples();
  return fixture;
}

// Labels with which exactly round(error x N) examples, spread evenly, are misclassified by `fixture`'s network.
void SetError(Fixture& fixture, GradientEvaluator& evaluator, double error) {
  data::Examples& examples = fixture.validation;
  const int64_t count = examples.size();
  // The prediction of each example: the one label of the ten that it gets right.
  std::vector<int32_t> predicted(count, -1);
  std::vector<uint8_t> correct(count);
  const std::vector<int32_t> original = examples.labels;
  for (int32_t label = 0; label < 10; ++label) {
    std::fill(examples.labels.begin(), examples.labels.end(), label);
    evaluator.Evaluate(fixture.parameters, examples.pixels.data(), examples.labels.data(), count, correct.data());
    for (int64_t i = 0; i < count; ++i) {
      if (correct[i]) predicted[i] = label;
    }
  }
  const int64_t errors = std::llround(error * static_cast<double>(count));
  for (int64_t i = 0; i < count; ++i) {
    PARSITY_CHECK(predicted[i] >= 0);
    // Example i is wrong iff floor((i + 1) e) > floor(i e): evenly spread, exactly `errors` of them.
    const bool wrong = ((i + 1) * errors) / count > (i * errors) / count;
    examples.labels[i] = wrong ? (predicted[i] + 1) % 10 : predicted[i];
  }
}

enum class Mode { kFull, kEarlyExitFirst, kEarlyExitNext };

void Check(benchmark::State& state, double sparsity, double error, Mode mode) {
  static auto* fixtures = new std::vector<std::pair<double, std::unique_ptr<Fixture>>>();
  Fixture* fixture = nullptr;
  for (auto& [key, value] : *fixtures) {
    if (key == sparsity) fixture = value.get();
  }
  if (fixture == nullptr) {
    fixtures->emplace_back(sparsity, std::make_unique<Fixture>(MakeFixture(sparsity)));
    fixture = fixtures->back().second.get();
  }
  GradientEvaluator evaluator(fixture->network.get(), {.threads = 1, .sparse_plan = fixture->plan.get()});
  SetError(*fixture, evaluator, error);
  const int64_t max_errors = MaxErrorsWithin(kGoal, fixture->validation.size());
  CheckEvaluation last;
  for (auto _ : state) {
    state.PauseTiming();
    auto check = std::make_unique<ValidationCheck>(&fixture->validation, &evaluator, nullptr,
                                                   ValidationCheckOptions{.early_exit = mode != Mode::kFull});
    if (mode == Mode::kEarlyExitNext) check->Run(fixture->parameters, fixture->validation.size());
    state.ResumeTiming();
    last = check->Run(fixture->parameters, max_errors);
    benchmark::DoNotOptimize(last);
  }
  PARSITY_CHECK(last.errors > max_errors);  // At these errors no check completes.
  state.counters["examples_evaluated"] = static_cast<double>(last.evaluated);
  state.counters["errors_seen"] = static_cast<double>(last.errors);
}

const bool kRegistered = [] {
  for (const double sparsity : {0.0, 0.9}) {
    for (const double error : {0.9, 0.1, 0.03}) {
      for (const auto& [mode, name] : {std::pair{Mode::kFull, "full"}, std::pair{Mode::kEarlyExitFirst, "early_exit/first"},
                                       std::pair{Mode::kEarlyExitNext, "early_exit/next"}}) {
        benchmark::RegisterBenchmark(
            absl::StrCat("ValidationCheck/simple_cnn/sparsity:", sparsity, "/error:", error, "/", name).c_str(),
            [=](benchmark::State& state) { Check(state, sparsity, error, mode); })
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
  return true;
}();

}  // namespace
}  // namespace parsity::trainer
