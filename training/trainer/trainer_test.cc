#include "training/trainer/trainer.h"

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "tools/base/status_matchers.h"
#include "training/data/dataset.h"
#include "training/data/synthetic_examples.h"
#include "training/nn/networks.h"
#include "training/nn/mask.h"
#include "training/trainer/gradient_reducer.h"
#include "training/trainer/trial_record.h"

namespace parsity::trainer {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::HasSubstr;

// Patch examples (training/data/synthetic_examples.h) with every 50th label wrong, so that the error never falls
// below 2% and goals under that are out of reach.
data::Dataset MakeDataset() { return data::MakePatchDataset(2000, 500, /*mislabel_every=*/50); }

// Below the 2% of wrong labels.
constexpr double kUnreachableGoal = 0.01;

TrainerConfig BaseConfig() {
  TrainerConfig config;
  config.batch_size = 32;
  config.max_steps = 400;
  config.check_interval = 10;
  config.goal_error = 0.05;
  config.optimizer.name = "sgd";
  config.schedule.name = "constant";
  config.schedule.initial_learning_rate = 0.05f;
  return config;
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(network_, nn::CreateNetwork("lenet_300_100"));
    dataset_ = MakeDataset();
  }

  std::vector<float> InitialParameters(uint64_t seed) {
    std::vector<float> parameters(network_->parameter_count());
    InitializeParameters(*network_, seed, absl::MakeSpan(parameters));
    return parameters;
  }

  TrialResult Run(const TrainerConfig& config, std::vector<float>* parameters, const nn::Mask* mask = nullptr,
                  const TrainerHooks& hooks = {}) {
    absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(config, network_.get(), &dataset_, mask);
    EXPECT_THAT(trainer, IsOk());
    return (*trainer)->Train(absl::MakeSpan(*parameters), hooks);
  }

  std::unique_ptr<nn::Network> network_;
  data::Dataset dataset_;
};

TEST_F(TrainerTest, ReachesTheGoalAtACheckAndRecordsEveryCheck) {
  std::vector<float> parameters = InitialParameters(0);
  const TrialResult result = Run(BaseConfig(), &parameters);
  ASSERT_EQ(result.status, TrialStatus::kComplete);
  ASSERT_TRUE(result.steps_to_result.has_value());
  EXPECT_EQ(*result.steps_to_result % 10, 0);
  EXPECT_EQ(result.steps, *result.steps_to_result);
  EXPECT_EQ(result.examples_seen, result.steps * 32);
  ASSERT_EQ(result.checks.size(), static_cast<size_t>(result.steps / 10));
  EXPECT_LE(result.checks.back().validation_error, 0.05);
  // Every earlier check missed the goal: steps-to-result is the first check that reached it.
  for (size_t i = 0; i + 1 < result.checks.size(); ++i) {
    EXPECT_GT(result.checks[i].validation_error, 0.05);
    EXPECT_EQ(result.checks[i].step, static_cast<int64_t>(10 * (i + 1)));
    EXPECT_TRUE(std::isfinite(result.checks[i].mean_training_loss));
  }
  EXPECT_EQ(result.final_validation_error, result.checks.back().validation_error);
}

TEST_F(TrainerTest, SameConfigAndSeedGiveBitIdenticalResults) {
  TrainerConfig config = BaseConfig();
  config.max_steps = 30;
  config.goal_error = kUnreachableGoal;  // Run the whole budget.
  std::vector<float> first = InitialParameters(3);
  std::vector<float> second = InitialParameters(3);
  const TrialResult a = Run(config, &first);
  const TrialResult b = Run(config, &second);
  EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size() * sizeof(float)));
  ASSERT_EQ(a.checks.size(), b.checks.size());
  for (size_t i = 0; i < a.checks.size(); ++i) {
    EXPECT_EQ(a.checks[i].validation_loss, b.checks[i].validation_loss);
    EXPECT_EQ(a.checks[i].mean_training_loss, b.checks[i].mean_training_loss);
  }
  // Another seed is another initialization, hence another trajectory.
  std::vector<float> other = InitialParameters(4);
  Run(config, &other);
  EXPECT_NE(0, std::memcmp(first.data(), other.data(), first.size() * sizeof(float)));
}

