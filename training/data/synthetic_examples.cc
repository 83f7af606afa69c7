#include "training/data/synthetic_examples.h"

#include <random>

namespace parsity::data {

Examples MakePatchExamples(int64_t count, uint64_t seed, int64_t mislabel_every) {
  Examples examples;
  examples.shape = {28, 28, 1};
  examples.num_classes = 10;
  examples.pixels.resize(count * 784);
  examples.labels.resize(count);
  std::mt19937_64 engine(seed);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  for (int64_t i = 0; i < count; ++i) {
    const int label = static_cast<int>(i % 10);
    const bool mislabeled = mislabel_every > 0 && i % mislabel_every == 7;
    examples.labels[i] = mislabeled ? (label + 1) % 10 : label;
    float* pixels = examples.pixels.data() + i * 784;
    for (int p = 0; p < 784; ++p) pixels[p] = noise(engine);
    const int row = 2 + 6 * (label / 4), column = 2 + 6 * (label % 4);
    for (int r = 0; r < 4; ++r) {
      for (int c = 0; c < 4; ++c) pixels[(row + r) * 28 + column + c] += 2.0f;
    }
  }
  return examples;
}

Dataset MakePatchDataset(int64_t train, int64_t validation, int64_t mislabel_every) {
  Dataset dataset;
  dataset.name = "patches";
  dataset.train = MakePatchExamples(train, 1, mislabel_every);
  dataset.validation = MakePatchExamples(validation, 2, mislabel_every);
  return dataset;
}

}  // namespace parsity::data
