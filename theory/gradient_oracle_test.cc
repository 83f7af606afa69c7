#include "theory/gradient_oracle.h"

#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "theory/test_problems.h"
#include "tools/base/status_matchers.h"
#include "training/data/examples.h"
#include "training/nn/mask.h"
#include "training/nn/sparse_plan.h"
#include "training/trainer/gradient_evaluator.h"

namespace parsity::theory {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::HasSubstr;

class NetworkGradientOracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    network_ = testing::TinyNetwork();
    examples_ = testing::TinyNetworkExamples(100, /*seed=*/3);
    parameters_.resize(network_->parameter_count());
    std::mt19937_64 engine(5);
    network_->Initialize(engine, absl::MakeSpan(parameters_));
  }

  std::unique_ptr<nn::Network> network_;
  data::Examples examples_;
  std::vector<float> parameters_;
};

TEST_F(NetworkGradientOracleTest, GradientIsTheEvaluatorsMeanGradientOverAllExamples) {
  const trainer::EvaluatorOptions options{.threads = 2, .max_chunk = 16};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NetworkGradientOracle> oracle,
                       NetworkGradientOracle::Create(network_.get(), &examples_, nullptr, options));
  EXPECT_EQ(oracle->dimension(), network_->parameter_count());
  EXPECT_EQ(oracle->example_count(), 100);
  std::vector<float> expected(parameters_.size()), actual(parameters_.size(), 7.0f);
  trainer::GradientEvaluator evaluator(network_.get(), options);
  const double expected_loss = evaluator.MeanGradient(parameters_, examples_.pixels.data(), examples_.labels.data(),
                                                      examples_.size(), absl::MakeSpan(expected));
  EXPECT_EQ(oracle->Gradient(parameters_, absl::MakeSpan(actual)), expected_loss);
  EXPECT_EQ(actual, expected);  // Same evaluator settings: bit-identical.
}

TEST_F(NetworkGradientOracleTest, MaskedGradientIsThePrunedNetworksGradientWhateverTheKernels) {
  const nn::Mask mask = testing::RandomHalfMask(network_->parameter_count(), /*seed=*/11);
  // The pruned network's point m ⊙ w and its dense gradient there: what every masked oracle must return on the
  // kept entries, bit for bit, given w itself (pruned entries non-zero, as a fresh initialization has them).
  std::vector<float> pruned_parameters = parameters_;
  mask.Apply(absl::MakeSpan(pruned_parameters));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NetworkGradientOracle> dense,
                       NetworkGradientOracle::Create(network_.get(), &examples_, nullptr, {}));
  std::vector<float> expected(parameters_.size()), unpruned_gradient(parameters_.size());
  const double expected_loss = dense->Gradient(pruned_parameters, absl::MakeSpan(expected));
  const double unpruned_loss = dense->Gradient(parameters_, absl::MakeSpan(unpruned_gradient));
  EXPECT_NE(unpruned_loss, expected_loss);  // The pruned weights matter to the dense network.

  // Every kernel choice: a plan that runs every product dense, one that runs every product sparse (which never
  // reads a pruned weight), and the oracle's own measured plan.
  for (const nn::KernelSelection selection :
       {nn::KernelSelection::kDense, nn::KernelSelection::kSparse, nn::KernelSelection::kMeasured}) {
    SCOPED_TRACE(nn::KernelSelectionName(selection));
    std::unique_ptr<nn::SparsePlan> plan;
    trainer::EvaluatorOptions options;
    if (selection != nn::KernelSelection::kMeasured) {
      ASSERT_OK_AND_ASSIGN(plan, nn::SparsePlan::Create(*network_, mask, {.selection = selection}));
      options.sparse_plan = plan.get();
    }
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<NetworkGradientOracle> masked,
                         NetworkGradientOracle::Create(network_.get(), &examples_, &mask, options));
    std::vector<float> gradient(parameters_.size(), 7.0f);
    EXPECT_EQ(masked->Gradient(parameters_, absl::MakeSpan(gradient)), expected_loss);
    int64_t differs_from_unpruned = 0;
    for (size_t i = 0; i < parameters_.size(); ++i) {
      ASSERT_EQ(gradient[i], mask.is_kept(i) ? expected[i] : 0.0f) << i;
      differs_from_unpruned += mask.is_kept(i) && gradient[i] != unpruned_gradient[i];
    }
    EXPECT_GT(differs_from_unpruned, 100);  // Not the unpruned network's gradient, masked afterwards.

    const std::vector<int64_t> indices = {7, 3, 7, 60};
    std::vector<float> batch_expected(parameters_.size()), batch_gradient(parameters_.size(), 7.0f);
    const double batch_loss = dense->BatchGradient(pruned_parameters, indices, absl::MakeSpan(batch_expected));
    EXPECT_EQ(masked->BatchGradient(parameters_, indices, absl::MakeSpan(batch_gradient)), batch_loss);
    for (size_t i = 0; i < parameters_.size(); ++i) {
      ASSERT_EQ(batch_gradient[i], mask.is_kept(i) ? batch_expected[i] : 0.0f) << i;
    }
  }
}

