#include "training/trainer/validation_check.h"

#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/data/dataset.h"
#include "training/data/synthetic_examples.h"
#include "training/nn/networks.h"
#include "training/trainer/trainer.h"

namespace parsity::trainer {
namespace {

TEST(MaxErrorsWithinTest, IsTheBoundaryOfTheTrainersComparison) {
  for (const int64_t examples : {1, 3, 7, 100, 500, 9999, 10000, 60000}) {
    for (const double goal : {1e-9, 0.001, 0.01, 0.02, 0.03, 0.1, 0.3, 0.5, 0.9, 0.999999}) {
      const int64_t max_errors = MaxErrorsWithin(goal, examples);
      ASSERT_GE(max_errors, 0);  // 0 errors always meet a positive goal.
      EXPECT_LE(static_cast<double>(max_errors) / static_cast<double>(examples), goal) << goal << " " << examples;
      if (max_errors < examples) {
        EXPECT_GT(static_cast<double>(max_errors + 1) / static_cast<double>(examples), goal)
            << goal << " " << examples;
      }
    }
  }
  // Products that round: 0.03 x 100 is 3.0000000000000004 and 0.07 x 100 is 7.000000000000001 in double.
  EXPECT_EQ(MaxErrorsWithin(0.03, 100), 3);
  EXPECT_EQ(MaxErrorsWithin(0.07, 100), 7);
  EXPECT_EQ(MaxErrorsWithin(0.02, 10000), 200);
}

// P simulated ranks on threads: SumScalars waits for all of them and returns the sums, added in rank order.
class ThreadRanks {
 public:
  explicit ThreadRanks(int size) : size_(size), contributions_(size) {}

  class Reducer final : public GradientReducer {
   public:
    Reducer(ThreadRanks* ranks, int rank) : ranks_(ranks), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return ranks_->size_; }
    void SumGradients(absl::Span<float>) override { ADD_FAILURE() << "a check sums no gradients"; }
    void SumExact(ExactSum*) override { ADD_FAILURE() << "a check sums no gradients"; }
    void SumScalars(absl::Span<double> values) override { ranks_->Sum(rank_, values); }
    absl::Status CheckParametersIdentical(absl::Span<const float>) override { return absl::OkStatus(); }
    int64_t bytes_communicated() const override { return 0; }

   private:
    ThreadRanks* ranks_;
    int rank_;
  };

 private:
  void Sum(int rank, absl::Span<double> values) {
    std::unique_lock<std::mutex> lock(mutex_);
    const int64_t generation = generation_;
    contributions_[rank].assign(values.begin(), values.end());
    if (++arrived_ == size_) {
      sums_.assign(values.size(), 0.0);
      for (const std::vector<double>& part : contributions_) {
        for (size_t i = 0; i < part.size(); ++i) sums_[i] += part[i];
      }
      arrived_ = 0;
      ++generation_;
      changed_.notify_all();
    } else {
      changed_.wait(lock, [&] { return generation_ != generation; });
    }
    std::copy(sums_.begin(), sums_.end(), values.begin());
  }

  const int size_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0;
  int64_t generation_ = 0;
  std::vector<std::vector<double>> contributions_;
  std::vector<double> sums_;
};

class ValidationCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(network_, nn::CreateNetwork("lenet_300_100"));
    dataset_ = data::MakePatchDataset(2000, 500, /*mislabel_every=*/50);
    parameters_.resize(network_->parameter_count());
    InitializeParameters(*network_, 0, absl::MakeSpan(parameters_));
    // A few steps of training: a validation error well inside (0, 1), so that both outcomes of a check occur.
    TrainerConfig config;
    config.batch_size = 32;
    config.max_steps = 12;
    config.check_interval = 12;
    config.goal_error = 0.01;
    config.optimizer.name = "sgd";
    config.schedule.name = "constant";
    config.schedule.initial_learning_rate = 0.02f;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Trainer> trainer, Trainer::Create(config, network_.get(), &dataset_, nullptr));
    const TrialResult result = trainer->Train(absl::MakeSpan(parameters_));
    ASSERT_EQ(result.checks.size(), 1u);
    full_errors_ = std::llround(result.checks[0].validation_error * 500);
    ASSERT_GT(full_errors_, 60);
    ASSERT_LT(full_errors_, 440);
  }

  CheckEvaluation Full() {
    GradientEvaluator evaluator(network_.get(), {});
    ValidationCheck check(&dataset_.validation, &evaluator, nullptr, {.early_exit = false});
    return check.Run(parameters_, std::numeric_limits<int64_t>::max());
  }

  std::unique_ptr<nn::Network> network_;
  data::Dataset dataset_;
  std::vector<float> parameters_;
  int64_t full_errors_ = 0;
};

TEST_F(ValidationCheckTest, FullCheckSeesEveryExample) {
  const CheckEvaluation full = Full();
  EXPECT_EQ(full.examples, 500);
  EXPECT_EQ(full.evaluated, 500);
  EXPECT_FALSE(full.exited_early());
  EXPECT_EQ(full.errors, full_errors_);
  GradientEvaluator evaluator(network_.get(), {});
  const Evaluation direct = evaluator.Evaluate(parameters_, dataset_.validation);
  EXPECT_EQ(full.loss_sum, direct.loss_sum);
  EXPECT_EQ(full.mean_loss(), direct.mean_loss);
}

