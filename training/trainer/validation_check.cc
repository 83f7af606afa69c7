#include "training/trainer/validation_check.h"

#include <algorithm>
#include <cmath>

#include "tools/base/check.h"

namespace parsity::trainer {

int64_t MaxErrorsWithin(double goal_error, int64_t examples) {
  PARSITY_CHECK(examples >= 1);
  const double total = static_cast<double>(examples);
  auto within = [&](int64_t errors) { return static_cast<double>(errors) / total <= goal_error; };
  int64_t errors = static_cast<int64_t>(std::floor(std::clamp(goal_error, 0.0, 1.0) * total));
  // The product may round either way; step to the exact boundary of the comparison the trainer makes.
  while (errors >= 0 && !within(errors)) --errors;
  while (errors < examples && within(errors + 1)) ++errors;
  return errors;
}

ValidationCheck::ValidationCheck(const data::Examples* validation, GradientEvaluator* evaluator,
                                 GradientReducer* reducer, ValidationCheckOptions options)
    : validation_(validation), evaluator_(evaluator), reducer_(reducer), options_(options) {
  PARSITY_CHECK(validation != nullptr && evaluator != nullptr);
  PARSITY_CHECK(validation->size() >= 1 && options.round_examples >= 0);
  const int ranks = reducer == nullptr ? 1 : reducer->size();
  const int rank = reducer == nullptr ? 0 : reducer->rank();
  shard_ = ShardOf(validation->size(), rank, ranks);
  // The largest shard has ceil(N / P) examples; every rank runs that many rounds.
  const int64_t largest_shard = (validation->size() + ranks - 1) / ranks;
  if (options_.round_examples == 0) {
    options_.round_examples =
        std::clamp<int64_t>((largest_shard + 3) / 4, 1, 128 * static_cast<int64_t>(evaluator->options().threads));
  }
  rounds_ = (largest_shard + options_.round_examples - 1) / options_.round_examples;
  if (options_.early_exit) {
    const int64_t shard_size = shard_.end - shard_.begin;
    last_misclassified_.assign(shard_size, 0);
    order_.resize(shard_size);
    pixels_.resize(options_.round_examples * validation->shape.Size());
    labels_.resize(options_.round_examples);
    correct_.resize(options_.round_examples);
  }
}

CheckEvaluation ValidationCheck::Run(absl::Span<const float> parameters, int64_t max_errors) {
  CheckEvaluation result;
  result.examples = validation_->size();
  if (!options_.early_exit) {
    const Evaluation part = evaluator_->Evaluate(parameters, *validation_, shard_.begin, shard_.end);
    double sums[2] = {part.loss_sum, static_cast<double>(part.errors)};
    if (reducer_ != nullptr) reducer_->SumScalars(sums);
    result.evaluated = result.examples;
    result.loss_sum = sums[0];
    result.errors = static_cast<int64_t>(sums[1]);
    return result;
  }
  // Last check's misclassified examples first, then the others, each by index.
  const int64_t shard_size = shard_.end - shard_.begin;
  int64_t front = 0;
  for (int64_t i = 0; i < shard_size; ++i) {
    if (last_misclassified_[i]) order_[front++] = i;
  }
  for (int64_t i = 0, back = front; i < shard_size; ++i) {
    if (!last_misclassified_[i]) order_[back++] = i;
  }
  const int64_t example_size = validation_->shape.Size();
  for (int64_t round = 0; round < rounds_; ++round) {
    const int64_t begin = std::min(shard_size, round * options_.round_examples);
    const int64_t end = std::min(shard_size, begin + options_.round_examples);
    for (int64_t k = begin; k < end; ++k) {
      const int64_t example = shard_.begin + order_[k];
      std::copy_n(validation_->example(example), example_size, pixels_.data() + (k - begin) * example_size);
      labels_[k - begin] = validation_->labels[example];
    }
    const Evaluation part = evaluator_->Evaluate(parameters, pixels_.data(), labels_.data(), end - begin,
                                                 correct_.data());
    for (int64_t k = begin; k < end; ++k) last_misclassified_[order_[k]] = correct_[k - begin] ? 0 : 1;
    double sums[3] = {part.loss_sum, static_cast<double>(part.errors), static_cast<double>(end - begin)};
    if (reducer_ != nullptr) reducer_->SumScalars(sums);
    result.loss_sum += sums[0];
    result.errors += static_cast<int64_t>(sums[1]);
    result.evaluated += static_cast<int64_t>(sums[2]);
    if (result.errors > max_errors || !std::isfinite(result.loss_sum)) break;
  }
  return result;
}

}  // namespace parsity::trainer
