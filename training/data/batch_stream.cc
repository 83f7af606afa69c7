#include "training/data/batch_stream.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "tools/base/status_macros.h"
#include "training/data/shuffle.h"

namespace parsity::data {

absl::StatusOr<BatchStream> BatchStream::Create(const Examples* examples, int64_t batch_size, uint64_t seed) {
  if (examples == nullptr) return absl::InvalidArgumentError("BatchStream::Create: examples is null");
  RETURN_IF_ERROR(ValidateExamples(*examples, "BatchStream examples"));
  if (batch_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("batch_size is ", batch_size, ", must be positive"));
  }
  if (batch_size > examples->size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size ", batch_size, " is larger than the ", examples->size(), " training examples"));
  }
  return BatchStream(examples, batch_size, seed);
}

BatchStream::BatchStream(const Examples* examples, int64_t batch_size, uint64_t seed)
    : examples_(examples), batch_size_(batch_size), engine_(seed), order_(examples->size()) {
  Reshuffle();
}

void BatchStream::Reshuffle() {
  std::iota(order_.begin(), order_.end(), int64_t{0});
  FisherYatesShuffle(engine_, &order_);
  position_ = 0;
}

void BatchStream::Next(Batch* batch) {
  const int64_t example_size = examples_->shape.Size();
  batch->shape = examples_->shape;
  batch->pixels.resize(batch_size_ * example_size);
  batch->labels.resize(batch_size_);
  const float* pixels = examples_->pixels.data();
  for (int64_t i = 0; i < batch_size_; ++i) {
    const int64_t index = order_[position_++];
    std::copy(pixels + index * example_size, pixels + (index + 1) * example_size,
              batch->pixels.data() + i * example_size);
    batch->labels[i] = examples_->labels[index];
    if (position_ == static_cast<int64_t>(order_.size())) {  // The epoch is complete: draw the next order.
      ++epoch_;
      Reshuffle();
    }
  }
  ++step_;
}

}  // namespace parsity::data
