#include "training/data/examples.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tools/base/check.h"

namespace parsity::data {

std::string ImageShape::ToString() const { return absl::StrCat(height, "x", width, "x", channels); }

absl::Status ValidateExamples(const Examples& examples, absl::string_view what) {
  const ImageShape& shape = examples.shape;
  if (shape.height <= 0 || shape.width <= 0 || shape.channels <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": image shape ", shape.ToString(), " has a non-positive dimension"));
  }
  if (examples.num_classes <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": num_classes is ", examples.num_classes));
  }
  const int64_t expected_pixels = examples.size() * shape.Size();
  if (static_cast<int64_t>(examples.pixels.size()) != expected_pixels) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", examples.pixels.size(), " pixel values for ",
                                                   examples.size(), " labels of shape ", shape.ToString(),
                                                   " (expected ", expected_pixels, ")"));
  }
  for (int64_t i = 0; i < examples.size(); ++i) {
    const int32_t label = examples.labels[i];
    if (label < 0 || label >= examples.num_classes) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": label of example ", i, " is ", label, ", outside [0, ", examples.num_classes, ")"));
    }
  }
  return absl::OkStatus();
}

void FillBatch(const Examples& examples, int64_t begin, int64_t count, Batch* batch) {
  PARSITY_CHECK(begin >= 0 && count >= 0 && begin + count <= examples.size());
  const int64_t example_size = examples.shape.Size();
  batch->shape = examples.shape;
  batch->pixels.resize(count * example_size);
  batch->labels.resize(count);
  std::copy(examples.pixels.begin() + begin * example_size, examples.pixels.begin() + (begin + count) * example_size,
            batch->pixels.begin());
  std::copy(examples.labels.begin() + begin, examples.labels.begin() + begin + count, batch->labels.begin());
}

Examples GatherExamples(const Examples& examples, const std::vector<int64_t>& indices) {
  Examples gathered;
  gathered.shape = examples.shape;
  gathered.num_classes = examples.num_classes;
  const int64_t example_size = examples.shape.Size();
  gathered.pixels.resize(indices.size() * example_size);
  gathered.labels.resize(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t index = indices[i];
    PARSITY_CHECK(index >= 0 && index < examples.size());
    std::copy(examples.example(index), examples.example(index) + example_size,
              gathered.pixels.begin() + i * example_size);
    gathered.labels[i] = examples.labels[index];
  }
  return gathered;
}

}  // namespace parsity::data
