#include "experiments/study_runner/mask_cache.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace parsity::experiments {
namespace {

nn::Mask MakeMask(float first) {
  absl::StatusOr<nn::Mask> mask = nn::Mask::Create({first, 1.0f, 0.0f});
  EXPECT_TRUE(mask.ok());
  return *std::move(mask);
}

TEST(MaskCacheTest, ComputesOncePerKeyAndSharesTheMask) {
  MaskCache cache;
  cache.Expect(1, 3);
  cache.Expect(1, 3);
  int computed = 0;
  const auto compute = [&] {
    ++computed;
    return absl::StatusOr<nn::Mask>(MakeMask(1.0f));
  };
  const absl::StatusOr<std::shared_ptr<const nn::Mask>> first = cache.Get(1, 3, compute);
  const absl::StatusOr<std::shared_ptr<const nn::Mask>> second = cache.Get(1, 3, compute);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->get(), second->get());
  EXPECT_EQ(computed, 1);
  // Another key is another mask.
  cache.Expect(2, 3);
  const absl::StatusOr<std::shared_ptr<const nn::Mask>> other = cache.Get(2, 3, [] { return MakeMask(0.0f); });
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->get(), first->get());
  EXPECT_EQ(computed, 1);
}

TEST(MaskCacheTest, DropsTheMaskAfterTheLastExpectedUse) {
  MaskCache cache;
  cache.Expect(0, 1);
  cache.Expect(0, 1);
  int computed = 0;
  const auto compute = [&] {
    ++computed;
    return absl::StatusOr<nn::Mask>(MakeMask(1.0f));
  };
  const absl::StatusOr<std::shared_ptr<const nn::Mask>> held = cache.Get(0, 1, compute);
  ASSERT_TRUE(held.ok());
  cache.Release(0, 1);
  EXPECT_EQ(cache.size(), 1);
  cache.Release(0, 1);
  EXPECT_EQ(cache.size(), 0);
  EXPECT_EQ((*held)->size(), 3);  // A holder keeps its mask after the cache drops it.
  // Asked again after the drop: computed again.
  ASSERT_TRUE(cache.Get(0, 1, compute).ok());
  EXPECT_EQ(computed, 2);
}

TEST(MaskCacheTest, AnErrorIsKeptForTheKey) {
  MaskCache cache;
  cache.Expect(0, 0);
  int computed = 0;
  const auto failing = [&] {
    ++computed;
    return absl::StatusOr<nn::Mask>(absl::InvalidArgumentError("pruning failed"));
  };
  EXPECT_EQ(cache.Get(0, 0, failing).status().message(), "pruning failed");
  EXPECT_EQ(cache.Get(0, 0, failing).status().message(), "pruning failed");
  EXPECT_EQ(computed, 1);
}

TEST(MaskCacheTest, ConcurrentCallersOfOneKeyWaitForOneComputation) {
  MaskCache cache;
  std::atomic<int> computed{0};
  const auto slow = [&] {
    ++computed;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return absl::StatusOr<nn::Mask>(MakeMask(1.0f));
  };
  std::vector<const nn::Mask*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    cache.Expect(0, 5);
    threads.emplace_back([&, t] {
      absl::StatusOr<std::shared_ptr<const nn::Mask>> mask = cache.Get(0, 5, slow);
      if (mask.ok()) seen[t] = mask->get();
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(computed.load(), 1);
  for (const nn::Mask* mask : seen) EXPECT_EQ(mask, seen[0]);
  EXPECT_NE(seen[0], nullptr);
}

}  // namespace
}  // namespace parsity::experiments