TEST_F(TrainerTest, ChunkingAndThreadsDoNotChangeTheTrajectoryBeyondRounding) {
  TrainerConfig config = BaseConfig();
  config.max_steps = 20;
  config.goal_error = kUnreachableGoal;
  std::vector<float> whole = InitialParameters(5);
  Run(config, &whole);
  config.evaluator.max_chunk = 5;  // 32 examples in 7 chunks...
  config.evaluator.threads = 2;    // ...on two threads.
  std::vector<float> chunked = InitialParameters(5);
  Run(config, &chunked);
  double max_difference = 0, max_magnitude = 0;
  for (size_t i = 0; i < whole.size(); ++i) {
    max_difference = std::max(max_difference, static_cast<double>(std::fabs(whole[i] - chunked[i])));
    max_magnitude = std::max(max_magnitude, static_cast<double>(std::fabs(whole[i])));
  }
  // Only the order of float additions differs: 20 steps of rounding differences, far below the weights' scale.
  EXPECT_LT(max_difference, 1e-4 * max_magnitude);
}

TEST_F(TrainerTest, DivergenceIsInfeasible) {
  TrainerConfig config = BaseConfig();
  config.schedule.initial_learning_rate = 1e8f;
  std::vector<float> parameters = InitialParameters(0);
  const TrialResult result = Run(config, &parameters);
  EXPECT_EQ(result.status, TrialStatus::kInfeasible);
  EXPECT_FALSE(result.steps_to_result.has_value());
  EXPECT_LT(result.steps, config.max_steps);
}

// With the exact gradient sum, the thread count changes nothing: the same parameters bit for bit (ranks:
// training/distributed/exact_gradient_sum_test.sh). 32 examples in leaves of 8; the trajectory stays within rounding
// of the float-sum one; a diverging trial still ends INFEASIBLE (its too-large gradient entries make the loss NaN).
TEST_F(TrainerTest, ExactGradientSumIsTheSameOnAnyNumberOfThreads) {
  TrainerConfig config = BaseConfig();
  config.max_steps = 20;
  config.goal_error = kUnreachableGoal;
  config.exact_gradient_sum = true;
  config.evaluator.leaf_examples = 8;
  std::vector<float> one_thread = InitialParameters(5);
  const TrialResult one = Run(config, &one_thread);
  config.evaluator.threads = 2;
  std::vector<float> two_threads = InitialParameters(5);
  const TrialResult two = Run(config, &two_threads);
  EXPECT_EQ(0, std::memcmp(one_thread.data(), two_threads.data(), one_thread.size() * sizeof(float)));
  ASSERT_EQ(one.checks.size(), two.checks.size());
  for (size_t i = 0; i < one.checks.size(); ++i) {
    EXPECT_EQ(one.checks[i].mean_training_loss, two.checks[i].mean_training_loss);
  }
  // The float sums on two threads are not bit-identical to one thread (what the exact sum fixes).
  config.exact_gradient_sum = false;
  config.evaluator.max_chunk = 8;
  std::vector<float> float_one = InitialParameters(5), float_two = InitialParameters(5);
  Run(config, &float_two);
  config.evaluator.threads = 1;
  Run(config, &float_one);
  EXPECT_NE(0, std::memcmp(float_one.data(), float_two.data(), float_one.size() * sizeof(float)));
  double max_difference = 0, max_magnitude = 0;
  for (size_t i = 0; i < one_thread.size(); ++i) {
    max_difference = std::max(max_difference, static_cast<double>(std::fabs(one_thread[i] - float_one[i])));
    max_magnitude = std::max(max_magnitude, static_cast<double>(std::fabs(float_one[i])));
  }
  EXPECT_LT(max_difference, 1e-4 * max_magnitude);

  // Pruned: the compact sum over the kept entries, the same on any number of threads; pruned weights stay 0.
  config.exact_gradient_sum = true;
  config.evaluator.threads = 1;
  std::vector<float> mask_values(network_->parameter_count(), 1.0f);
  for (size_t i = 0; i < mask_values.size(); i += 3) mask_values[i] = 0.0f;
  ASSERT_OK_AND_ASSIGN(const nn::Mask mask, nn::Mask::Create(mask_values));
  std::vector<float> pruned_one = InitialParameters(6), pruned_two = InitialParameters(6);
  mask.Apply(absl::MakeSpan(pruned_one));
  mask.Apply(absl::MakeSpan(pruned_two));
  Run(config, &pruned_one, &mask);
  config.evaluator.threads = 2;
  Run(config, &pruned_two, &mask);
  EXPECT_EQ(0, std::memcmp(pruned_one.data(), pruned_two.data(), pruned_one.size() * sizeof(float)));
  for (size_t i = 0; i < pruned_one.size(); i += 3) ASSERT_EQ(pruned_one[i], 0.0f) << i;

  config.max_steps = 400;
  config.schedule.initial_learning_rate = 1e8f;
  std::vector<float> diverging = InitialParameters(0);
  const TrialResult diverged = Run(config, &diverging);
  EXPECT_EQ(diverged.status, TrialStatus::kInfeasible);
  EXPECT_LT(diverged.steps, config.max_steps);
}

