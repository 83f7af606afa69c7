// The in-memory layout of image classification data shared by the data readers, the batch stream and the networks.
//
// Pixels are float, HWC order within an example, examples contiguous (NHWC). Labels are class indices.
//
//   const Examples& train = dataset.train;                 // e.g. MNIST: shape 28x28x1, 54,000 examples
//   const float* first = train.example(0);                 // train.shape.Size() floats
//   FillBatch(train, /*begin=*/0, /*count=*/100, &batch);  // copy a range, e.g. for evaluation
#ifndef PARSITY_TRAINING_DATA_EXAMPLES_H_
#define PARSITY_TRAINING_DATA_EXAMPLES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tools/base/aligned_vector.h"

namespace parsity::data {

// The shape of one example: height x width x channels, stored in that (HWC) order.
struct ImageShape {
  int height = 0;
  int width = 0;
  int channels = 0;

  // Values per example: height * width * channels.
  int64_t Size() const { return static_cast<int64_t>(height) * width * channels; }
  // "28x28x1".
  std::string ToString() const;

  friend bool operator==(const ImageShape& a, const ImageShape& b) {
    return a.height == b.height && a.width == b.width && a.channels == b.channels;
  }
  friend bool operator!=(const ImageShape& a, const ImageShape& b) { return !(a == b); }
};

// A set of labelled examples. Invariants (checked by ValidateExamples): pixels.size() == size() * shape.Size() and
// every label is in [0, num_classes).
struct Examples {
  ImageShape shape;
  int num_classes = 10;
  AlignedFloatVector pixels;    // size() * shape.Size() values, NHWC; 64-byte aligned, as the kernels read them.
  std::vector<int32_t> labels;  // One class index in [0, num_classes) per example.

  // Number of examples.
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  // Example i's shape.Size() pixels. REQUIRES: 0 <= i < size().
  const float* example(int64_t i) const { return pixels.data() + i * shape.Size(); }
};

// A minibatch: `size()` examples in the same NHWC layout as Examples. Owned by the caller and refilled in place, so
// that a training step allocates nothing after the first batch.
struct Batch {
  AlignedFloatVector pixels;    // size() * shape.Size() values, NHWC; 64-byte aligned, as the kernels read them.
  std::vector<int32_t> labels;  // One class index per example.
  ImageShape shape;             // Shape of one example (set by whoever fills the batch).

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// Checks the Examples invariants. Errors: InvalidArgument naming `what` (e.g. "mnist train") and the field at fault:
// a non-positive dimension or num_classes, a pixel count that is not size() * shape.Size(), or a label (index and
// value) outside [0, num_classes).
absl::Status ValidateExamples(const Examples& examples, absl::string_view what);

// Copies examples [begin, begin + count) into `batch` (resized to `count`; no allocation when its capacity
// suffices), and sets batch->shape. REQUIRES: 0 <= begin, 0 <= count, begin + count <= examples.size().
void FillBatch(const Examples& examples, int64_t begin, int64_t count, Batch* batch);

// The examples at `indices`, in that order (an index may repeat). REQUIRES: every index in [0, examples.size()).
Examples GatherExamples(const Examples& examples, const std::vector<int64_t>& indices);

}  // namespace parsity::data

#endif  // PARSITY_TRAINING_DATA_EXAMPLES_H_
