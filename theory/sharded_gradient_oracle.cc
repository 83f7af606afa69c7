#include "theory/sharded_gradient_oracle.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tools/base/check.h"

namespace parsity::theory {

absl::StatusOr<std::unique_ptr<ShardedGradientOracle>> ShardedGradientOracle::Create(
    MPI_Comm communicator, GradientOracle* local, ShardedGradientOracleOptions options) {
  PARSITY_CHECK(local != nullptr);
  // Before any collective call, so that every rank given the same options fails alike, without waiting for others.
  if (options.max_examples_per_call < 1) {
    return absl::InvalidArgumentError(absl::StrCat("sharded gradient oracle: max_examples_per_call ",
                                                   options.max_examples_per_call, " must be >= 1"));
  }
  // Only the kept entries travel when the mask prunes anything; the reducer also checks that the ranks agree on the
  // dimension and the mask.
  const nn::Mask* mask = local->mask();
  const bool sparse = mask != nullptr && mask->pruned_count() > 0;
  absl::StatusOr<std::unique_ptr<distributed::MpiGradientReducer>> reducer =
      distributed::MpiGradientReducer::Create(communicator, local->dimension(), sparse ? mask : nullptr);
  if (!reducer.ok()) {
    return absl::Status(reducer.status().code(), absl::StrCat("sharded gradient oracle: ", reducer.status().message()));
  }
  const int64_t example_count = local->example_count();
  const absl::Status counts =
      (*reducer)->CheckBytesIdentical(&example_count, sizeof(example_count), "sharded gradient oracle: example counts");
  if (!counts.ok()) return counts;
  return std::unique_ptr<ShardedGradientOracle>(new ShardedGradientOracle(local, *std::move(reducer), options));
}

ShardedGradientOracle::ShardedGradientOracle(GradientOracle* local,
                                             std::unique_ptr<distributed::MpiGradientReducer> reducer,
                                             ShardedGradientOracleOptions options)
    : GradientOracle(local->dimension(), local->example_count(), local->mask()),
      local_(local),
      reducer_(std::move(reducer)),
      options_(options),
      part_(local->dimension()),
      sum_(local->dimension()) {
  const trainer::Shard mine = shard();
  shard_indices_.resize(mine.end - mine.begin);
  for (int64_t i = mine.begin; i < mine.end; ++i) shard_indices_[i - mine.begin] = i;
}

double ShardedGradientOracle::ComputeGradient(absl::Span<const float> w, absl::Span<float> gradient) {
  return ReduceMean(w, shard_indices_, example_count(), gradient);
}

double ShardedGradientOracle::ComputeBatchGradient(absl::Span<const float> w, absl::Span<const int64_t> indices,
                                                   absl::Span<float> gradient) {
  const int64_t total = static_cast<int64_t>(indices.size());
  const trainer::Shard mine = trainer::ShardOf(total, rank(), size());
  return ReduceMean(w, indices.subspan(mine.begin, mine.end - mine.begin), total, gradient);
}

double ShardedGradientOracle::ReduceMean(absl::Span<const float> w, absl::Span<const int64_t> shard_indices,
                                         int64_t total, absl::Span<float> gradient) {
  std::fill(sum_.begin(), sum_.end(), 0.0);
  double loss_sum = 0;
  const int64_t count = static_cast<int64_t>(shard_indices.size());
  for (int64_t begin = 0; begin < count; begin += options_.max_examples_per_call) {
    const int64_t n = std::min(options_.max_examples_per_call, count - begin);
    // The wrapped oracle's mean over the n indices, masked; times n, its sum.
    const double loss = local_->BatchGradient(w, shard_indices.subspan(begin, n), absl::MakeSpan(part_));
    const auto weight = static_cast<double>(n);
    for (size_t j = 0; j < sum_.size(); ++j) sum_[j] += weight * part_[j];
    loss_sum += weight * loss;
  }
  for (size_t j = 0; j < sum_.size(); ++j) gradient[j] = static_cast<float>(sum_[j]);
  reducer_->SumGradients(gradient);
  reducer_->SumScalars(absl::MakeSpan(&loss_sum, 1));
  const auto examples = static_cast<double>(total);
  for (float& value : gradient) value = static_cast<float>(static_cast<double>(value) / examples);
  return loss_sum / examples;
}

}  // namespace parsity::theory
