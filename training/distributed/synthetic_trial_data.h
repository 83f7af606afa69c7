// Synthetic inputs for the data-parallel test binary and benchmark (testonly): MNIST-shaped examples that
// LeNet-300-100 and Simple-CNN learn in a few dozen steps, and random pruning masks, built only from
// std::mt19937_64's bits so that every rank of a job (and every machine) builds the same ones.
//
//   data::Dataset dataset = MakePatchDataset(/*train=*/2000, /*validation=*/500);
//   ASSIGN_OR_RETURN(nn::Mask mask, MakeRandomMask(network->parameter_count(), 0.9, /*seed=*/0));
#ifndef PARSITY_TRAINING_DISTRIBUTED_SYNTHETIC_TRIAL_DATA_H_
#define PARSITY_TRAINING_DISTRIBUTED_SYNTHETIC_TRIAL_DATA_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "training/data/dataset.h"
#include "training/data/examples.h"
#include "training/nn/mask.h"

namespace parsity::distributed {

// 28x28x1 examples: example i has label i % 10 (every 50th one, i % 50 == 7, the next class instead, so that the
// error stays at or above 2%), marked by a bright 4x4 patch (+2) at a class-specific place over uniform noise in
// [-0.5, 0.5) from std::mt19937_64(seed).
data::Examples MakePatchExamples(int64_t count, uint64_t seed);

// A data set named "patches": MakePatchExamples(train, 1) and MakePatchExamples(validation, 2), no test part.
data::Dataset MakePatchDataset(int64_t train, int64_t validation);

// A mask over `count` parameters keeping round(count (1 - sparsity)) entries, chosen by a Fisher-Yates shuffle from
// std::mt19937_64(seed). Errors: InvalidArgument unless count >= 0 and sparsity is in [0, 1].
absl::StatusOr<nn::Mask> MakeRandomMask(int64_t count, double sparsity, uint64_t seed);

}  // namespace parsity::distributed

#endif  // PARSITY_TRAINING_DISTRIBUTED_SYNTHETIC_TRIAL_DATA_H_
