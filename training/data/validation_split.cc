#include "training/data/validation_split.h"

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "tools/base/status_macros.h"
#include "training/data/shuffle.h"

namespace parsity::data {

absl::StatusOr<TrainValidationIndices> ChooseValidationExamples(int64_t count, double validation_fraction,
                                                                uint64_t seed) {
  if (!(validation_fraction >= 0.0 && validation_fraction < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("validation_fraction is ", validation_fraction, ", must be in [0, 1)"));
  }
  if (count <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot split a training set of ", count, " examples"));
  }
  const int64_t num_validation = std::llround(static_cast<double>(count) * validation_fraction);
  if (num_validation >= count) {
    return absl::InvalidArgumentError(absl::StrCat("validation_fraction ", validation_fraction, " of ", count,
                                                   " examples leaves no training example"));
  }
  std::mt19937_64 engine(seed);
  const std::vector<int64_t> permutation = ShuffledIndices(count, engine);
  std::vector<bool> is_validation(count, false);
  for (int64_t i = 0; i < num_validation; ++i) is_validation[permutation[i]] = true;
  TrainValidationIndices indices;
  indices.validation.reserve(num_validation);
  indices.train.reserve(count - num_validation);
  for (int64_t i = 0; i < count; ++i) (is_validation[i] ? indices.validation : indices.train).push_back(i);
  return indices;
}

absl::StatusOr<TrainValidationSplit> SplitTrainValidation(const Examples& examples, double validation_fraction,
                                                          uint64_t seed) {
  RETURN_IF_ERROR(ValidateExamples(examples, "examples to split"));
  ASSIGN_OR_RETURN(const TrainValidationIndices indices,
                   ChooseValidationExamples(examples.size(), validation_fraction, seed));
  TrainValidationSplit split;
  split.train = GatherExamples(examples, indices.train);
  split.validation = GatherExamples(examples, indices.validation);
  return split;
}

}  // namespace parsity::data
