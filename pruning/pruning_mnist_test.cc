// The paper's setting on real MNIST: Simple-CNN pruned to 90% sparsity by SNIP over the whole training set (batches
// of 100) still trains with plain SGD (lr 0.05, batch 128) to 5% validation error within a modest budget.
#include <chrono>
#include <iostream>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "pruning/mask_report.h"
#include "pruning/pruning.h"
#include "tools/base/status_matchers.h"
#include "training/data/dataset.h"
#include "training/nn/networks.h"
#include "training/trainer/trainer.h"

namespace parsity::pruning {
namespace {

TEST(PruningMnistTest, SnipNinetyPercentSimpleCnnTrainsToFivePercentError) {
  ASSERT_OK_AND_ASSIGN(const data::Dataset mnist, data::LoadDataset("mnist", ""));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<nn::Network> network, nn::CreateNetwork("simple_cnn"));
  std::vector<float> parameters(network->parameter_count());
  trainer::InitializeParameters(*network, /*seed=*/0, absl::MakeSpan(parameters));

  PruningConfig config;
  config.scheme = "snip";
  config.sparsity = 0.9;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(const nn::Mask mask,
                       ComputeMask(config, *network, parameters, mnist.train, /*seed=*/0, /*threads=*/2));
  const double snip_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const MaskReport report = ReportMask(mask, network->layout(), config.sparsity, config.prune_biases);
  std::cerr << "SNIP over " << mnist.train.size() << " examples: " << snip_seconds << " s\n" << MaskReportText(report);
  EXPECT_EQ(mask.kept_count(), 6235);  // round(62346 * 0.1)
  mask.Apply(absl::MakeSpan(parameters));

  trainer::TrainerConfig trainer_config;
  trainer_config.batch_size = 128;
  trainer_config.max_steps = 1500;
  trainer_config.check_interval = 100;
  trainer_config.goal_error = 0.05;
  trainer_config.optimizer.name = "sgd";
  trainer_config.schedule.initial_learning_rate = 0.05f;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<trainer::Trainer> trainer,
                       trainer::Trainer::Create(trainer_config, network.get(), &mnist, &mask));
  const trainer::TrialResult result = trainer->Train(absl::MakeSpan(parameters));
  std::cerr << "steps to 5% error: " << (result.steps_to_result ? *result.steps_to_result : -1) << ", "
            << result.wall_seconds << " s\n";
  ASSERT_EQ(result.status, trainer::TrialStatus::kComplete)
      << "final validation error " << result.final_validation_error;
  EXPECT_LE(result.checks.back().validation_error, 0.05);
  for (int64_t j = 0; j < mask.size(); ++j) {
    if (!mask.is_kept(j)) {
      ASSERT_EQ(parameters[j], 0.0f) << j;
    }
  }
}

}  // namespace
}  // namespace parsity::pruning