// Early exit changes what a check looks at, never what the trial decides: the same checks at the same steps, the
// same status and steps-to-result, the same parameters; exited checks record a lower bound above the goal.
TEST_F(TrainerTest, EarlyExitChecksDecideAsFullChecks) {
  for (const double goal : {0.05, kUnreachableGoal}) {
    TrainerConfig config = BaseConfig();
    config.goal_error = goal;
    config.max_steps = 150;
    std::vector<float> full_parameters = InitialParameters(3);
    const TrialResult full = Run(config, &full_parameters);
    config.check_early_exit = true;
    std::vector<float> early_parameters = InitialParameters(3);
    const TrialResult early = Run(config, &early_parameters);
    EXPECT_EQ(early.status, full.status);
    EXPECT_EQ(early.steps_to_result, full.steps_to_result);
    EXPECT_EQ(early.steps, full.steps);
    EXPECT_EQ(0, std::memcmp(early_parameters.data(), full_parameters.data(), full_parameters.size() * 4));
    ASSERT_EQ(early.checks.size(), full.checks.size());
    EXPECT_EQ(full.checks_exited_early, 0);
    EXPECT_EQ(full.validation_examples_evaluated, 500 * static_cast<int64_t>(full.checks.size()));
    EXPECT_GT(early.checks_exited_early, 0);
    int64_t evaluated = 0;
    for (size_t i = 0; i < full.checks.size(); ++i) {
      const Check& a = early.checks[i];
      const Check& b = full.checks[i];
      EXPECT_EQ(b.validation_examples, 500);
      EXPECT_EQ(b.validation_examples_evaluated, 500);
      EXPECT_EQ(a.validation_examples, 500);
      evaluated += a.validation_examples_evaluated;
      if (a.validation_examples_evaluated < 500) {
        EXPECT_GT(a.validation_error, goal);
        EXPECT_LE(a.validation_error, b.validation_error);
      } else {
        EXPECT_EQ(a.validation_error, b.validation_error);
      }
    }
    EXPECT_EQ(early.validation_examples_evaluated, evaluated);
    EXPECT_LT(evaluated, full.validation_examples_evaluated);
  }
  // Divergence is still INFEASIBLE.
  TrainerConfig diverging = BaseConfig();
  diverging.schedule.initial_learning_rate = 1e8f;
  diverging.check_early_exit = true;
  std::vector<float> parameters = InitialParameters(0);
  EXPECT_EQ(Run(diverging, &parameters).status, TrialStatus::kInfeasible);
}

TEST_F(TrainerTest, BudgetRunsOutAsIncompleteWithAFinalCheck) {
  TrainerConfig config = BaseConfig();
  config.max_steps = 25;  // Not a multiple of the check interval: the budget's end is checked too.
  config.goal_error = kUnreachableGoal;
  std::vector<float> parameters = InitialParameters(0);
  const TrialResult result = Run(config, &parameters);
  EXPECT_EQ(result.status, TrialStatus::kIncomplete);
  EXPECT_EQ(result.steps, 25);
  ASSERT_EQ(result.checks.size(), 3u);
  EXPECT_EQ(result.checks.back().step, 25);
  EXPECT_FALSE(result.stopped_by_caller);
}

