// The spine of parsity: all parameters of a network in ONE contiguous float buffer, with named views per layer
// (weights and biases apart). Gradients, masks, optimizer state, SNIP scores and all-reduces are buffers of the same
// size and layout, so they work on whole buffers (`absl::Span<float>`) and never need to know the network.
//
//   ParameterBuffer parameters(network->layout());                       // zero-filled, 64-byte aligned
//   network->Initialize(engine, parameters.Span());
//   ASSIGN_OR_RETURN(absl::Span<float> conv1, parameters.Span("conv1/weights"));
#ifndef PARSITY_TRAINING_NN_PARAMETER_BUFFER_H_
#define PARSITY_TRAINING_NN_PARAMETER_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tools/base/aligned_vector.h"

namespace parsity::nn {

// What a view holds. Initialization draws WEIGHTS from a truncated normal and sets BIASES to zero.
enum class ParameterKind { kWeights, kBiases };

// "weights" or "biases".
absl::string_view ParameterKindName(ParameterKind kind);

// One named tensor inside the buffer: elements [offset, offset + size) in row-major order of `shape`.
// Shapes: convolution weights {kernel_height, kernel_width, in_channels, out_channels} (TensorFlow's HWIO),
// fully connected weights {in_features, out_features}, biases {out_channels}.
struct ParameterView {
  std::string name;            // "<layer>/weights" or "<layer>/biases", unique within a layout.
  std::vector<int64_t> shape;  // Product of the dimensions == size.
  int64_t offset = 0;          // In floats from the start of the buffer.
  int64_t size = 0;            // In floats.
  int64_t fan_in = 0;          // Inputs feeding each output unit: kernel_height*kernel_width*in_channels, or
                               // in_features. Initialization scales weights by 1/sqrt(fan_in).
  ParameterKind kind = ParameterKind::kWeights;
};

// An ordered list of views tiling [0, size()) without gaps, in the order they were appended.
class ParameterLayout {
 public:
  ParameterLayout() = default;

  // Appends a view right after the last one and returns it. REQUIRES: `name` is new, every dimension >= 1,
  // fan_in >= 1 (programmer errors abort).
  const ParameterView& Append(std::string name, std::vector<int64_t> shape, int64_t fan_in, ParameterKind kind);

  // Total number of floats.
  int64_t size() const { return size_; }
  const std::vector<ParameterView>& views() const { return views_; }

  // The view called `name`. Errors: NotFound naming `name` and listing the known names.
  absl::StatusOr<const ParameterView*> Find(absl::string_view name) const;

 private:
  std::vector<ParameterView> views_;
  int64_t size_ = 0;
};

// The part of a whole buffer (parameters, gradient, mask, ...) that `view` covers.
// REQUIRES: buffer.size() >= view.offset + view.size.
absl::Span<float> Slice(absl::Span<float> buffer, const ParameterView& view);
absl::Span<const float> Slice(absl::Span<const float> buffer, const ParameterView& view);

// Owns one buffer of layout().size() floats (zero-filled at construction) and hands out views of it.
// Copyable and movable; spans stay valid while the buffer lives and is not moved from.
class ParameterBuffer {
 public:
  explicit ParameterBuffer(ParameterLayout layout);

  const ParameterLayout& layout() const { return layout_; }
  int64_t size() const { return static_cast<int64_t>(values_.size()); }
  float* data() { return values_.data(); }
  const float* data() const { return values_.data(); }

  // The whole buffer.
  absl::Span<float> Span() { return absl::MakeSpan(values_); }
  absl::Span<const float> Span() const { return absl::MakeConstSpan(values_); }

  // One named view. Errors: NotFound as ParameterLayout::Find.
  absl::StatusOr<absl::Span<float>> Span(absl::string_view name);
  absl::StatusOr<absl::Span<const float>> Span(absl::string_view name) const;

  // The whole buffer as an Eigen vector, for buffer arithmetic (`a.Vector() += lr * g.Vector()`).
  Eigen::Map<Eigen::VectorXf, Eigen::Aligned64> Vector() {
    return Eigen::Map<Eigen::VectorXf, Eigen::Aligned64>(values_.data(), size());
  }
  Eigen::Map<const Eigen::VectorXf, Eigen::Aligned64> Vector() const {
    return Eigen::Map<const Eigen::VectorXf, Eigen::Aligned64>(values_.data(), size());
  }

 private:
  ParameterLayout layout_;
  AlignedFloatVector values_;
};

}  // namespace parsity::nn

#endif  // PARSITY_TRAINING_NN_PARAMETER_BUFFER_H_
