#include "training/trainer/gradient_evaluator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "training/data/examples.h"
#include "training/nn/layer.h"
#include "training/nn/mask.h"
#include "training/nn/networks.h"
#include "training/nn/sparse_plan.h"

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

  // A mask keeping about 30% of the entries of one line of 16 in 8 (so that a plan leaves the other lines out of its
  // gradient ranges), applied to the parameters.
  nn::Mask PruneToFewLines() {
    std::vector<float> keep(parameters_.size());
    std::mt19937_64 engine(9);
    std::bernoulli_distribution kept(0.3);
    for (size_t i = 0; i < keep.size(); ++i) keep[i] = (i / 16) % 8 == 0 && kept(engine) ? 1.0f : 0.0f;
    auto mask = nn::Mask::Create(keep);
    EXPECT_TRUE(mask.ok()) << mask.status();
    mask->Apply(absl::MakeSpan(parameters_));
    return *std::move(mask);
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

// GradientSum writes each thread's share with its first chunk (no zeroing pass): the same bits as
// AccumulateGradientSum adds to a zeroed buffer, from a buffer of NaN, on one and two threads with several chunks each.
TEST_F(GradientEvaluatorTest, GradientSumIsTheSumAddedToZeros) {
  for (const EvaluatorOptions options : {EvaluatorOptions{1, 8}, EvaluatorOptions{2, 5}}) {
    SCOPED_TRACE(options.threads);
    GradientEvaluator evaluator(network_.get(), options);
    std::vector<float> added(parameters_.size(), 0.0f);
    const double loss = evaluator.AccumulateGradientSum(parameters_, examples_.pixels.data(), examples_.labels.data(),
                                                        kExamples, absl::MakeSpan(added));
    std::vector<float> written(parameters_.size(), std::nanf(""));
    for (int call = 0; call < 2; ++call) {
      EXPECT_EQ(evaluator.GradientSum(parameters_, examples_.pixels.data(), examples_.labels.data(), kExamples,
                                      absl::MakeSpan(written)),
                loss);
      for (size_t i = 0; i < added.size(); ++i) {
        ASSERT_EQ(std::memcmp(&written[i], &added[i], sizeof(float)), 0) << "entry " << i << ": " << written[i];
      }
      std::fill(written.begin(), written.end(), std::nanf(""));
    }
  }
}

// Exact leaf sums: any split of the leaves over threads and over calls (ranks) gives the same words, and the rounded
// sum is the gradient sum up to float rounding. 37 examples in leaves of 5: 8 leaves of 4-5 examples.
TEST_F(GradientEvaluatorTest, ExactLeafSumsDoNotDependOnThreadsOrSplits) {
  const EvaluatorOptions base{.threads = 1, .max_chunk = 64, .leaf_examples = 5};
  GradientEvaluator one_thread(network_.get(), base);
  ASSERT_EQ(one_thread.LeafCount(kExamples), 8);
  ExactSum reference(network_->parameter_count());
  one_thread.AddLeafGradients(parameters_, examples_.pixels.data(), examples_.labels.data(), kExamples, 0, 8,
                              &reference);
  struct Split {
    int threads;
    int64_t max_chunk;
    std::vector<int64_t> cuts;  // Leaf ranges [cuts[k], cuts[k + 1]) added by separate calls, as ranks would.
  };
  for (const Split& split : {Split{2, 64, {0, 8}}, Split{3, 64, {0, 8}}, Split{1, 64, {0, 3, 8}},
                             Split{2, 64, {0, 0, 1, 5, 8}}, Split{3, 64, {0, 7, 8}}}) {
    GradientEvaluator evaluator(network_.get(), {.threads = split.threads, .max_chunk = split.max_chunk,
                                                 .leaf_examples = 5});
    ExactSum total(network_->parameter_count());
    for (size_t k = 0; k + 1 < split.cuts.size(); ++k) {
      ExactSum part(network_->parameter_count());
      evaluator.AddLeafGradients(parameters_, examples_.pixels.data(), examples_.labels.data(), kExamples,
                                 split.cuts[k], split.cuts[k + 1], &part);
      part.AddTo(&total);
    }
    EXPECT_TRUE(std::equal(total.words().begin(), total.words().end(), reference.words().begin()))
        << split.threads << " threads, " << split.cuts.size() - 1 << " parts";
  }

  std::vector<float> exact(parameters_.size());
  ASSERT_TRUE(reference.Round(absl::MakeSpan(exact)));
  double mean_loss = 0;
  const std::vector<float> mean = MeanGradient({.threads = 1, .max_chunk = 64}, &mean_loss);
  double norm = 0, difference = 0;
  for (size_t i = 0; i < mean.size(); ++i) {
    norm += std::pow(static_cast<double>(mean[i]) * kExamples, 2);
    difference += std::pow(static_cast<double>(exact[i]) - static_cast<double>(mean[i]) * kExamples, 2);
  }
  EXPECT_LT(std::sqrt(difference), 1e-5 * std::sqrt(norm));
  // The direct kernels give each example's loss the same bits in any chunk; Eigen's products (a portable build) round
  // a chunk of 5 and one of 64 differently (measured 6e-9 relative).
  const double loss_tolerance = nn::HasDirectKernels() ? 1e-9 : 1e-7;
  EXPECT_NEAR(reference.Scalar(), mean_loss * kExamples, loss_tolerance * mean_loss * kExamples);
}

// The documented default leaves: the conversion stays small next to a leaf's compute.
// With a plan, the mean gradient's 1/count scaling skips the lines of 16 entries that hold no kept entry: kept
// lines hold the mean (the same bits as the unpruned pass over the masked parameters), wholly pruned lines the
// unscaled sum, which nobody reads.
TEST_F(GradientEvaluatorTest, APlanScalesOnlyTheLinesWithKeptEntries) {
  std::vector<float> keep(parameters_.size());
  std::mt19937_64 engine(3);
  std::bernoulli_distribution kept(0.3);
  for (size_t i = 0; i < keep.size(); ++i) keep[i] = (i / 16) % 3 != 0 && kept(engine) ? 1.0f : 0.0f;
  auto mask = nn::Mask::Create(keep);
  ASSERT_TRUE(mask.ok()) << mask.status();
  mask->Apply(absl::MakeSpan(parameters_));
  auto plan = nn::SparsePlan::Create(*network_, *mask, {.selection = nn::KernelSelection::kDense});
  ASSERT_TRUE(plan.ok()) << plan.status();
  double loss = 0, planned_loss = 0;
  const std::vector<float> mean = MeanGradient({.threads = 1, .max_chunk = 64}, &loss);
  const std::vector<float> planned =
      MeanGradient({.threads = 1, .max_chunk = 64, .sparse_plan = plan->get()}, &planned_loss);
  GradientEvaluator evaluator(network_.get(), {.threads = 1, .max_chunk = 64});
  std::vector<float> sum(parameters_.size(), 0.0f);
  evaluator.AccumulateGradientSum(parameters_, examples_.pixels.data(), examples_.labels.data(), kExamples,
                                  absl::MakeSpan(sum));
  EXPECT_EQ(loss, planned_loss);
  const std::vector<uint16_t> kept_bits = mask->KeptBits();
  int64_t pruned_lines = 0;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const bool line_kept = kept_bits[i / 16] != 0 || i >= parameters_.size() / 16 * 16;
    if (!line_kept && i % 16 == 0) ++pruned_lines;
    ASSERT_EQ(std::memcmp(&planned[i], line_kept ? &mean[i] : &sum[i], sizeof(float)), 0) << "entry " << i;
  }
  EXPECT_GT(pruned_lines, 1000);
}

