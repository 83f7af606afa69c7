// The scheduler of one process (TrialScheduler in runner_internal.h): `workers` threads, each training one trial at
// a time from the Runner's queue (Runner::Work).
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "experiments/study_runner/runner_internal.h"
#include "tools/base/thread_pool.h"

namespace parsity::experiments::runner_internal {

class LocalScheduler final : public TrialScheduler {
 public:
  explicit LocalScheduler(int workers) : workers_(workers) {}
  bool coordinator() const override { return true; }
  absl::Status Agree(const Runner&) override { return absl::OkStatus(); }
  absl::Status Run(Runner& runner) override {
    ThreadPool pool(workers_);
    pool.Run(workers_, [&runner](int) { runner.Work(); });
    std::lock_guard<std::mutex> lock(runner.mutex_);
    return runner.error_;
  }
  std::string Describe() const override { return absl::StrCat(workers_, " workers"); }

 private:
  int workers_;
};

std::unique_ptr<TrialScheduler> MakeLocalScheduler(int workers) { return std::make_unique<LocalScheduler>(workers); }

}  // namespace parsity::experiments::runner_internal
