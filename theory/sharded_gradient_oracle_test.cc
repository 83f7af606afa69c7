// Tests of ShardedGradientOracle, run by sharded_gradient_oracle_test.sh under `mpirun -np P` for P = 1, 2, 3: every
// rank runs every test with the same arguments, so each test makes the same collective calls on every rank, and
// checks with EXPECT (an ASSERT that returned early on one rank only would leave the others waiting). main() returns
// the worst result of any rank on every rank.
//
// The model: LeNet-300-100 (266,610 parameters) on 37 synthetic MNIST-shaped examples, so that the shards are unequal
// for P = 2 and 3 (18/19 and 12/12/13) and the wrapped oracle is a real NetworkGradientOracle; dense, and with a
// random 90% mask (the packed all-reduce).
#include "theory/sharded_gradient_oracle.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "theory/gradient_oracle.h"
#include "tools/base/check.h"
#include "tools/base/status_matchers.h"
#include "training/data/examples.h"
#include "training/data/synthetic_examples.h"
#include "training/distributed/mpi_gradient_reducer.h"
#include "training/distributed/synthetic_trial_data.h"
#include "training/nn/layer.h"
#include "training/nn/networks.h"
#include "training/nn/mask.h"
#include "training/trainer/gradient_evaluator.h"
#include "training/trainer/trainer.h"

namespace parsity::theory {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int64_t kExamples = 37;

int Rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int Size() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

class ShardedGradientOracleTest : public ::testing::TestWithParam<bool /*masked*/> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<nn::Network>> network = nn::CreateNetwork("lenet_300_100");
    PARSITY_CHECK_OK(network.status());
    network_ = *std::move(network);
    examples_ = data::MakePatchExamples(kExamples, /*seed=*/3);
    parameters_.resize(network_->parameter_count());
    trainer::InitializeParameters(*network_, /*seed=*/5, absl::MakeSpan(parameters_));
    mask_ = distributed::MakeRandomMask(network_->parameter_count(), /*sparsity=*/0.9, /*seed=*/9).value();
    if (masked()) mask_.Apply(absl::MakeSpan(parameters_));
    // Chunks of 16 examples inside the wrapped oracle, so that its own sums are chunked too.
    absl::StatusOr<std::unique_ptr<theory::NetworkGradientOracle>> local = theory::NetworkGradientOracle::Create(
        network_.get(), &examples_, masked() ? &mask_ : nullptr, {.threads = 1, .max_chunk = 16});
    PARSITY_CHECK_OK(local.status());
    local_ = *std::move(local);
  }

  bool masked() const { return GetParam(); }
  int64_t dimension() const { return network_->parameter_count(); }

  // (1/|I|) sum_{i in I} |g_i| per entry, from one-example gradients of the wrapped oracle: the scale of the rounding
  // of any float sum of the per-example gradients.
  std::vector<double> MeanMagnitude(const std::vector<int64_t>& indices) {
    std::vector<double> magnitude(dimension(), 0.0);
    std::vector<float> gradient(dimension());
    for (const int64_t index : indices) {
      local_->BatchGradient(parameters_, absl::MakeConstSpan(&index, 1), absl::MakeSpan(gradient));
      for (int64_t j = 0; j < dimension(); ++j) magnitude[j] += std::fabs(gradient[j]);
    }
    for (double& value : magnitude) value /= static_cast<double>(indices.size());
    return magnitude;
  }

  // Expects |actual - expected| <= tolerance * FLT_EPSILON * magnitude per entry, and pruned entries exactly 0.
  // tolerance: the two results add the same per-example gradients in different orders and groupings (chunks of 16
  // and one pass in the wrapped oracle; shards of 12-37 examples, calls of at most 5, double, then the ranks' float
  // sum here), and the per-example gradients themselves come out of matrix products of different sizes. Measured:
  // at most 2.9 eps x magnitude under P = 1, 2 and 3 (37 examples, dense and masked); 8 leaves room for other BLAS
  // paths, while a missing or doubled shard, a wrong weight or a wrong divisor are errors of order 1 / P, 10^6 eps.
  // A portable build (Eigen's products, no FMA) rounds each product size its own way: measured up to 2.2e4 eps x
  // magnitude at P = 1 (masked, a batch of 11), so 1e5 there, still 10 times below those errors.
  void ExpectClose(absl::Span<const float> actual, absl::Span<const float> expected,
                   const std::vector<double>& magnitude, const char* what) {
    const double tolerance = nn::HasDirectKernels() ? 8 : 1e5;
    int64_t outside = 0, pruned_nonzero = 0;
    double worst = 0;
    for (int64_t j = 0; j < dimension(); ++j) {
      const double error = std::fabs(static_cast<double>(actual[j]) - expected[j]);
      const double scale = FLT_EPSILON * magnitude[j];
      if (error > 0) worst = std::max(worst, scale > 0 ? error / scale : INFINITY);
      if (error > tolerance * scale) ++outside;
      if (masked() && mask_.values()[j] == 0.0f && actual[j] != 0.0f) ++pruned_nonzero;
    }
    EXPECT_EQ(outside, 0) << what << ": entries outside " << tolerance << " eps x magnitude; worst " << worst;
    EXPECT_EQ(pruned_nonzero, 0) << what;
    if (Rank() == 0) {
      std::printf("P = %d, %s, %s: largest difference %.3g eps x magnitude\n", Size(), masked() ? "masked" : "dense",
                  what, worst);
    }
  }

  std::unique_ptr<ShardedGradientOracle> MakeSharded(int64_t max_examples_per_call) {
    absl::StatusOr<std::unique_ptr<ShardedGradientOracle>> sharded =
        ShardedGradientOracle::Create(MPI_COMM_WORLD, local_.get(), {.max_examples_per_call = max_examples_per_call});
    PARSITY_CHECK_OK(sharded.status());
    return *std::move(sharded);
  }

  std::unique_ptr<nn::Network> network_;
  data::Examples examples_;
  std::vector<float> parameters_;
  nn::Mask mask_ = nn::Mask::AllKept(1);
  std::unique_ptr<theory::NetworkGradientOracle> local_;
};

