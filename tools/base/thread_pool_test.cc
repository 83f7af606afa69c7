#include "tools/base/thread_pool.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace parsity {
namespace {

TEST(ThreadPoolTest, RunsEveryTaskOnceOnItsAssignedThread) {
  for (const int thread_count : {1, 2, 3}) {
    ThreadPool pool(thread_count);
    for (const int task_count : {0, 1, 2, 7}) {
      std::vector<int> runs(task_count, 0);
      std::vector<std::thread::id> runner(task_count);
      pool.Run(task_count, [&](int task) {
        ++runs[task];
        runner[task] = std::this_thread::get_id();
      });
      for (int task = 0; task < task_count; ++task) {
        EXPECT_EQ(runs[task], 1) << "task " << task << " of " << task_count << " on " << thread_count;
        // Tasks assigned to the same thread ran on the same thread; task 0 runs on the caller.
        EXPECT_EQ(runner[task], runner[task % thread_count]);
      }
      if (task_count > 0) {
        EXPECT_EQ(runner[0], std::this_thread::get_id());
      }
    }
  }
}

TEST(ThreadPoolTest, UsesSeveralThreadsAndIsReusable) {
  ThreadPool pool(2);
  for (int round = 0; round < 200; ++round) {
    std::atomic<int> sum{0};
    std::vector<std::thread::id> runner(2);
    pool.Run(2, [&](int task) {
      sum += task + 1;
      runner[task] = std::this_thread::get_id();
    });
    ASSERT_EQ(sum.load(), 3);
    ASSERT_NE(runner[0], runner[1]);
  }
}

}  // namespace
}  // namespace parsity
