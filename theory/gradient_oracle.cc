#include "theory/gradient_oracle.h"

#include <algorithm>
#include <utility>

#include "absl/base/casts.h"
#include "absl/strings/str_cat.h"
#include "tools/base/check.h"
#include "tools/base/status_macros.h"

namespace parsity::theory {
namespace {

template <typename T>
void ZeroPruned(const nn::Mask* mask, absl::Span<T> buffer) {
  if (mask == nullptr) return;
  PARSITY_CHECK(static_cast<int64_t>(buffer.size()) == mask->size());
  const absl::Span<const float> keep = mask->values();
  for (size_t i = 0; i < buffer.size(); ++i) {
    if (keep[i] == 0.0f) buffer[i] = T(0);
  }
}

}  // namespace

GradientOracle::GradientOracle(int64_t dimension, int64_t example_count, const nn::Mask* mask)
    : dimension_(dimension), example_count_(example_count), mask_(mask) {
  PARSITY_CHECK(dimension >= 1 && example_count >= 1);
  PARSITY_CHECK(mask == nullptr || mask->size() == dimension);
}

absl::Span<const float> GradientOracle::PrunedPoint(absl::Span<const float> w) {
  if (mask_ == nullptr) return w;
  const absl::Span<const float> keep = mask_->values();
  size_t i = 0;
  while (i < w.size() && (keep[i] != 0.0f || absl::bit_cast<uint32_t>(w[i]) == 0)) ++i;  // +0.0f only
  if (i == w.size()) return w;
  pruned_point_.assign(w.begin(), w.end());
  mask_->Apply(absl::MakeSpan(pruned_point_));
  return pruned_point_;
}

double GradientOracle::Gradient(absl::Span<const float> w, absl::Span<float> gradient) {
  PARSITY_CHECK(static_cast<int64_t>(w.size()) == dimension_ && gradient.size() == w.size());
  const double loss = ComputeGradient(PrunedPoint(w), gradient);
  ZeroPruned(mask_, gradient);
  return loss;
}

double GradientOracle::BatchGradient(absl::Span<const float> w, absl::Span<const int64_t> indices,
                                     absl::Span<float> gradient) {
  PARSITY_CHECK(static_cast<int64_t>(w.size()) == dimension_ && gradient.size() == w.size());
  PARSITY_CHECK(!indices.empty());
  for (const int64_t index : indices) PARSITY_CHECK(index >= 0 && index < example_count_);
  const double loss = ComputeBatchGradient(PrunedPoint(w), indices, gradient);
  ZeroPruned(mask_, gradient);
  return loss;
}

void GradientOracle::ApplyMask(absl::Span<float> buffer) const {
  PARSITY_CHECK(static_cast<int64_t>(buffer.size()) == dimension_);
  ZeroPruned(mask_, buffer);
}

void GradientOracle::ApplyMask(absl::Span<double> buffer) const {
  PARSITY_CHECK(static_cast<int64_t>(buffer.size()) == dimension_);
  ZeroPruned(mask_, buffer);
}

absl::StatusOr<std::unique_ptr<NetworkGradientOracle>> NetworkGradientOracle::Create(
    const nn::Network* network, const data::Examples* examples, const nn::Mask* mask,
    trainer::EvaluatorOptions options) {
  PARSITY_CHECK(network != nullptr && examples != nullptr);
  if (examples->size() == 0) return absl::InvalidArgumentError("gradient oracle: no examples");
  const nn::ImageShape& input = network->input_shape();
  const data::ImageShape& shape = examples->shape;
  if (shape.height != input.height || shape.width != input.width || shape.channels != input.channels ||
      examples->num_classes != network->num_classes()) {
    return absl::InvalidArgumentError(absl::StrCat("gradient oracle: examples of shape ", shape.ToString(), " and ",
                                                   examples->num_classes, " classes do not fit network '",
                                                   network->name(), "' (", nn::ImageShapeString(input), ", ",
                                                   network->num_classes(), " classes)"));
  }
  if (static_cast<int64_t>(examples->pixels.size()) != examples->size() * shape.Size()) {
    return absl::InvalidArgumentError(absl::StrCat("gradient oracle: ", examples->pixels.size(), " pixels for ",
                                                   examples->size(), " examples of ", shape.ToString()));
  }
  if (mask != nullptr) {
    const absl::Status covers = mask->CheckCovers(network->parameter_count());
    if (!covers.ok()) return absl::InvalidArgumentError(absl::StrCat("gradient oracle: ", covers.message()));
  }
  if (options.threads < 1 || options.max_chunk < 1) {
    return absl::InvalidArgumentError(absl::StrCat("gradient oracle: threads ", options.threads, " and max_chunk ",
                                                   options.max_chunk, " must be >= 1"));
  }
  std::unique_ptr<nn::SparsePlan> sparse_plan;
  if (mask != nullptr && options.sparse_plan == nullptr) {
    ASSIGN_OR_RETURN(sparse_plan, nn::SparsePlan::Create(*network, *mask, {}));
    options.sparse_plan = sparse_plan.get();
  }
  return std::unique_ptr<NetworkGradientOracle>(
      new NetworkGradientOracle(network, examples, mask, options, std::move(sparse_plan)));
}

NetworkGradientOracle::NetworkGradientOracle(const nn::Network* network, const data::Examples* examples,
                                             const nn::Mask* mask, trainer::EvaluatorOptions options,
                                             std::unique_ptr<nn::SparsePlan> sparse_plan)
    : GradientOracle(network->parameter_count(), examples->size(), mask),
      examples_(examples),
      sparse_plan_(std::move(sparse_plan)),
      evaluator_(network, options) {
  batch_.shape = examples->shape;
}

double NetworkGradientOracle::ComputeGradient(absl::Span<const float> w, absl::Span<float> gradient) {
  return evaluator_.MeanGradient(w, examples_->pixels.data(), examples_->labels.data(), examples_->size(), gradient);
}

double NetworkGradientOracle::ComputeBatchGradient(absl::Span<const float> w, absl::Span<const int64_t> indices,
                                                   absl::Span<float> gradient) {
  const int64_t values = examples_->shape.Size();
  const int64_t count = static_cast<int64_t>(indices.size());
  batch_.pixels.resize(count * values);
  batch_.labels.resize(count);
  for (int64_t k = 0; k < count; ++k) {
    const float* source = examples_->example(indices[k]);
    std::copy(source, source + values, batch_.pixels.begin() + k * values);
    batch_.labels[k] = examples_->labels[indices[k]];
  }
  return evaluator_.MeanGradient(w, batch_.pixels.data(), batch_.labels.data(), count, gradient);
}

}  // namespace parsity::theory