TEST_P(ShardedGradientOracleTest, HasTheWrappedOraclesShape) {
  const std::unique_ptr<ShardedGradientOracle> sharded = MakeSharded(4096);
  EXPECT_EQ(sharded->dimension(), local_->dimension());
  EXPECT_EQ(sharded->example_count(), kExamples);
  EXPECT_EQ(sharded->mask(), local_->mask());
  EXPECT_EQ(sharded->rank(), Rank());
  EXPECT_EQ(sharded->size(), Size());
}

TEST_P(ShardedGradientOracleTest, ShardsAreContiguousAndCoverTheExamples) {
  const std::unique_ptr<ShardedGradientOracle> sharded = MakeSharded(4096);
  const int64_t mine[2] = {sharded->shard().begin, sharded->shard().end};
  std::vector<int64_t> all(2 * Size());
  MPI_Allgather(mine, 2, MPI_INT64_T, all.data(), 2, MPI_INT64_T, MPI_COMM_WORLD);
  EXPECT_EQ(all.front(), 0);
  EXPECT_EQ(all.back(), kExamples);
  for (int r = 0; r < Size(); ++r) {
    EXPECT_LE(all[2 * r], all[2 * r + 1]);
    if (r > 0) {
      EXPECT_EQ(all[2 * r], all[2 * r - 1]) << "rank " << r << " does not start where rank " << r - 1 << " ends";
    }
    EXPECT_LE(all[2 * r + 1] - all[2 * r], kExamples / Size() + 1);
  }
}

TEST_P(ShardedGradientOracleTest, GradientEqualsTheWrappedOraclesWithinRounding) {
  std::vector<int64_t> every(kExamples);
  for (int64_t i = 0; i < kExamples; ++i) every[i] = i;
  const std::vector<double> magnitude = MeanMagnitude(every);
  std::vector<float> expected(dimension()), actual(dimension(), 7.0f);
  const double expected_loss = local_->Gradient(parameters_, absl::MakeSpan(expected));
  // 5 examples per call: several calls per shard, summed in double.
  for (const int64_t per_call : {int64_t{5}, int64_t{4096}}) {
    const std::unique_ptr<ShardedGradientOracle> sharded = MakeSharded(per_call);
    std::fill(actual.begin(), actual.end(), 7.0f);
    const double loss = sharded->Gradient(parameters_, absl::MakeSpan(actual));
    EXPECT_NEAR(loss, expected_loss, 1e-6 * expected_loss) << per_call << " examples per call";
    ExpectClose(actual, expected, magnitude, per_call == 5 ? "Gradient, 5 per call" : "Gradient");
  }
}

TEST_P(ShardedGradientOracleTest, BatchGradientSplitsTheIndexList) {
  // Unordered, with a repeat; 11 indices: shards of 5/6 and 3/4/4.
  const std::vector<int64_t> indices = {30, 2, 2, 17, 36, 0, 9, 21, 5, 33, 12};
  const std::vector<double> magnitude = MeanMagnitude(indices);
  std::vector<float> expected(dimension()), actual(dimension(), 7.0f);
  const double expected_loss = local_->BatchGradient(parameters_, indices, absl::MakeSpan(expected));
  const std::unique_ptr<ShardedGradientOracle> sharded = MakeSharded(2);
  const double loss = sharded->BatchGradient(parameters_, indices, absl::MakeSpan(actual));
  EXPECT_NEAR(loss, expected_loss, 1e-6 * expected_loss);
  ExpectClose(actual, expected, magnitude, "BatchGradient of 11 indices");
}

