// A sparse trial and the masked-dense trial of the same config reach the goal at the same step: MNIST, Simple-CNN,
// SGD at learning rate 0.1, SNIP at sparsity 0.9 over the whole training set (seed 0), goal error 0.02, batch sizes
// 32 and 128. The sparse kernels give the dense kernels' values exactly, so the two trials are the same trial: every
// check and the final parameters agree too. Skipped, with a message, where MNIST is not installed.
#include <cstdint>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "pruning/pruning.h"
#include "tools/base/status_matchers.h"
#include "training/data/dataset.h"
#include "training/nn/layer.h"
#include "training/nn/networks.h"
#include "training/nn/sparse_plan.h"
#include "training/trainer/trainer.h"

namespace parsity::trainer {
namespace {

// Trains the sparse and the masked-dense trial at `batch_size` and compares them. One test per batch size, so that
// the two run as separate shards (BUILD: shard_count), in parallel, each a few minutes.
void ExpectSparseAndMaskedDenseTrialsAgree(int64_t batch_size) {
  if (!nn::HasDirectKernels()) GTEST_SKIP() << "this build has no sparse kernels (no AVX-512): both trials run dense";
  absl::StatusOr<data::Dataset> loaded = data::LoadDataset("mnist", "");
  if (!loaded.ok()) GTEST_SKIP() << "MNIST is not installed (run tools/bootstrap.sh): " << loaded.status().message();
  const data::Dataset& mnist = *loaded;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<nn::Network> network, nn::CreateNetwork("simple_cnn"));
  std::vector<float> initial(network->parameter_count());
  InitializeParameters(*network, /*seed=*/0, absl::MakeSpan(initial));
  pruning::PruningConfig pruning_config;
  pruning_config.scheme = "snip";
  pruning_config.sparsity = 0.9;
  ASSERT_OK_AND_ASSIGN(const nn::Mask mask,
                       pruning::ComputeMask(pruning_config, *network, initial, mnist.train, /*seed=*/0, 1));
  mask.Apply(absl::MakeSpan(initial));
  TrainerConfig config;
  config.batch_size = batch_size;
  config.max_steps = 12000;
  config.goal_error = 0.02;
  config.optimizer.name = "sgd";
  config.schedule.initial_learning_rate = 0.1f;
  std::vector<TrialResult> results;
  std::vector<std::vector<float>> final_parameters;
  for (const nn::KernelSelection selection : {nn::KernelSelection::kMeasured, nn::KernelSelection::kDense}) {
    config.sparse_kernels = selection;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Trainer> trainer, Trainer::Create(config, network.get(), &mnist, &mask));
    ASSERT_NE(trainer->sparse_plan(), nullptr);
    std::vector<float> parameters = initial;
    results.push_back(trainer->Train(absl::MakeSpan(parameters)));
    final_parameters.push_back(std::move(parameters));
  }
  const TrialResult& sparse = results[0];
  const TrialResult& dense = results[1];
  ASSERT_EQ(sparse.status, TrialStatus::kComplete);
  EXPECT_EQ(sparse.status, dense.status);
  EXPECT_EQ(sparse.steps_to_result, dense.steps_to_result);
  EXPECT_EQ(sparse.steps, dense.steps);
  ASSERT_EQ(sparse.checks.size(), dense.checks.size());
  for (size_t c = 0; c < sparse.checks.size(); ++c) {
    EXPECT_EQ(sparse.checks[c].validation_error, dense.checks[c].validation_error) << "check " << c;
    EXPECT_EQ(sparse.checks[c].validation_loss, dense.checks[c].validation_loss) << "check " << c;
  }
  EXPECT_TRUE(final_parameters[0] == final_parameters[1]);
}

TEST(SparseTrialMnistTest, SparseAndMaskedDenseTrialsReachTheGoalAtTheSameStepAtBatch32) {
  ExpectSparseAndMaskedDenseTrialsAgree(32);
}

TEST(SparseTrialMnistTest, SparseAndMaskedDenseTrialsReachTheGoalAtTheSameStepAtBatch128) {
  ExpectSparseAndMaskedDenseTrialsAgree(128);
}

}  // namespace
}  // namespace parsity::trainer
