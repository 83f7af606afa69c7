#include "training/trainer/gradient_evaluator.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "training/data/examples.h"
#include "training/nn/networks.h"

namespace parsity::trainer {
namespace {

class GradientEvaluatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto network = nn::CreateNetwork("simple_cnn");
    ASSERT_TRUE(network.ok()) << network.status();
    network_ = *std::move(network);
    parameters_.resize(network_->parameter_count());
    std::mt19937_64 engine(7);
    network_->Initialize(engine, absl::MakeSpan(parameters_));
    std::normal_distribution<float> pixel(0.0f, 1.0f);
    examples_.shape = {28, 28, 1};
    for (int i = 0; i < kExamples; ++i) {
      examples_.labels.push_back(i % 10);
      for (int p = 0; p < 784; ++p) examples_.pixels.push_back(pixel(engine));
    }
  }

  std::vector<float> MeanGradient(EvaluatorOptions options, double* loss) {
    GradientEvaluator evaluator(network_.get(), options);
    std::vector<float> gradient(parameters_.size(), 123.0f);  // Overwritten, not added to.
    *loss = evaluator.MeanGradient(parameters_, examples_.pixels.data(), examples_.labels.data(), kExamples,
                                   absl::MakeSpan(gradient));
    return gradient;
  }

  static constexpr int kExamples = 37;
  std::unique_ptr<nn::Network> network_;
  std::vector<float> parameters_;
  data::Examples examples_;
};

TEST_F(GradientEvaluatorTest, ChunksAndThreadsAgreeWithOnePass) {
  double one_pass_loss = 0;
  const std::vector<float> one_pass = MeanGradient({.threads = 1, .max_chunk = 64}, &one_pass_loss);
  double norm = 0;
  for (const float value : one_pass) norm += static_cast<double>(value) * value;
  norm = std::sqrt(norm);
  ASSERT_GT(norm, 0);
  for (const EvaluatorOptions options : {EvaluatorOptions{1, 5}, EvaluatorOptions{2, 64}, EvaluatorOptions{2, 3}}) {
    double loss = 0;
    const std::vector<float> chunked = MeanGradient(options, &loss);
    double difference = 0;
    for (size_t i = 0; i < chunked.size(); ++i) {
      difference += std::pow(static_cast<double>(chunked[i]) - one_pass[i], 2);
    }
    // Only the summation order differs: relative error of a few float epsilons.
    EXPECT_LT(std::sqrt(difference), 1e-5 * norm) << options.threads << " threads, chunk " << options.max_chunk;
    EXPECT_NEAR(loss, one_pass_loss, 1e-5 * one_pass_loss);
  }
}

TEST_F(GradientEvaluatorTest, RepeatedCallsAreBitIdenticalWithTwoThreads) {
  double first_loss = 0, second_loss = 0;
  const std::vector<float> first = MeanGradient({.threads = 2, .max_chunk = 4}, &first_loss);
  const std::vector<float> second = MeanGradient({.threads = 2, .max_chunk = 4}, &second_loss);
  EXPECT_EQ(first_loss, second_loss);
  EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size() * sizeof(float)));
}

TEST_F(GradientEvaluatorTest, SumIsCountTimesMean) {
  double mean_loss = 0;
  const std::vector<float> mean = MeanGradient({.threads = 1, .max_chunk = 64}, &mean_loss);
  GradientEvaluator evaluator(network_.get(), {.threads = 1, .max_chunk = 64});
  std::vector<float> sum(parameters_.size(), 0.0f);
  const double loss_sum = evaluator.AccumulateGradientSum(parameters_, examples_.pixels.data(),
                                                          examples_.labels.data(), kExamples, absl::MakeSpan(sum));
  EXPECT_NEAR(loss_sum, kExamples * mean_loss, 1e-9 * loss_sum);
  for (size_t i = 0; i < sum.size(); i += 97) EXPECT_NEAR(sum[i], kExamples * mean[i], 1e-5 + 1e-5 * std::fabs(sum[i]));
}

TEST_F(GradientEvaluatorTest, EvaluateCountsErrorsAsTheNetworkDoes) {
  GradientEvaluator evaluator(network_.get(), {.threads = 2, .max_chunk = 8});
  const Evaluation evaluation = evaluator.Evaluate(parameters_, examples_);
  auto workspace = network_->CreateWorkspace(kExamples);
  int64_t correct = 0;
  const double loss_sum = network_->Evaluate(parameters_, examples_.pixels.data(), examples_.labels.data(), kExamples,
                                             workspace.get(), &correct);
  EXPECT_EQ(evaluation.examples, kExamples);
  EXPECT_EQ(evaluation.error_rate, static_cast<double>(kExamples - correct) / kExamples);
  EXPECT_NEAR(evaluation.mean_loss, loss_sum / kExamples, 1e-6);
  // Random weights on random pixels: about log(10) nats.
  EXPECT_NEAR(evaluation.mean_loss, std::log(10.0), 1.5);
}

}  // namespace
}  // namespace parsity::trainer