// With sparse weight gradients, the evaluator writes and sums only the ranges the plan names: kept entries are the
// same bits as the pass over the masked parameters without a plan, on one and two threads and over repeated calls
// into a buffer that starts as NaN, and a line of pruned weights outside the ranges is never written.
TEST_F(GradientEvaluatorTest, APlanZeroesAndSumsOnlyItsGradientRanges) {
  const nn::Mask mask = PruneToFewLines();
  auto plan = nn::SparsePlan::Create(*network_, mask, {.selection = nn::KernelSelection::kSparse});
  ASSERT_TRUE(plan.ok()) << plan.status();
  for (const int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    double loss = 0;
    const std::vector<float> mean = MeanGradient({.threads = threads, .max_chunk = 8}, &loss);
    GradientEvaluator evaluator(network_.get(), {.threads = threads, .max_chunk = 8, .sparse_plan = plan->get()});
    std::vector<float> gradient(parameters_.size(), std::nanf(""));
    for (int call = 0; call < 2; ++call) {
      EXPECT_EQ(evaluator.MeanGradient(parameters_, examples_.pixels.data(), examples_.labels.data(), kExamples,
                                       absl::MakeSpan(gradient)),
                loss);
      int64_t untouched = 0;
      for (size_t i = 0; i < gradient.size(); ++i) {
        if (mask.is_kept(i)) {
          ASSERT_EQ(std::memcmp(&gradient[i], &mean[i], sizeof(float)), 0) << "entry " << i;
        } else {
          untouched += std::isnan(gradient[i]) ? 1 : 0;
        }
      }
      // Only sparse weight-gradient kernels (AVX-512 builds) leave pruned entries untouched.
      if (nn::HasDirectKernels()) {
        EXPECT_GT(untouched, static_cast<int64_t>(gradient.size()) / 4);
      }
    }
  }
}

