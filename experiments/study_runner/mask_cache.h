// Pruning masks shared across a run's studies. A trial's mask depends on its sparsity and its seed only (not on the
// batch size), so the runner computes the mask of (sparsity, trial) once, hands the same one to every batch size's
// trial r, and drops it after the last of those uses. Thread-safe: workers training trials in parallel may ask for
// one key at once; they wait for a single computation.
//
//   MaskCache masks;
//   for (each study and trial that will need a mask) masks.Expect(sparsity_index, trial);
//   ASSIGN_OR_RETURN(std::shared_ptr<const nn::Mask> mask, masks.Get(sparsity_index, trial, [&] { return Prune(); }));
//   ... train ...
//   masks.Release(sparsity_index, trial);   // also for a trial that was skipped and never asked
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_MASK_CACHE_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_MASK_CACHE_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "training/nn/mask.h"

namespace parsity::experiments {

class MaskCache {
 public:
  // One more use of the key's mask is expected (a trial that will be trained or skipped).
  void Expect(int sparsity_index, int trial);

  // The key's mask, computed by `compute` on the first call; every later call gets the same mask (or the same error)
  // without computing. Concurrent callers of one key wait for the one computation; other keys are not blocked.
  absl::StatusOr<std::shared_ptr<const nn::Mask>> Get(int sparsity_index, int trial,
                                                      const std::function<absl::StatusOr<nn::Mask>()>& compute);

  // One expected use is over (used or skipped); after the last, the cache drops the mask (holders keep theirs).
  void Release(int sparsity_index, int trial);

  // Keys currently held (for tests and progress).
  int size() const;

 private:
  struct Entry {
    std::mutex mutex;
    bool computed = false;
    absl::Status status;
    std::shared_ptr<const nn::Mask> mask;
    int uses = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<int, int>, std::shared_ptr<Entry>> entries_;
};

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_MASK_CACHE_H_
