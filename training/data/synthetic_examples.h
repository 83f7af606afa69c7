// Synthetic MNIST-shaped data for tests: 28x28x1 examples in 10 classes that Simple-CNN and LeNet-300-100 learn in a
// few dozen steps, so that trainers, pruning and studies can be tested on real learning in milliseconds.
//
//   const data::Examples train = MakePatchExamples(/*count=*/300, /*seed=*/1);
//   const data::Dataset dataset = MakePatchDataset(/*train=*/300, /*validation=*/100);
#ifndef PARSITY_TRAINING_DATA_SYNTHETIC_EXAMPLES_H_
#define PARSITY_TRAINING_DATA_SYNTHETIC_EXAMPLES_H_

#include <cstdint>

#include "training/data/dataset.h"
#include "training/data/examples.h"

namespace parsity::data {

// Example i has class i % 10, marked by a bright 4x4 patch (+2) at a class-specific place over Gaussian noise (std
// 0.3) drawn from std::mt19937_64(seed). When mislabel_every > 0, every example with i % mislabel_every == 7 gets
// the next class's label instead, so that the error rate cannot fall below about 1 / mislabel_every.
Examples MakePatchExamples(int64_t count, uint64_t seed, int64_t mislabel_every = 0);

// A data set named "patches": MakePatchExamples(train, 1, mislabel_every) and
// MakePatchExamples(validation, 2, mislabel_every), no test part.
Dataset MakePatchDataset(int64_t train, int64_t validation, int64_t mislabel_every = 0);

}  // namespace parsity::data

#endif  // PARSITY_TRAINING_DATA_SYNTHETIC_EXAMPLES_H_