TEST_F(ValidationCheckTest, EarlyExitDecidesAsTheFullCheckDoes) {
  const CheckEvaluation full = Full();
  for (const int threads : {1, 2}) {
    for (const int64_t round : {1, 16, 100, 1000}) {
      for (const int64_t max_errors : {int64_t{0}, full_errors_ / 2, full_errors_ - 1, full_errors_,
                                       full_errors_ + 1, int64_t{500}}) {
        SCOPED_TRACE(::testing::Message() << threads << " threads, rounds of " << round << ", max " << max_errors);
        GradientEvaluator evaluator(network_.get(), {.threads = threads});
        ValidationCheck check(&dataset_.validation, &evaluator, nullptr,
                              {.early_exit = true, .round_examples = round});
        const CheckEvaluation early = check.Run(parameters_, max_errors);
        EXPECT_EQ(early.examples, 500);
        EXPECT_EQ(early.errors <= max_errors, full.errors <= max_errors);
        if (full.errors <= max_errors) {
          // A check that can complete the trial sees everything, and counts what the full check counts.
          EXPECT_EQ(early.evaluated, 500);
          EXPECT_EQ(early.errors, full.errors);
          EXPECT_NEAR(early.loss_sum, full.loss_sum, 1e-9 * full.loss_sum);
        } else {
          // It stopped within one round of passing max_errors: a lower bound, above the goal.
          EXPECT_GT(early.errors, max_errors);
          EXPECT_LE(early.errors, full.errors);
          EXPECT_LE(early.errors, max_errors + round);
          EXPECT_EQ(early.evaluated % round == 0 || early.evaluated == 500, true);
        }
      }
    }
  }
}

TEST_F(ValidationCheckTest, ExamplesWrongLastTimeComeFirst) {
  GradientEvaluator evaluator(network_.get(), {});
  ValidationCheck check(&dataset_.validation, &evaluator, nullptr, {.early_exit = true, .round_examples = 16});
  // The first check goes by index and learns every example's outcome (max_errors = N never exits).
  ASSERT_EQ(check.Run(parameters_, 500).evaluated, 500);
  // Now only misclassified examples lead: each round up to max_errors + 1 is all errors.
  const CheckEvaluation second = check.Run(parameters_, 40);
  EXPECT_EQ(second.evaluated, 48);
  EXPECT_EQ(second.errors, 48);
  // By index, the same decision needs more examples (they are not all wrong).
  ValidationCheck fresh(&dataset_.validation, &evaluator, nullptr, {.early_exit = true, .round_examples = 16});
  const CheckEvaluation by_index = fresh.Run(parameters_, 40);
  EXPECT_GT(by_index.evaluated, 48);
  EXPECT_GT(by_index.errors, 40);
}

TEST_F(ValidationCheckTest, StopsAtANonFiniteLoss) {
  std::vector<float> diverged = parameters_;
  for (float& value : diverged) value = std::numeric_limits<float>::quiet_NaN();
  GradientEvaluator evaluator(network_.get(), {});
  ValidationCheck check(&dataset_.validation, &evaluator, nullptr, {.early_exit = true, .round_examples = 16});
  const CheckEvaluation early = check.Run(diverged, 500);  // No error count could stop it.
  EXPECT_EQ(early.evaluated, 16);
  EXPECT_FALSE(std::isfinite(early.mean_loss()));
  ValidationCheck full_check(&dataset_.validation, &evaluator, nullptr, {.early_exit = false});
  EXPECT_FALSE(std::isfinite(full_check.Run(diverged, 500).mean_loss()));
}

// Ranks each own a shard and an order; every rank stops after the same round with the one-process decision.
TEST_F(ValidationCheckTest, RanksDecideTogether) {
  const CheckEvaluation full = Full();
  for (const int ranks : {2, 3}) {
    for (const int64_t max_errors : {int64_t{10}, full_errors_ - 1, full_errors_}) {
      SCOPED_TRACE(::testing::Message() << ranks << " ranks, max " << max_errors);
      ThreadRanks group(ranks);
      std::vector<CheckEvaluation> seen(ranks);
      std::vector<std::thread> threads;
      for (int rank = 0; rank < ranks; ++rank) {
        threads.emplace_back([&, rank] {
          ThreadRanks::Reducer reducer(&group, rank);
          GradientEvaluator evaluator(network_.get(), {});
          ValidationCheck check(&dataset_.validation, &evaluator, &reducer,
                                {.early_exit = true, .round_examples = 16});
          check.Run(parameters_, 500);  // Learns the outcomes, as earlier checks of a trial would.
          seen[rank] = check.Run(parameters_, max_errors);
        });
      }
      for (std::thread& thread : threads) thread.join();
      for (int rank = 0; rank < ranks; ++rank) {
        EXPECT_EQ(seen[rank].evaluated, seen[0].evaluated);
        EXPECT_EQ(seen[rank].errors, seen[0].errors);
        EXPECT_EQ(seen[rank].loss_sum, seen[0].loss_sum);
      }
      EXPECT_EQ(seen[0].errors <= max_errors, full.errors <= max_errors);
      if (full.errors <= max_errors) {
        EXPECT_EQ(seen[0].evaluated, 500);
        EXPECT_EQ(seen[0].errors, full.errors);
      } else {
        EXPECT_LT(seen[0].evaluated, 500);
      }
    }
  }
}

}  // namespace
}  // namespace parsity::trainer