TEST_P(ShardedGradientOracleTest, BatchGradientWithFewerIndicesThanRanks) {
  const std::unique_ptr<ShardedGradientOracle> sharded = MakeSharded(4096);
  std::vector<float> expected(dimension()), actual(dimension(), 7.0f);
  // One index: one rank computes it, the others contribute zeros, and x + 0 = x: bit-identical.
  const std::vector<int64_t> one = {23};
  const double expected_loss = local_->BatchGradient(parameters_, one, absl::MakeSpan(expected));
  EXPECT_EQ(sharded->BatchGradient(parameters_, one, absl::MakeSpan(actual)), expected_loss);
  EXPECT_EQ(actual, expected);
  // Two indices: under P = 3 one rank's shard is empty.
  const std::vector<int64_t> two = {8, 31};
  const std::vector<double> magnitude = MeanMagnitude(two);
  const double expected_two_loss = local_->BatchGradient(parameters_, two, absl::MakeSpan(expected));
  std::fill(actual.begin(), actual.end(), 7.0f);
  EXPECT_NEAR(sharded->BatchGradient(parameters_, two, absl::MakeSpan(actual)), expected_two_loss,
              1e-6 * expected_two_loss);
  ExpectClose(actual, expected, magnitude, "BatchGradient of 2 indices");
}

TEST_P(ShardedGradientOracleTest, EveryRankReceivesTheSameGradient) {
  const std::unique_ptr<ShardedGradientOracle> sharded = MakeSharded(4096);
  std::vector<float> gradient(dimension());
  double loss = sharded->Gradient(parameters_, absl::MakeSpan(gradient));
  const uint64_t mine = distributed::Fingerprint64(gradient.data(), gradient.size() * sizeof(float));
  uint64_t low = mine, high = mine;
  MPI_Allreduce(MPI_IN_PLACE, &low, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &high, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(low, high);
  double low_loss = loss, high_loss = loss;
  MPI_Allreduce(MPI_IN_PLACE, &low_loss, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &high_loss, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(low_loss, high_loss);
}

TEST_P(ShardedGradientOracleTest, CountsTheBytesOfTheGradientsOnly) {
  const std::unique_ptr<ShardedGradientOracle> sharded = MakeSharded(4096);
  std::vector<float> gradient(dimension());
  sharded->Gradient(parameters_, absl::MakeSpan(gradient));
  const std::vector<int64_t> one = {4};
  sharded->BatchGradient(parameters_, one, absl::MakeSpan(gradient));
  const int64_t per_call = 4 * (masked() ? mask_.kept_count() : dimension());
  EXPECT_EQ(sharded->bytes_communicated(), 2 * per_call);
}

INSTANTIATE_TEST_SUITE_P(DenseAndMasked, ShardedGradientOracleTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Masked" : "Dense"; });

TEST(ShardedGradientOracleCreateTest, RejectsExampleCountsThatDifferAcrossRanks) {
  if (Size() < 2) GTEST_SKIP() << "needs two ranks";
  absl::StatusOr<std::unique_ptr<nn::Network>> network = nn::CreateNetwork("lenet_300_100");
  PARSITY_CHECK_OK(network.status());
  // Rank 1 holds one example fewer, as if its --lipschitz_sample differed.
  const data::Examples examples = data::MakePatchExamples(Rank() == 1 ? 9 : 10, /*seed=*/3);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<theory::NetworkGradientOracle> local,
                       theory::NetworkGradientOracle::Create(network->get(), &examples, nullptr, {}));
  EXPECT_THAT(ShardedGradientOracle::Create(MPI_COMM_WORLD, local.get()).status(),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("sharded gradient oracle: example counts differ across the " + std::to_string(Size()) +
                                 " data-parallel ranks: rank 1 differs from rank")));
}

TEST(ShardedGradientOracleCreateTest, RejectsMasksThatDifferAcrossRanks) {
  if (Size() < 2) GTEST_SKIP() << "needs two ranks";
  absl::StatusOr<std::unique_ptr<nn::Network>> network = nn::CreateNetwork("lenet_300_100");
  PARSITY_CHECK_OK(network.status());
  const data::Examples examples = data::MakePatchExamples(10, /*seed=*/3);
  const nn::Mask mask =
      distributed::MakeRandomMask((*network)->parameter_count(), /*sparsity=*/0.9, Rank() == 1 ? 8 : 7).value();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<theory::NetworkGradientOracle> local,
                       theory::NetworkGradientOracle::Create(network->get(), &examples, &mask, {}));
  EXPECT_THAT(ShardedGradientOracle::Create(MPI_COMM_WORLD, local.get()).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("sharded gradient oracle: parameter counts or pruning masks differ")));
}

TEST(ShardedGradientOracleCreateTest, RejectsAnEmptyCall) {
  absl::StatusOr<std::unique_ptr<nn::Network>> network = nn::CreateNetwork("lenet_300_100");
  PARSITY_CHECK_OK(network.status());
  const data::Examples examples = data::MakePatchExamples(10, /*seed=*/3);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<theory::NetworkGradientOracle> local,
                       theory::NetworkGradientOracle::Create(network->get(), &examples, nullptr, {}));
  EXPECT_THAT(ShardedGradientOracle::Create(MPI_COMM_WORLD, local.get(), {.max_examples_per_call = 0}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_examples_per_call 0")));
}

}  // namespace
}  // namespace parsity::theory
