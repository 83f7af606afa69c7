#include "tools/base/thread_pool.h"

#include "tools/base/check.h"

namespace parsity {

ThreadPool::ThreadPool(int thread_count) : thread_count_(thread_count) {
  PARSITY_CHECK(thread_count >= 1);
  for (int index = 1; index < thread_count; ++index) {
    workers_.emplace_back([this, index] { WorkerLoop(index); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::RunShare(int thread_index) {
  for (int task = thread_index; task < task_count_; task += thread_count_) (*task_)(task);
}

void ThreadPool::Run(int task_count, const std::function<void(int task)>& task) {
  if (thread_count_ == 1 || task_count <= 1) {
    for (int index = 0; index < task_count; ++index) task(index);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = &task;
    task_count_ = task_count;
    workers_busy_ = thread_count_ - 1;
    ++generation_;
  }
  work_ready_.notify_all();
  RunShare(0);
  std::unique_lock<std::mutex> lock(mutex_);
  work_done_.wait(lock, [this] { return workers_busy_ == 0; });
  task_ = nullptr;
}

void ThreadPool::WorkerLoop(int thread_index) {
  int64_t seen_generation = 0;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || generation_ != seen_generation; });
      if (stopping_) return;
      seen_generation = generation_;
    }
    RunShare(thread_index);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --workers_busy_;
    }
    work_done_.notify_one();
  }
}

}  // namespace parsity