TEST_F(TrainerTest, HooksSeeEveryStepAndCanStopTheTrial) {
  TrainerConfig config = BaseConfig();
  config.goal_error = kUnreachableGoal;
  int64_t steps_seen = 0;
  bool parameters_moved = true;
  TrainerHooks hooks;
  hooks.after_step = [&](int64_t step, absl::Span<const float> previous, absl::Span<const float> current) {
    EXPECT_EQ(step, steps_seen + 1);
    steps_seen = step;
    parameters_moved = parameters_moved && previous != current;
  };
  hooks.on_check = [](const Check& check) { return check.step < 30; };
  std::vector<float> parameters = InitialParameters(0);
  const TrialResult result = Run(config, &parameters, nullptr, hooks);
  EXPECT_TRUE(result.stopped_by_caller);
  EXPECT_EQ(result.status, TrialStatus::kIncomplete);
  EXPECT_EQ(result.steps, 30);
  EXPECT_EQ(steps_seen, 30);
  EXPECT_TRUE(parameters_moved);
}

TEST_F(TrainerTest, MaskedParametersStayExactlyZero) {
  std::vector<float> keep(network_->parameter_count(), 1.0f);
  for (size_t i = 0; i < keep.size(); i += 3) keep[i] = 0.0f;
  ASSERT_OK_AND_ASSIGN(const nn::Mask mask, nn::Mask::Create(keep));
  for (const char* optimizer : {"sgd", "momentum", "nesterov", "adam"}) {
    TrainerConfig config = BaseConfig();
    config.optimizer.name = optimizer;
    config.schedule.initial_learning_rate = 0.01f;
    config.max_steps = 20;
    config.goal_error = kUnreachableGoal;
    std::vector<float> parameters = InitialParameters(0);
    mask.Apply(absl::MakeSpan(parameters));
    const TrialResult result = Run(config, &parameters, &mask);
    EXPECT_EQ(result.steps, 20) << optimizer;
    for (size_t i = 0; i < keep.size(); i += 3) ASSERT_EQ(parameters[i], 0.0f) << optimizer << " index " << i;
  }
}

TEST_F(TrainerTest, UnprunedInitialParametersTrainAsThePrunedNetworkWhateverTheKernels) {
  std::vector<float> keep(network_->parameter_count(), 1.0f);
  for (size_t i = 0; i < keep.size(); ++i) keep[i] = i % 10 < 7 ? 0.0f : 1.0f;  // 70% pruned.
  ASSERT_OK_AND_ASSIGN(const nn::Mask mask, nn::Mask::Create(keep));
  TrainerConfig config = BaseConfig();
  config.max_steps = 20;
  config.goal_error = kUnreachableGoal;
  std::vector<float> pruned = InitialParameters(2);
  mask.Apply(absl::MakeSpan(pruned));
  config.sparse_kernels = nn::KernelSelection::kDense;
  const TrialResult reference = Run(config, &pruned, &mask);
  // The pruned entries hold their initialization; the trainer must read them as 0 under either kernel choice.
  for (const nn::KernelSelection selection : {nn::KernelSelection::kDense, nn::KernelSelection::kSparse}) {
    config.sparse_kernels = selection;
    std::vector<float> parameters = InitialParameters(2);
    const TrialResult result = Run(config, &parameters, &mask);
    EXPECT_EQ(0, std::memcmp(parameters.data(), pruned.data(), pruned.size() * sizeof(float)))
        << nn::KernelSelectionName(selection);
    ASSERT_EQ(result.checks.size(), reference.checks.size());
    for (size_t i = 0; i < result.checks.size(); ++i) {
      EXPECT_EQ(result.checks[i].validation_loss, reference.checks[i].validation_loss) << i;
      EXPECT_EQ(result.checks[i].mean_training_loss, reference.checks[i].mean_training_loss) << i;
    }
  }
}

// One rank that sums nothing: a trainer with a reducer, in one process.
class SingleRankReducer : public GradientReducer {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void SumGradients(absl::Span<float>) override {}
  void SumExact(ExactSum*) override {}
  void SumScalars(absl::Span<double>) override {}
  absl::Status CheckParametersIdentical(absl::Span<const float>) override { return absl::OkStatus(); }
  int64_t bytes_communicated() const override { return 0; }
};

