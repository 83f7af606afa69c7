// Whole networks under SNIP masks run sparse (training/nn/sparse_plan.h): for Simple-CNN, ResNet-8 and
// LeNet-300-100 at sparsities 0.5, 0.9 and 0.98, the masked network's gradient sum, loss and evaluation through
// the sparse plan equal those of the dense kernels on the same pruned weights, at batches 1, 2, 7, 16 and 256.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pruning/pruning.h"
#include "tools/base/status_matchers.h"
#include "training/data/examples.h"
#include "training/nn/internal/sparse_kernels.h"
#include "training/nn/networks.h"
#include "training/nn/sparse_plan.h"

namespace parsity::pruning {
namespace {

data::Examples GaussianExamples(const nn::ImageShape& shape, int64_t count, uint64_t seed) {
  data::Examples examples;
  examples.shape = {static_cast<int>(shape.height), static_cast<int>(shape.width), static_cast<int>(shape.channels)};
  std::mt19937_64 engine(seed);
  std::normal_distribution<float> pixel(0.0f, 1.0f);
  examples.pixels.resize(count * shape.size());
  for (float& value : examples.pixels) value = pixel(engine);
  for (int64_t i = 0; i < count; ++i) examples.labels.push_back(static_cast<int32_t>((i * 7) % 10));
  return examples;
}

class SparseExecutionTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!nn_internal::HasSparseKernels()) GTEST_SKIP() << "this build has no sparse kernels (no AVX-512)";
  }
};

TEST_P(SparseExecutionTest, SnipMaskedNetworkEqualsDenseKernels) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<nn::Network> network, nn::CreateNetwork(GetParam()));
  const data::Examples examples = GaussianExamples(network->input_shape(), 256, 3);
  for (const double sparsity : {0.5, 0.9, 0.98}) {
    std::vector<float> parameters(network->parameter_count());
    std::mt19937_64 engine(11);
    network->Initialize(engine, absl::MakeSpan(parameters));
    PruningConfig config;
    config.scheme = "snip";
    config.sparsity = sparsity;
    config.snip_batches = 2;
    ASSERT_OK_AND_ASSIGN(const nn::Mask mask, ComputeMask(config, *network, parameters, examples, 0, 1));
    mask.Apply(absl::MakeSpan(parameters));
    for (const nn::KernelSelection selection : {nn::KernelSelection::kSparse, nn::KernelSelection::kMeasured}) {
      ASSERT_OK_AND_ASSIGN(std::unique_ptr<nn::SparsePlan> plan,
                           nn::SparsePlan::Create(*network, mask, {.selection = selection, .repetitions = 1}));
      const std::unique_ptr<nn::Workspace> sparse_workspace = network->CreateWorkspace(256, &plan->layers());
      const std::unique_ptr<nn::Workspace> dense_workspace = network->CreateWorkspace(256);
      for (const int64_t batch : {1, 2, 7, 16, 256}) {
        SCOPED_TRACE(GetParam() + " sparsity " + std::to_string(sparsity) + " " +
                     nn::KernelSelectionName(selection) + " batch " + std::to_string(batch));
        std::vector<float> sparse_gradient(parameters.size(), 0.0f), dense_gradient(parameters.size(), 0.0f);
        const double sparse_loss = network->AccumulateGradient(parameters, examples.pixels.data(),
                                                               examples.labels.data(), batch, sparse_workspace.get(),
                                                               absl::MakeSpan(sparse_gradient));
        const double dense_loss = network->AccumulateGradient(parameters, examples.pixels.data(),
                                                              examples.labels.data(), batch, dense_workspace.get(),
                                                              absl::MakeSpan(dense_gradient));
        EXPECT_EQ(sparse_loss, dense_loss);
        int64_t differences = 0;
        for (size_t i = 0; i < parameters.size(); ++i) {
          if (mask.is_kept(static_cast<int64_t>(i)) && sparse_gradient[i] != dense_gradient[i]) ++differences;
        }
        EXPECT_EQ(differences, 0) << "kept gradient entries differ";
        int64_t sparse_correct = 0, dense_correct = 0;
        EXPECT_EQ(network->Evaluate(parameters, examples.pixels.data(), examples.labels.data(), batch,
                                    sparse_workspace.get(), &sparse_correct),
                  network->Evaluate(parameters, examples.pixels.data(), examples.labels.data(), batch,
                                    dense_workspace.get(), &dense_correct));
        EXPECT_EQ(sparse_correct, dense_correct);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Networks, SparseExecutionTest, ::testing::Values("simple_cnn", "resnet8", "lenet_300_100"));

}  // namespace
}  // namespace parsity::pruning
