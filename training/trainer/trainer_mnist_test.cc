// A small real run: Simple-CNN with plain SGD on MNIST (the paper's first workload) learns, within a modest budget,
// to the 5% validation error that any working engine reaches quickly.
#include <vector>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/data/dataset.h"
#include "training/nn/networks.h"
#include "training/trainer/trainer.h"

namespace parsity::trainer {
namespace {

TEST(TrainerMnistTest, SimpleCnnWithSgdReachesFivePercentError) {
  ASSERT_OK_AND_ASSIGN(const data::Dataset mnist, data::LoadDataset("mnist", ""));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<nn::Network> network, nn::CreateNetwork("simple_cnn"));
  TrainerConfig config;
  config.batch_size = 128;
  config.max_steps = 1000;
  config.check_interval = 100;
  config.goal_error = 0.05;
  config.optimizer.name = "sgd";
  config.schedule.initial_learning_rate = 0.05f;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Trainer> trainer, Trainer::Create(config, network.get(), &mnist, nullptr));
  std::vector<float> parameters(network->parameter_count());
  InitializeParameters(*network, /*seed=*/0, absl::MakeSpan(parameters));
  const TrialResult result = trainer->Train(absl::MakeSpan(parameters));
  ASSERT_EQ(result.status, TrialStatus::kComplete) << "final validation error " << result.final_validation_error;
  EXPECT_LE(result.checks.back().validation_error, 0.05);
  // The first check (100 steps from random weights) has not reached it yet: the goal is really learned.
  EXPECT_GT(result.checks.front().validation_error, 0.05);
}

}  // namespace
}  // namespace parsity::trainer
