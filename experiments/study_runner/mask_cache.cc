#include "experiments/study_runner/mask_cache.h"

namespace parsity::experiments {

void MaskCache::Expect(int sparsity_index, int trial) {
  std::lock_guard<std::mutex> lock(mutex_);
  Entry& entry = *entries_.try_emplace({sparsity_index, trial}, std::make_shared<Entry>()).first->second;
  ++entry.uses;
}

absl::StatusOr<std::shared_ptr<const nn::Mask>> MaskCache::Get(
    int sparsity_index, int trial, const std::function<absl::StatusOr<nn::Mask>()>& compute) {
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::shared_ptr<Entry>& slot = entries_[{sparsity_index, trial}];
    if (slot == nullptr) slot = std::make_shared<Entry>();
    entry = slot;
  }
  // Only this key's callers wait here; the cache's own lock is free while the mask is computed.
  std::lock_guard<std::mutex> lock(entry->mutex);
  if (!entry->computed) {
    absl::StatusOr<nn::Mask> mask = compute();
    entry->computed = true;
    if (mask.ok()) {
      entry->mask = std::make_shared<const nn::Mask>(*std::move(mask));
    } else {
      entry->status = mask.status();
    }
  }
  if (!entry->status.ok()) return entry->status;
  return entry->mask;
}

void MaskCache::Release(int sparsity_index, int trial) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = entries_.find({sparsity_index, trial});
  if (it != entries_.end() && --it->second->uses <= 0) entries_.erase(it);
}

int MaskCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(entries_.size());
}

}  // namespace parsity::experiments