// An evaluator switched to another plan (UseSparsePlan) gives the bits of one made with that plan, entries its passes
// leave untouched included, back and forth between no plan, the dense plan and the sparse one, on one and two threads.
TEST_F(GradientEvaluatorTest, UseSparsePlanRunsAsAnEvaluatorMadeWithThatPlan) {
  const nn::Mask mask = PruneToFewLines();
  auto sparse = nn::SparsePlan::Create(*network_, mask, {.selection = nn::KernelSelection::kSparse});
  ASSERT_TRUE(sparse.ok()) << sparse.status();
  auto dense = nn::SparsePlan::Create(*network_, mask, {.selection = nn::KernelSelection::kDense});
  ASSERT_TRUE(dense.ok()) << dense.status();
  const std::vector<const nn::SparsePlan*> plans = {nullptr, dense->get(), sparse->get()};
  for (const int threads : {1, 2}) {
    SCOPED_TRACE(threads);
    // Each plan's gradient (NaN where a pass leaves entries untouched) from an evaluator made with it.
    auto gradient_of = [&](GradientEvaluator& evaluator, double* loss) {
      std::vector<float> gradient(parameters_.size(), std::nanf(""));
      *loss = evaluator.MeanGradient(parameters_, examples_.pixels.data(), examples_.labels.data(), kExamples,
                                     absl::MakeSpan(gradient));
      return gradient;
    };
    std::vector<std::vector<float>> expected;
    std::vector<double> expected_loss(plans.size());
    for (size_t p = 0; p < plans.size(); ++p) {
      GradientEvaluator made(network_.get(), {.threads = threads, .max_chunk = 8, .sparse_plan = plans[p]});
      expected.push_back(gradient_of(made, &expected_loss[p]));
    }
    // The sparse plan leaves pruned weight-gradient entries untouched (AVX-512 builds), the others do not, so a
    // gradient tells which plan ran.
    auto untouched = [](const std::vector<float>& gradient) {
      return std::count_if(gradient.begin(), gradient.end(), [](float value) { return std::isnan(value); });
    };
    if (nn::HasDirectKernels()) {
      EXPECT_GT(untouched(expected[2]), untouched(expected[1]) + static_cast<int64_t>(parameters_.size()) / 4);
    }
    EXPECT_EQ(untouched(expected[0]), 0);
    GradientEvaluator evaluator(network_.get(), {.threads = threads, .max_chunk = 8, .sparse_plan = sparse->get()});
    // Twice through: without a plan, the dense plan, the sparse plan.
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t p = 0; p < plans.size(); ++p) {
        SCOPED_TRACE(p);
        ASSERT_TRUE(evaluator.UseSparsePlan(plans[p]).ok());
        EXPECT_EQ(evaluator.options().sparse_plan, plans[p]);
        double loss = 0;
        const std::vector<float> gradient = gradient_of(evaluator, &loss);
        EXPECT_EQ(loss, expected_loss[p]);
        ASSERT_EQ(std::memcmp(gradient.data(), expected[p].data(), gradient.size() * sizeof(float)), 0);
      }
    }
  }
}

TEST_F(GradientEvaluatorTest, UseSparsePlanRejectsAnotherNetworksPlan) {
  auto other = nn::CreateNetwork("lenet_300_100");
  ASSERT_TRUE(other.ok()) << other.status();
  auto plan = nn::SparsePlan::Create(**other, nn::Mask::AllKept((*other)->parameter_count()),
                                     {.selection = nn::KernelSelection::kDense});
  ASSERT_TRUE(plan.ok()) << plan.status();
  GradientEvaluator evaluator(network_.get(), {.threads = 1, .max_chunk = 8});
  const absl::Status status = evaluator.UseSparsePlan(plan->get());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("another network"), std::string::npos) << status;
  EXPECT_EQ(evaluator.options().sparse_plan, nullptr);
}