TEST_F(NetworkGradientOracleTest, BatchGradientAveragesTheChosenExamplesCountingRepeats) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<NetworkGradientOracle> oracle,
                       NetworkGradientOracle::Create(network_.get(), &examples_, nullptr, {}));
  const size_t d = parameters_.size();
  std::vector<float> g3(d), g40(d), batch(d);
  const int64_t three = 3, forty = 40;
  const double loss3 = oracle->BatchGradient(parameters_, absl::MakeConstSpan(&three, 1), absl::MakeSpan(g3));
  const double loss40 = oracle->BatchGradient(parameters_, absl::MakeConstSpan(&forty, 1), absl::MakeSpan(g40));
  const std::vector<int64_t> indices = {40, 3, 40};
  const double loss = oracle->BatchGradient(parameters_, indices, absl::MakeSpan(batch));
  EXPECT_NEAR(loss, (loss3 + 2 * loss40) / 3, 1e-6 * std::abs(loss));
  double norm = 0;
  for (size_t i = 0; i < d; ++i) norm = std::max(norm, std::abs(static_cast<double>(g3[i]) + 2.0 * g40[i]) / 3);
  for (size_t i = 0; i < d; ++i) {
    // Float sums of three terms: a few ulps of the largest entry.
    EXPECT_NEAR(batch[i], (static_cast<double>(g3[i]) + 2.0 * g40[i]) / 3, 1e-6 * norm) << i;
  }
}

TEST_F(NetworkGradientOracleTest, CreateRejectsWhatDoesNotFit) {
  data::Examples empty;
  empty.shape = {6, 6, 1};
  EXPECT_THAT(NetworkGradientOracle::Create(network_.get(), &empty, nullptr, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no examples")));
  data::Examples wrong_shape = examples_;
  wrong_shape.shape = {4, 9, 1};
  EXPECT_THAT(NetworkGradientOracle::Create(network_.get(), &wrong_shape, nullptr, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("4x9x1")));
  const nn::Mask short_mask = nn::Mask::AllKept(10);
  EXPECT_THAT(NetworkGradientOracle::Create(network_.get(), &examples_, &short_mask, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(NetworkGradientOracle::Create(network_.get(), &examples_, nullptr, {.threads = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("threads")));
}

TEST(QuadraticOracleTest, GradientIsTheMatrixTimesThePointMasked) {
  const nn::Mask mask = testing::RandomHalfMask(20, /*seed=*/2);
  testing::QuadraticOracle oracle(testing::SymmetricMatrixWithSpectrum(std::vector<double>(20, 1.0), 1), &mask);
  std::vector<float> w(20), gradient(20);
  for (int i = 0; i < 20; ++i) w[i] = static_cast<float>(i) - 9.5f;
  // A = Q I Q^T = I: the gradient is w on the kept entries, the loss that of the pruned point m ⊙ w.
  const double loss = oracle.Gradient(w, absl::MakeSpan(gradient));
  double expected_loss = 0;
  for (int i = 0; i < 20; ++i) {
    EXPECT_NEAR(gradient[i], mask.is_kept(i) ? w[i] : 0.0f, 1e-5) << i;
    if (mask.is_kept(i)) expected_loss += 0.5 * w[i] * w[i];
  }
  EXPECT_NEAR(loss, expected_loss, 1e-9 * expected_loss);
}

}  // namespace
}  // namespace parsity::theory
