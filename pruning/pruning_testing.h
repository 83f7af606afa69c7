// Synthetic data for the pruning tests: MNIST-shaped (28x28x1, 10 classes) examples that Simple-CNN and
// LeNet-300-100 learn in a few dozen steps, so that SNIP has a meaningful loss and training has something to do.
//
//   const data::Examples train = MakePatchExamples(/*count=*/300, /*seed=*/1);
//   const data::Dataset dataset = MakePatchDataset(/*train=*/300, /*validation=*/100);
#ifndef PARSITY_PRUNING_PRUNING_TESTING_H_
#define PARSITY_PRUNING_PRUNING_TESTING_H_

#include <cstdint>

#include "training/data/dataset.h"
#include "training/data/examples.h"

namespace parsity::pruning {

// Example i has label i % 10, marked by a bright 4x4 patch at a class-specific place, over Gaussian noise (std 0.3)
// drawn from std::mt19937_64(seed).
data::Examples MakePatchExamples(int64_t count, uint64_t seed);

// A data set named "patches": MakePatchExamples(train, 1) and MakePatchExamples(validation, 2), no test part.
data::Dataset MakePatchDataset(int64_t train, int64_t validation);

}  // namespace parsity::pruning

#endif  // PARSITY_PRUNING_PRUNING_TESTING_H_
