// A tiny MNIST-shaped data set for the study tests (testonly): 28x28 grayscale images whose class is a bright 7x5
// patch at one of ten places over a noisy background, written as the four IDX files LoadDataset("mnist", dir) reads.
// LeNet-300-100 learns it in tens of steps at a good learning rate, and not at all at a poor one, so a small study
// has COMPLETE, INCOMPLETE and sometimes INFEASIBLE trials.
//
//   WriteTinyMnist(dir, /*train_count=*/600, /*test_count=*/100);   // 540 train / 60 validation after the split
//   ASSERT_OK_AND_ASSIGN(data::Dataset dataset, data::LoadDataset("mnist", dir));
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_TINY_MNIST_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_TINY_MNIST_H_

#include <string>

#include "absl/status/status.h"

namespace parsity::experiments {

// Writes train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte into
// `directory` (created if missing); deterministic. Errors: the writes'.
absl::Status WriteTinyMnist(const std::string& directory, int train_count, int test_count);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_TINY_MNIST_H_