TEST(DefaultLeafExamplesTest, PerNetwork) {
  for (const auto& [name, leaf] : std::vector<std::pair<std::string, int64_t>>{
           {"simple_cnn", 16}, {"resnet8", 8}, {"lenet_300_100", 1024}}) {
    auto network = nn::CreateNetwork(name);
    ASSERT_TRUE(network.ok());
    EXPECT_EQ(DefaultLeafExamples(**network), leaf) << name;
    GradientEvaluator evaluator(network->get(), {});
    EXPECT_EQ(evaluator.LeafCount(leaf), 1) << name;
    EXPECT_EQ(evaluator.LeafCount(leaf + 1), 2) << name;
  }
}

// GradientShareExamples per network, and two threads share a batch that fits one chunk only from twice that on:
// below, they compute the one-thread sum bit for bit (one chain per entry); from there, the two shares' sums are
// added, which rounds otherwise.
TEST(GradientShareExamplesTest, TwoThreadsShareBatchesFromTwoShares) {
  for (const auto& [name, share] : std::vector<std::pair<std::string, int64_t>>{
           {"simple_cnn", 2}, {"resnet8", 1}, {"lenet_300_100", 95}}) {
    auto network = nn::CreateNetwork(name);
    ASSERT_TRUE(network.ok());
    ASSERT_EQ(GradientShareExamples(**network), share) << name;
    std::vector<float> parameters((*network)->parameter_count());
    std::mt19937_64 engine(3);
    (*network)->Initialize(engine, absl::MakeSpan(parameters));
    const int64_t values = (*network)->input_shape().size();
    std::normal_distribution<float> pixel(0.0f, 1.0f);
    std::vector<float> pixels(2 * share * values);
    for (float& value : pixels) value = pixel(engine);
    std::vector<int32_t> labels;
    for (int64_t i = 0; i < 2 * share; ++i) labels.push_back(static_cast<int32_t>(i % 10));
    GradientEvaluator one_thread(network->get(), {.threads = 1, .max_chunk = 256});
    GradientEvaluator two_threads(network->get(), {.threads = 2, .max_chunk = 256});
    for (const int64_t count : {2 * share - 1, 2 * share}) {
      std::vector<float> one(parameters.size()), two(parameters.size());
      one_thread.GradientSum(parameters, pixels.data(), labels.data(), count, absl::MakeSpan(one));
      two_threads.GradientSum(parameters, pixels.data(), labels.data(), count, absl::MakeSpan(two));
      const bool identical = std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0;
      EXPECT_EQ(identical, count < 2 * share) << name << ", " << count << " examples";
    }
  }
}

