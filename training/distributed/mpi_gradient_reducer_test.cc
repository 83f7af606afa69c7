// Tests of MpiGradientReducer, run by mpi_gradient_reducer_test.sh under `mpirun -np P` for P = 1, 2, 3: every rank
// runs every test, so each test makes the same collective calls on every rank and checks with EXPECT (an ASSERT that
// returned early on one rank would leave the others waiting). main() ends with every rank returning the worst result.
#include "training/distributed/mpi_gradient_reducer.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/check.h"
#include "tools/base/status_matchers.h"
#include "training/nn/mask.h"

namespace parsity::distributed {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::HasSubstr;

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

// A uniform float in [-1, 1) from the top 24 bits of the engine's output (exact, implementation-independent).
float Uniform(std::mt19937_64& engine) { return static_cast<float>(engine() >> 40) * 0x1p-23f - 1.0f; }

// Rank `rank`'s gradient: values whose sums over ranks round, so that the order of addition matters.
std::vector<float> RandomGradient(int64_t count, int rank) {
  std::mt19937_64 engine(1000 + rank);
  std::vector<float> gradient(count);
  for (float& value : gradient) value = Uniform(engine) * (1.0f + static_cast<float>(rank) / 3.0f);
  return gradient;
}

// sum_r |rank r's gradient[i]|, which bounds the rounding of any float sum of the ranks' values.
std::vector<double> MagnitudeSums(int64_t count) {
  std::vector<double> magnitude(count, 0.0);
  for (int r = 0; r < Size(); ++r) {
    const std::vector<float> part = RandomGradient(count, r);
    for (int64_t i = 0; i < count; ++i) magnitude[i] += std::fabs(part[i]);
  }
  return magnitude;
}

// The same mask on every rank: each entry kept with probability `keep`.
nn::Mask RandomMask(int64_t count, double keep, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::vector<float> values(count);
  for (float& value : values) value = (engine() >> 11) * 0x1p-53 < keep ? 1.0f : 0.0f;
  absl::StatusOr<nn::Mask> mask = nn::Mask::Create(std::move(values));
  PARSITY_CHECK_OK(mask.status());
  return *std::move(mask);
}

std::unique_ptr<MpiGradientReducer> MakeReducer(int64_t count, const nn::Mask* mask) {
  absl::StatusOr<std::unique_ptr<MpiGradientReducer>> reducer = MpiGradientReducer::Create(MPI_COMM_WORLD, count, mask);
  PARSITY_CHECK_OK(reducer.status());
  return *std::move(reducer);
}

TEST(Fingerprint64Test, IsDeterministicAndSeesEveryByte) {
  std::vector<unsigned char> bytes(37);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 7 + 1);
  for (size_t size = 0; size <= bytes.size(); ++size) {
    const uint64_t base = Fingerprint64(bytes.data(), size);
    EXPECT_EQ(base, Fingerprint64(bytes.data(), size));
    if (size > 0) {
      EXPECT_NE(base, Fingerprint64(bytes.data(), size - 1)) << size;
    }
    for (size_t i = 0; i < size; ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        bytes[i] ^= static_cast<unsigned char>(1 << bit);
        EXPECT_NE(base, Fingerprint64(bytes.data(), size)) << "size " << size << " byte " << i << " bit " << bit;
        bytes[i] ^= static_cast<unsigned char>(1 << bit);
      }
    }
  }
  // +0.0f and -0.0f compare equal but are different parameters bit for bit.
  const float zeros[2] = {0.0f, -0.0f};
  EXPECT_NE(Fingerprint64(&zeros[0], 4), Fingerprint64(&zeros[1], 4));
}

TEST(MpiGradientReducerTest, ReportsRankAndSize) {
  const std::unique_ptr<MpiGradientReducer> reducer = MakeReducer(10, nullptr);
  EXPECT_EQ(reducer->rank(), Rank());
  EXPECT_EQ(reducer->size(), Size());
  EXPECT_FALSE(reducer->sparse());
  EXPECT_EQ(reducer->payload_bytes_per_step(), 40);
  EXPECT_EQ(reducer->bytes_communicated(), 0);
}

