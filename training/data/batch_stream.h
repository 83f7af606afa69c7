// An endless stream of training minibatches: the examples in a random order, reshuffled every epoch.
//
// The stream is the sequence of examples order_0, order_1, ... where order_k, the k-th epoch, is the permutation
// ShuffledIndices(n, engine) drawn from one std::mt19937_64(seed) (shuffle.h), and batches are consecutive runs of
// batch_size examples of it. A batch may therefore straddle two epochs (as tf.data's shuffle().repeat().batch()),
// every example appears exactly once per epoch, and the example sequence depends only on the seed and the number
// of examples: not on the batch size, the pixel values, the compiler or the standard library.
//
//   ASSIGN_OR_RETURN(BatchStream stream, BatchStream::Create(&dataset.train, /*batch_size=*/128, /*seed=*/0));
//   Batch batch;                                     // reused: no allocation after the first Next()
//   for (int step = 0; step < steps; ++step) { stream.Next(&batch); TrainStep(batch); }
#ifndef PARSITY_TRAINING_DATA_BATCH_STREAM_H_
#define PARSITY_TRAINING_DATA_BATCH_STREAM_H_

#include <cstdint>
#include <random>
#include <vector>

#include "absl/status/statusor.h"
#include "training/data/examples.h"

namespace parsity::data {

class BatchStream {
 public:
  // A stream over `examples`, which must outlive it and stay unchanged. Errors: InvalidArgument when examples is
  // null or invalid (ValidateExamples), batch_size <= 0, or batch_size > examples->size() (a batch larger than the
  // training set), naming the values.
  static absl::StatusOr<BatchStream> Create(const Examples* examples, int64_t batch_size, uint64_t seed);

  // Fills `batch` with the next batch_size() examples of the stream (pixels, labels and shape). `batch` is resized
  // only when its size differs, so reusing one Batch makes every step after the first allocation-free.
  void Next(Batch* batch);

  // Number of complete passes over the examples delivered so far: floor(examples delivered / examples->size()).
  int64_t epoch() const { return epoch_; }
  // Number of Next() calls so far.
  int64_t step() const { return step_; }
  int64_t batch_size() const { return batch_size_; }

 private:
  BatchStream(const Examples* examples, int64_t batch_size, uint64_t seed);

  // Draws the next epoch's order.
  void Reshuffle();

  const Examples* examples_;
  int64_t batch_size_;
  std::mt19937_64 engine_;
  std::vector<int64_t> order_;  // The current epoch's permutation of 0..n-1.
  int64_t position_ = 0;        // Next index into order_.
  int64_t epoch_ = 0;
  int64_t step_ = 0;
};

}  // namespace parsity::data

#endif  // PARSITY_TRAINING_DATA_BATCH_STREAM_H_
