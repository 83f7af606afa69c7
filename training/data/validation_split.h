// The paper's validation split: a random fraction of the training set (10%, seed 0) is held out for measuring the
// goal error, the rest is trained on. Deterministic across compilers and libraries (see shuffle.h).
//
//   ASSIGN_OR_RETURN(TrainValidationSplit split, SplitTrainValidation(full_train, kValidationFraction,
//                                                                     kValidationSplitSeed));
//   // MNIST: split.train.size() == 54000, split.validation.size() == 6000.
#ifndef PARSITY_TRAINING_DATA_VALIDATION_SPLIT_H_
#define PARSITY_TRAINING_DATA_VALIDATION_SPLIT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "training/data/examples.h"

namespace parsity::data {

// The paper's split: 10% held out, chosen with seed 0.
inline constexpr double kValidationFraction = 0.1;
inline constexpr uint64_t kValidationSplitSeed = 0;

// Indices into a training set of `count` examples, each in exactly one of the two lists, both ascending.
struct TrainValidationIndices {
  std::vector<int64_t> train;
  std::vector<int64_t> validation;
};

// Chooses round(count * validation_fraction) validation examples: the first ones of the permutation
// ShuffledIndices(count, std::mt19937_64(seed)); the others are training examples. The choice depends only on
// count, validation_fraction and seed. Errors: InvalidArgument when validation_fraction is not in [0, 1) or count is
// not positive, or no training example would remain.
absl::StatusOr<TrainValidationIndices> ChooseValidationExamples(int64_t count, double validation_fraction,
                                                                uint64_t seed);

struct TrainValidationSplit {
  Examples train;
  Examples validation;
};

// Splits `examples` with ChooseValidationExamples; both parts keep the original relative order of their examples.
// Errors: ChooseValidationExamples' errors, ValidateExamples' errors for `examples`.
absl::StatusOr<TrainValidationSplit> SplitTrainValidation(const Examples& examples, double validation_fraction,
                                                          uint64_t seed);

}  // namespace parsity::data

#endif  // PARSITY_TRAINING_DATA_VALIDATION_SPLIT_H_