TEST(MpiGradientReducerTest, DenseSumIsExactForSmallIntegers) {
  constexpr int64_t kCount = 100003;  // Large enough for Open MPI's segmented (ring) algorithms.
  const std::unique_ptr<MpiGradientReducer> reducer = MakeReducer(kCount, nullptr);
  std::vector<float> gradient(kCount);
  for (int64_t i = 0; i < kCount; ++i) gradient[i] = static_cast<float>((Rank() + 1) * (i % 7) - 3);
  reducer->SumGradients(absl::MakeSpan(gradient));
  const int p = Size();
  int64_t wrong = 0;
  for (int64_t i = 0; i < kCount; ++i) {
    const float expected = static_cast<float>(p * (p + 1) / 2 * (i % 7) - 3 * p);
    wrong += gradient[i] != expected;
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(reducer->bytes_communicated(), kCount * 4);
  reducer->SumGradients(absl::MakeSpan(gradient));
  EXPECT_EQ(reducer->bytes_communicated(), 2 * kCount * 4);
}

TEST(MpiGradientReducerTest, DenseSumMatchesAReferenceWithinRounding) {
  constexpr int64_t kCount = 50000;
  const std::unique_ptr<MpiGradientReducer> reducer = MakeReducer(kCount, nullptr);
  std::vector<float> gradient = RandomGradient(kCount, Rank());
  reducer->SumGradients(absl::MakeSpan(gradient));
  // Every rank can rebuild every rank's values: the reference is their sum in double. A float sum of P terms in any
  // order is within (P - 1) eps sum |x_r| of it.
  std::vector<double> sum(kCount, 0.0);
  for (int r = 0; r < Size(); ++r) {
    const std::vector<float> part = RandomGradient(kCount, r);
    for (int64_t i = 0; i < kCount; ++i) sum[i] += part[i];
  }
  const std::vector<double> magnitude = MagnitudeSums(kCount);
  const double epsilon = std::numeric_limits<float>::epsilon();
  int64_t outside = 0;
  for (int64_t i = 0; i < kCount; ++i) {
    outside += std::fabs(gradient[i] - sum[i]) > Size() * epsilon * magnitude[i];
  }
  EXPECT_EQ(outside, 0);
}

TEST(MpiGradientReducerTest, PackedSparseSumEqualsDenseSumOnKeptEntries) {
  constexpr int64_t kCount = 62346;  // Simple-CNN's parameter count.
  const nn::Mask mask = RandomMask(kCount, /*keep=*/0.1, /*seed=*/7);
  const std::unique_ptr<MpiGradientReducer> dense = MakeReducer(kCount, nullptr);
  const std::unique_ptr<MpiGradientReducer> sparse = MakeReducer(kCount, &mask);
  EXPECT_TRUE(sparse->sparse());
  EXPECT_EQ(sparse->payload_bytes_per_step(), mask.kept_count() * 4);

  std::vector<float> dense_sum = RandomGradient(kCount, Rank());
  std::vector<float> sparse_sum = dense_sum;
  dense->SumGradients(absl::MakeSpan(dense_sum));
  sparse->SumGradients(absl::MakeSpan(sparse_sum));
  EXPECT_EQ(sparse->bytes_communicated(), mask.kept_count() * 4);
  EXPECT_EQ(dense->bytes_communicated(), kCount * 4);

  int64_t kept_not_bitwise = 0, kept_outside_tolerance = 0, pruned_not_positive_zero = 0;
  const double epsilon = std::numeric_limits<float>::epsilon();
  const std::vector<double> magnitude = MagnitudeSums(kCount);
  for (int64_t i = 0; i < kCount; ++i) {
    if (mask.is_kept(i)) {
      kept_not_bitwise += std::memcmp(&dense_sum[i], &sparse_sum[i], sizeof(float)) != 0;
      // Two float sums of the same P terms in different orders: each within (P - 1) eps sum_r |x_r| of the exact sum.
      kept_outside_tolerance += std::fabs(dense_sum[i] - sparse_sum[i]) > 2.0 * (Size() - 1) * epsilon * magnitude[i];
    } else {
      pruned_not_positive_zero += !(sparse_sum[i] == 0.0f && !std::signbit(sparse_sum[i]));
    }
  }
  EXPECT_EQ(pruned_not_positive_zero, 0);
  EXPECT_EQ(kept_outside_tolerance, 0);
  // With two ranks each kept entry is the same sum a + b (IEEE addition commutes), so the bits agree. With more,
  // MPI may add the ranks' values in an order that depends on the entry's position in the buffer.
  if (Size() <= 2) {
    EXPECT_EQ(kept_not_bitwise, 0);
  } else if (Rank() == 0) {
    std::printf("P = %d: %lld of %lld kept entries differ in their last bits between the packed and dense sums\n",
                Size(), static_cast<long long>(kept_not_bitwise), static_cast<long long>(mask.kept_count()));
  }
}

TEST(MpiGradientReducerTest, EveryRankReceivesTheSameBits) {
  constexpr int64_t kCount = 30011;
  const std::unique_ptr<MpiGradientReducer> reducer = MakeReducer(kCount, nullptr);
  std::vector<float> gradient = RandomGradient(kCount, Rank());
  reducer->SumGradients(absl::MakeSpan(gradient));
  EXPECT_THAT(reducer->CheckParametersIdentical(gradient), IsOk());
}

TEST(MpiGradientReducerTest, SumScalarsAddsInDouble) {
  const std::unique_ptr<MpiGradientReducer> reducer = MakeReducer(1, nullptr);
  double values[3] = {0.5 + Rank(), 1e-300, static_cast<double>(Rank() == 0)};
  reducer->SumScalars(values);
  const int p = Size();
  EXPECT_EQ(values[0], 0.5 * p + p * (p - 1) / 2.0);
  EXPECT_EQ(values[1], 1e-300 * p);
  EXPECT_EQ(values[2], 1.0);
  EXPECT_EQ(reducer->bytes_communicated(), 0);
}

TEST(MpiGradientReducerTest, IdenticalParametersPass) {
  const std::unique_ptr<MpiGradientReducer> reducer = MakeReducer(1000, nullptr);
  const std::vector<float> parameters = RandomGradient(1000, /*rank=*/0);
  EXPECT_THAT(reducer->CheckParametersIdentical(parameters), IsOk());
}

TEST(MpiGradientReducerTest, DivergedParametersNameTheRank) {
  if (Size() < 2) GTEST_SKIP() << "needs two ranks";
  const std::unique_ptr<MpiGradientReducer> reducer = MakeReducer(1000, nullptr);
  std::vector<float> parameters = RandomGradient(1000, /*rank=*/0);
  const int last = Size() - 1;
  // One ulp in one entry of the last rank.
  if (Rank() == last) parameters[123] = std::nextafter(parameters[123], 2.0f);
  std::vector<float> gradient(1000, 0.0f);
  reducer->SumGradients(absl::MakeSpan(gradient));
  const std::string agreeing = Size() == 2 ? "rank 0" : "ranks 0, 1";
  EXPECT_THAT(
      reducer->CheckParametersIdentical(parameters),
      StatusIs(absl::StatusCode::kInternal, HasSubstr("parameters differ across the " + std::to_string(Size()) +
                                                      " data-parallel ranks after 1 gradient all-reduces: rank " +
                                                      std::to_string(last) + " differs from " + agreeing)));
}

TEST(MpiGradientReducerTest, SeveralDivergedRanksAreNamedAgainstRankZero) {
  if (Size() < 3) GTEST_SKIP() << "needs three ranks";
  const std::unique_ptr<MpiGradientReducer> reducer = MakeReducer(100, nullptr);
  // Every rank but 0 holds its own values: no majority, so rank 0's group is the reference.
  const std::vector<float> parameters = RandomGradient(100, Rank());
  std::string differing = "ranks 1";
  for (int r = 2; r < Size(); ++r) differing += ", " + std::to_string(r);
  EXPECT_THAT(reducer->CheckParametersIdentical(parameters),
              StatusIs(absl::StatusCode::kInternal, HasSubstr(differing + " differ from rank 0")));
}

TEST(MpiGradientReducerTest, CheckBytesIdenticalNamesWhat) {
  if (Size() < 2) GTEST_SKIP() << "needs two ranks";
  const std::unique_ptr<MpiGradientReducer> reducer = MakeReducer(1, nullptr);
  const int32_t labels[3] = {1, 2, Rank() == 1 ? 4 : 3};
  EXPECT_THAT(reducer->CheckBytesIdentical(labels, sizeof(labels), "training examples"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("training examples differ across")));
}

TEST(MpiGradientReducerTest, CreateRejectsMasksThatDifferAcrossRanks) {
  if (Size() < 2) GTEST_SKIP() << "needs two ranks";
  // Rank 1 keeps one entry more: as if it had computed its SNIP mask from different data.
  const nn::Mask mask = RandomMask(500, 0.5, Rank() == 1 ? 8 : 7);
  EXPECT_THAT(MpiGradientReducer::Create(MPI_COMM_WORLD, 500, &mask).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("parameter counts or pruning masks differ across the " + std::to_string(Size()) +
                                 " data-parallel ranks: rank 1 differs from rank")));
}

TEST(MpiGradientReducerTest, CreateRejectsParameterCountsThatDifferAcrossRanks) {
  if (Size() < 2) GTEST_SKIP() << "needs two ranks";
  EXPECT_THAT(MpiGradientReducer::Create(MPI_COMM_WORLD, Rank() == 0 ? 100 : 101, nullptr).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("parameter counts differ")));
}

TEST(MpiGradientReducerTest, CreateValidatesItsArguments) {
  EXPECT_THAT(MpiGradientReducer::Create(MPI_COMM_WORLD, 0, nullptr).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parameter_count: 0")));
  EXPECT_THAT(MpiGradientReducer::Create(MPI_COMM_WORLD, int64_t{1} << 31, nullptr).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("int")));
  const nn::Mask mask = nn::Mask::AllKept(10);
  EXPECT_THAT(MpiGradientReducer::Create(MPI_COMM_WORLD, 11, &mask).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace parsity::distributed