// Leaves larger than the workspace run in pieces of max_chunk: still one leaf per thread, independent of threads.
TEST_F(GradientEvaluatorTest, ExactLeavesLargerThanTheWorkspace) {
  ExactSum one(network_->parameter_count()), two(network_->parameter_count());
  GradientEvaluator one_thread(network_.get(), {.threads = 1, .max_chunk = 3, .leaf_examples = 10});
  GradientEvaluator two_threads(network_.get(), {.threads = 2, .max_chunk = 3, .leaf_examples = 10});
  ASSERT_EQ(one_thread.LeafCount(kExamples), 4);
  one_thread.AddLeafGradients(parameters_, examples_.pixels.data(), examples_.labels.data(), kExamples, 0, 4, &one);
  two_threads.AddLeafGradients(parameters_, examples_.pixels.data(), examples_.labels.data(), kExamples, 0, 4, &two);
  EXPECT_TRUE(std::equal(one.words().begin(), one.words().end(), two.words().begin()));
  EXPECT_EQ(one.invalid_terms(), 0);
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

// Early-exit validation checks (validation_check.h) evaluate examples in other batches and orders than a full check;
// they decide alike only if an example's loss and prediction do not depend on its batch. Checked bit for bit on each
// network, dense and 90% pruned on its sparse kernels: a batch's loss is the sum, in the network's own chunk order, of
// the losses of its examples evaluated one at a time, and its flags are theirs.
TEST(EvaluationTest, EachExampleIsEvaluatedTheSameWhateverItsBatch) {
  if (!nn::HasDirectKernels()) {
    GTEST_SKIP() << "Eigen build (--config=portable): its products round each batch size its own way, so an example's "
                    "loss depends on its batch and early-exit checks are not exact there (training/README.md)";
  }
  for (const char* name : {"simple_cnn", "resnet8", "lenet_300_100"}) {
    for (const bool pruned : {false, true}) {
      SCOPED_TRACE(std::string(name) + (pruned ? " pruned" : " dense"));
      auto created = nn::CreateNetwork(name);
      ASSERT_TRUE(created.ok()) << created.status();
      const nn::Network& network = **created;
      std::mt19937_64 engine(11);
      std::vector<float> parameters(network.parameter_count());
      network.Initialize(engine, absl::MakeSpan(parameters));
      std::unique_ptr<nn::SparsePlan> plan;
      std::unique_ptr<nn::Mask> mask;
      if (pruned) {
        std::vector<float> keep(parameters.size());
        std::bernoulli_distribution kept(0.1);
        for (float& value : keep) value = kept(engine) ? 1.0f : 0.0f;
        auto made = nn::Mask::Create(std::move(keep));
        ASSERT_TRUE(made.ok()) << made.status();
        mask = std::make_unique<nn::Mask>(*std::move(made));
        mask->Apply(absl::MakeSpan(parameters));
        // Sparse kernels wherever they exist, whatever they cost: the batch-size classes still pick differently.
        auto made_plan = nn::SparsePlan::Create(network, *mask, {.selection = nn::KernelSelection::kSparse});
        ASSERT_TRUE(made_plan.ok()) << made_plan.status();
        plan = *std::move(made_plan);
      }
      const nn::ImageShape& shape = network.input_shape();
      const int64_t size = shape.size();
      constexpr int64_t kCount = 37;  // Odd: a short last chunk on every network.
      std::normal_distribution<float> pixel(0.0f, 1.0f);
      std::vector<float> inputs(kCount * size);
      for (float& value : inputs) value = pixel(engine);
      std::vector<int32_t> labels(kCount);
      for (int64_t i = 0; i < kCount; ++i) labels[i] = static_cast<int32_t>((i * 7) % 10);
      auto workspace = network.CreateWorkspace(kCount, plan != nullptr ? &plan->layers() : nullptr);
      std::vector<double> single_loss(kCount);
      std::vector<uint8_t> single_flag(kCount);
      for (int64_t i = 0; i < kCount; ++i) {
        int64_t correct = 0;
        single_loss[i] = network.Evaluate(parameters, inputs.data() + i * size, labels.data() + i, 1, workspace.get(),
                                          &correct, &single_flag[i]);
        EXPECT_EQ(correct, single_flag[i]);
      }
      int64_t correct = 0;
      std::vector<uint8_t> flags(kCount, 7);
      const double loss = network.Evaluate(parameters, inputs.data(), labels.data(), kCount, workspace.get(), &correct,
                                           flags.data());
      double expected = 0;
      for (int64_t first = 0; first < kCount; first += network.chunk_examples()) {
        double chunk = 0;
        for (int64_t i = first; i < std::min(kCount, first + network.chunk_examples()); ++i) chunk += single_loss[i];
        expected += chunk;
      }
      EXPECT_EQ(loss, expected);
      EXPECT_EQ(flags, single_flag);
      int64_t single_correct = 0;
      for (uint8_t flag : single_flag) single_correct += flag;
      EXPECT_EQ(correct, single_correct);
      // Through the evaluator, in another order, on two threads: the same flags.
      std::vector<int64_t> order(kCount);
      for (int64_t i = 0; i < kCount; ++i) order[i] = (i * 5 + 3) % kCount;
      std::vector<float> shuffled(kCount * size);
      std::vector<int32_t> shuffled_labels(kCount);
      for (int64_t k = 0; k < kCount; ++k) {
        std::copy_n(inputs.data() + order[k] * size, size, shuffled.data() + k * size);
        shuffled_labels[k] = labels[order[k]];
      }
      GradientEvaluator evaluator(&network, {.threads = 2, .max_chunk = 5, .sparse_plan = plan.get()});
      std::vector<uint8_t> shuffled_flags(kCount, 7);
      const Evaluation evaluation =
          evaluator.Evaluate(parameters, shuffled.data(), shuffled_labels.data(), kCount, shuffled_flags.data());
      EXPECT_EQ(evaluation.errors, kCount - single_correct);
      for (int64_t k = 0; k < kCount; ++k) EXPECT_EQ(shuffled_flags[k], single_flag[order[k]]) << k;
    }
  }
}

}  // namespace
}  // namespace parsity::trainer
