#include "training/nn/parameter_buffer.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/base/check.h"

namespace parsity::nn {

absl::string_view ParameterKindName(ParameterKind kind) {
  return kind == ParameterKind::kWeights ? "weights" : "biases";
}

const ParameterView& ParameterLayout::Append(std::string name, std::vector<int64_t> shape, int64_t fan_in,
                                             ParameterKind kind) {
  PARSITY_CHECK(!name.empty());
  PARSITY_CHECK(!Find(name).ok());
  PARSITY_CHECK(!shape.empty());
  PARSITY_CHECK(fan_in >= 1);
  int64_t size = 1;
  for (int64_t dimension : shape) {
    PARSITY_CHECK(dimension >= 1);
    size *= dimension;
  }
  ParameterView view;
  view.name = std::move(name);
  view.shape = std::move(shape);
  view.offset = size_;
  view.size = size;
  view.fan_in = fan_in;
  view.kind = kind;
  size_ += size;
  views_.push_back(std::move(view));
  return views_.back();
}

absl::StatusOr<const ParameterView*> ParameterLayout::Find(absl::string_view name) const {
  for (const ParameterView& view : views_) {
    if (view.name == name) return &view;
  }
  return absl::NotFoundError(absl::StrCat(
      "no parameter view named '", name, "'; known views: ",
      absl::StrJoin(views_, ", ", [](std::string* out, const ParameterView& view) { out->append(view.name); })));
}

absl::Span<float> Slice(absl::Span<float> buffer, const ParameterView& view) {
  PARSITY_CHECK(view.offset >= 0 && view.offset + view.size <= static_cast<int64_t>(buffer.size()));
  return buffer.subspan(view.offset, view.size);
}

absl::Span<const float> Slice(absl::Span<const float> buffer, const ParameterView& view) {
  PARSITY_CHECK(view.offset >= 0 && view.offset + view.size <= static_cast<int64_t>(buffer.size()));
  return buffer.subspan(view.offset, view.size);
}

ParameterBuffer::ParameterBuffer(ParameterLayout layout)
    : layout_(std::move(layout)), values_(static_cast<size_t>(layout_.size()), 0.0f) {}

absl::StatusOr<absl::Span<float>> ParameterBuffer::Span(absl::string_view name) {
  absl::StatusOr<const ParameterView*> view = layout_.Find(name);
  if (!view.ok()) return view.status();
  return Slice(Span(), **view);
}

absl::StatusOr<absl::Span<const float>> ParameterBuffer::Span(absl::string_view name) const {
  absl::StatusOr<const ParameterView*> view = layout_.Find(name);
  if (!view.ok()) return view.status();
  return Slice(Span(), **view);
}

}  // namespace parsity::nn
