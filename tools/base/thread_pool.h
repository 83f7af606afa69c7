// A fixed set of worker threads that run one batch of numbered tasks at a time, for parallelism inside a
// training step. Task i always runs on thread i % thread_count(), so work split this way is reproducible.
//
//   ThreadPool pool(/*thread_count=*/2);
//   pool.Run(/*task_count=*/2, [&](int task) { partial[task] = Work(task); });   // returns when all are done
//   const double total = partial[0] + partial[1];                                // fixed reduction order
#ifndef PARSITY_TOOLS_BASE_THREAD_POOL_H_
#define PARSITY_TOOLS_BASE_THREAD_POOL_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace parsity {

class ThreadPool {
 public:
  // Starts thread_count - 1 workers; the calling thread is the last one. REQUIRES: thread_count >= 1.
  explicit ThreadPool(int thread_count);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int thread_count() const { return thread_count_; }

  // Runs task(0) ... task(task_count - 1) and returns when all have finished. Task i runs on thread
  // i % thread_count() (thread 0 is the caller). Not reentrant: `task` must not call Run.
  void Run(int task_count, const std::function<void(int task)>& task);

 private:
  void WorkerLoop(int thread_index);
  void RunShare(int thread_index);

  const int thread_count_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  const std::function<void(int)>* task_ = nullptr;
  int task_count_ = 0;
  int64_t generation_ = 0;
  int workers_busy_ = 0;
  bool stopping_ = false;
};

}  // namespace parsity

#endif  // PARSITY_TOOLS_BASE_THREAD_POOL_H_