// One process keeps the weights of layers whose products all run sparse packed in the plan's order (here every
// layer: the selection is kSparse); the trial, its hooks and its final parameters are bit for bit those of the
// masked-dense trial, which keeps the network's layout, for every optimizer (their state lies in the plan's order too),
// with the exact gradient sum, at batches where the first layer would otherwise run its line kernels (4) and where it
// would not (32). A hook with after_step_due sees the same parameters at its due steps only.
TEST_F(TrainerTest, PackedWeightsTrainAsTheNetworkLayout) {
  std::vector<float> keep(network_->parameter_count(), 1.0f);
  for (const nn::ParameterView& view : network_->views()) {
    for (int64_t i = 0; i < view.size; ++i) {
      bool kept = i % 3 != 0;
      if (view.name == "fc1/weights") kept = (i * 7919 % 100) < (i % 300) % 10 * 3 + 1;  // 1-28% by output.
      keep[view.offset + i] = kept ? 1.0f : 0.0f;
    }
  }
  ASSERT_OK_AND_ASSIGN(const nn::Mask mask, nn::Mask::Create(keep));
  auto record = [](std::vector<std::pair<int64_t, uint64_t>>* seen) {
    TrainerHooks hooks;
    hooks.after_step = [seen](int64_t step, absl::Span<const float> previous, absl::Span<const float> current) {
      uint64_t hash = 14695981039346656037ull;
      for (const absl::Span<const float> values : {previous, current}) {
        for (const float value : values) {
          uint32_t bits;
          std::memcpy(&bits, &value, sizeof(bits));
          hash = hash * 1099511628211ull ^ bits;
        }
      }
      seen->emplace_back(step, hash);
    };
    return hooks;
  };
  for (const int64_t batch_size : {4, 32}) {
    for (const char* optimizer : {"sgd", "momentum", "adam"}) {
      for (const bool exact : {false, true}) {
        TrainerConfig config = BaseConfig();
        config.batch_size = batch_size;
        config.max_steps = 30;
        config.goal_error = kUnreachableGoal;
        config.optimizer.name = optimizer;
        config.schedule.initial_learning_rate = 0.01f;
        config.exact_gradient_sum = exact;
        std::vector<std::pair<int64_t, uint64_t>> reference_hook, hook, due_hook;
        config.sparse_kernels = nn::KernelSelection::kDense;
        std::vector<float> reference = InitialParameters(7);
        const TrialResult expected = Run(config, &reference, &mask, record(&reference_hook));
        config.sparse_kernels = nn::KernelSelection::kSparse;
        ASSERT_OK_AND_ASSIGN(std::unique_ptr<Trainer> trainer,
                             Trainer::Create(config, network_.get(), &dataset_, &mask));
        ASSERT_TRUE(trainer->sparse_plan()->reordered());
        std::vector<float> parameters = InitialParameters(7);
        const TrialResult result = trainer->Train(absl::MakeSpan(parameters), record(&hook));
        const std::string label = absl::StrCat(optimizer, exact ? ", exact sum" : "", ", batch ", batch_size);
        EXPECT_EQ(0, std::memcmp(parameters.data(), reference.data(), parameters.size() * sizeof(float))) << label;
        EXPECT_EQ(hook, reference_hook) << label;
        ASSERT_EQ(result.checks.size(), expected.checks.size()) << label;
        for (size_t i = 0; i < result.checks.size(); ++i) {
          EXPECT_EQ(result.checks[i].validation_loss, expected.checks[i].validation_loss) << label << ", check " << i;
          EXPECT_EQ(result.checks[i].mean_training_loss, expected.checks[i].mean_training_loss) << label;
        }
        if (exact || std::string(optimizer) != "sgd") continue;
        TrainerHooks due = record(&due_hook);
        due.after_step_due = [](int64_t step) { return step % 7 == 0; };
        parameters = InitialParameters(7);
        trainer->Train(absl::MakeSpan(parameters), due);
        std::vector<std::pair<int64_t, uint64_t>> due_reference;
        for (const auto& seen : reference_hook) {
          if (seen.first % 7 == 0) due_reference.push_back(seen);
        }
        EXPECT_EQ(due_hook, due_reference) << label;
        EXPECT_EQ(due_hook.size(), 4u) << label;
      }
    }
  }
  // Dense kernels, and ranks (whose plans must agree on one layout), keep the network's layout.
  TrainerConfig config = BaseConfig();
  config.sparse_kernels = nn::KernelSelection::kDense;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Trainer> dense, Trainer::Create(config, network_.get(), &dataset_, &mask));
  EXPECT_FALSE(dense->sparse_plan()->reordered());
  config.sparse_kernels = nn::KernelSelection::kSparse;
  SingleRankReducer reducer;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Trainer> ranked,
                       Trainer::Create(config, network_.get(), &dataset_, &mask, &reducer));
  EXPECT_FALSE(ranked->sparse_plan()->reordered());
}

