#include "training/distributed/synthetic_trial_data.h"

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace parsity::distributed {

data::Examples MakePatchExamples(int64_t count, uint64_t seed) {
  data::Examples examples;
  examples.shape = {28, 28, 1};
  examples.num_classes = 10;
  examples.pixels.resize(count * 784);
  examples.labels.resize(count);
  std::mt19937_64 engine(seed);
  for (int64_t i = 0; i < count; ++i) {
    const int label = static_cast<int>(i % 10);
    examples.labels[i] = i % 50 == 7 ? (label + 1) % 10 : label;
    float* pixels = examples.pixels.data() + i * 784;
    // The top 24 bits of each draw: exact in float, the same on every platform.
    for (int p = 0; p < 784; ++p) pixels[p] = static_cast<float>(engine() >> 40) * 0x1p-24f - 0.5f;
    const int row = 2 + 6 * (label / 4), column = 2 + 6 * (label % 4);
    for (int r = 0; r < 4; ++r) {
      for (int c = 0; c < 4; ++c) pixels[(row + r) * 28 + column + c] += 2.0f;
    }
  }
  return examples;
}

data::Dataset MakePatchDataset(int64_t train, int64_t validation) {
  data::Dataset dataset;
  dataset.name = "patches";
  dataset.train = MakePatchExamples(train, 1);
  dataset.validation = MakePatchExamples(validation, 2);
  return dataset;
}

absl::StatusOr<nn::Mask> MakeRandomMask(int64_t count, double sparsity, uint64_t seed) {
  if (count < 0 || !(sparsity >= 0 && sparsity <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("random mask: count ", count, " must be >= 0 and sparsity ", sparsity, " in [0, 1]"));
  }
  std::vector<int64_t> order(count);
  for (int64_t i = 0; i < count; ++i) order[i] = i;
  std::mt19937_64 engine(seed);
  for (int64_t i = count - 1; i > 0; --i) std::swap(order[i], order[engine() % static_cast<uint64_t>(i + 1)]);
  const int64_t kept = std::llround(static_cast<double>(count) * (1.0 - sparsity));
  std::vector<float> values(count, 0.0f);
  for (int64_t i = 0; i < kept; ++i) values[order[i]] = 1.0f;
  return nn::Mask::Create(std::move(values));
}

}  // namespace parsity::distributed
