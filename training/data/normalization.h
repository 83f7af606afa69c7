// Input standardization: x' = (x - mean) / stddev, with the mean and the (population) standard deviation of the
// training examples, either one scalar over all values (MNIST, Fashion-MNIST) or one per channel (CIFAR-10).
// The same statistics are applied to the training, validation and test examples.
//
//   ASSIGN_OR_RETURN(NormalizationStats stats, ComputeNormalizationStats(train, NormalizationScope::kScalar));
//   RETURN_IF_ERROR(ApplyNormalization(stats, &train));       // train now has mean 0, stddev 1
//   RETURN_IF_ERROR(ApplyNormalization(stats, &validation));  // same shift and scale
#ifndef PARSITY_TRAINING_DATA_NORMALIZATION_H_
#define PARSITY_TRAINING_DATA_NORMALIZATION_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "training/data/examples.h"

namespace parsity::data {

enum class NormalizationScope {
  kScalar,      // One mean and stddev over every value of every example.
  kPerChannel,  // One mean and stddev per channel (the last, fastest-varying index of HWC).
};

// mean and stddev hold one entry (scalar) or shape.channels entries (per channel).
struct NormalizationStats {
  std::vector<float> mean;
  std::vector<float> stddev;
};

// mean = sum(x) / N and stddev = sqrt(sum((x - mean)^2) / N) over the N values in scope (two passes, accumulated in
// double). Errors: InvalidArgument when `examples` is empty or invalid (ValidateExamples), or when a standard
// deviation is 0 (constant input cannot be standardized), naming the channel.
absl::StatusOr<NormalizationStats> ComputeNormalizationStats(const Examples& examples, NormalizationScope scope);

// Replaces every value x of channel c by (x - mean[c]) / stddev[c] (c = 0 for scalar stats). Errors:
// InvalidArgument when the stats have neither 1 nor shape.channels entries, mean and stddev differ in length, or a
// stddev is not positive and finite.
absl::Status ApplyNormalization(const NormalizationStats& stats, Examples* examples);

}  // namespace parsity::data

#endif  // PARSITY_TRAINING_DATA_NORMALIZATION_H_