TEST_F(TrainerTest, InvalidConfigsNameTheField) {
  struct Case {
    void (*mutate)(TrainerConfig*);
    const char* field;
  };
  const Case cases[] = {
      {[](TrainerConfig* c) { c->batch_size = 0; }, "batch_size"},
      {[](TrainerConfig* c) { c->batch_size = 2001; }, "batch_size"},
      {[](TrainerConfig* c) { c->max_steps = 0; }, "max_steps"},
      {[](TrainerConfig* c) { c->check_interval = 0; }, "check_interval"},
      {[](TrainerConfig* c) { c->goal_error = 0; }, "goal_error"},
      {[](TrainerConfig* c) { c->goal_error = 1.5; }, "goal_error"},
      {[](TrainerConfig* c) { c->evaluator.threads = 0; }, "threads"},
      {[](TrainerConfig* c) { c->evaluator.leaf_examples = -1; }, "leaf_examples"},
      {[](TrainerConfig* c) { c->optimizer.name = "lion"; }, "lion"},
      {[](TrainerConfig* c) { c->schedule.initial_learning_rate = -1; }, "learning_rate"},
  };
  for (const Case& test_case : cases) {
    TrainerConfig config = BaseConfig();
    test_case.mutate(&config);
    EXPECT_THAT(Trainer::Create(config, network_.get(), &dataset_, nullptr),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(test_case.field)));
  }
  std::vector<float> wrong_size(10, 1.0f);
  ASSERT_OK_AND_ASSIGN(const nn::Mask small_mask, nn::Mask::Create(wrong_size));
  EXPECT_THAT(Trainer::Create(BaseConfig(), network_.get(), &dataset_, &small_mask),
              StatusIs(absl::StatusCode::kInvalidArgument));
  data::Dataset cifar_shaped = dataset_;
  cifar_shaped.train.shape = {32, 32, 3};
  EXPECT_THAT(Trainer::Create(BaseConfig(), network_.get(), &cifar_shaped, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lenet_300_100")));
}

TEST(TrialRecordTest, JsonAndCsvCarryTheResult) {
  TrialResult result;
  result.status = TrialStatus::kComplete;
  result.steps_to_result = 200;
  result.steps = 200;
  result.examples_seen = 6400;
  result.final_validation_error = 0.015;
  result.checks = {{100, 0.5, 1.25, 1.5, 3200, 0.5, 1000, 32}, {200, 0.015, 0.0625, 0.125, 6400, 1.0, 1000, 1000}};
  result.checks_exited_early = 1;
  result.validation_examples_evaluated = 1032;
  JsonObject object;
  AddTrialResult(result, &object);
  EXPECT_THAT(object.ToString(), HasSubstr(R"("status":"COMPLETE","steps_to_result":200,)"));
  EXPECT_THAT(object.ToString(), HasSubstr(R"("final_validation_error":0.015,"steps":200,"examples_seen":6400)"));
  EXPECT_THAT(object.ToString(), HasSubstr(R"("checks":2,"checks_exited_early":1,"validation_examples_evaluated":1032)"));
  EXPECT_EQ(MeasurementsCsv(result.checks),
            "step,validation_error,validation_loss,training_loss,examples_seen,seconds,validation_examples_evaluated\n"
            "100,0.5,1.25,1.5,3200,0.5,32\n200,0.015,0.0625,0.125,6400,1,1000\n");
  result.status = TrialStatus::kIncomplete;
  result.steps_to_result.reset();
  JsonObject incomplete;
  AddTrialResult(result, &incomplete);
  EXPECT_THAT(incomplete.ToString(), HasSubstr(R"("status":"INCOMPLETE","steps_to_result":null)"));
}

}  // namespace
}  // namespace parsity::trainer
