#include "pruning/selection.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/base/check.h"

namespace parsity::pruning {
namespace {

// Marks the `kept` best of `candidates` (buffer indices) in `mask`: higher score first, then lower index. The order
// is total, so the chosen set does not depend on the algorithm or the library.
void KeepTop(absl::Span<const double> scores, int64_t kept, std::vector<int64_t>* candidates,
             std::vector<float>* mask) {
  PARSITY_CHECK(kept >= 0 && kept <= static_cast<int64_t>(candidates->size()));
  if (kept < static_cast<int64_t>(candidates->size())) {
    const auto ranks_higher = [scores](int64_t a, int64_t b) {
      return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
    };
    std::nth_element(candidates->begin(), candidates->begin() + kept, candidates->end(), ranks_higher);
  }
  for (int64_t i = 0; i < kept; ++i) (*mask)[(*candidates)[i]] = 1.0f;
}

}  // namespace

absl::string_view PruningScopeName(PruningScope scope) {
  switch (scope) {
    case PruningScope::kGlobal:
      return "global";
    case PruningScope::kPerLayer:
      return "layer";
  }
  return "unknown";
}

absl::Status ValidateSparsity(double sparsity) {
  if (!(sparsity >= 0.0 && sparsity < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sparsity: ", sparsity, " is not in [0, 1) (the fraction of prunable entries to prune)"));
  }
  return absl::OkStatus();
}

int64_t KeptCount(int64_t count, double sparsity) {
  PARSITY_CHECK(count >= 0);
  PARSITY_CHECK(sparsity >= 0.0 && sparsity < 1.0);
  return static_cast<int64_t>(std::round(static_cast<double>(count) * (1.0 - sparsity)));
}

bool IsPrunable(const nn::ParameterView& view, bool prune_biases) {
  return view.kind == nn::ParameterKind::kWeights || prune_biases;
}

int64_t PrunableCount(const nn::ParameterLayout& layout, bool prune_biases) {
  int64_t count = 0;
  for (const nn::ParameterView& view : layout.views()) {
    if (IsPrunable(view, prune_biases)) count += view.size;
  }
  return count;
}

absl::StatusOr<nn::Mask> SelectTopScores(absl::Span<const double> scores, const nn::ParameterLayout& layout,
                                                 double sparsity, const SelectionOptions& options) {
  if (absl::Status status = ValidateSparsity(sparsity); !status.ok()) return status;
  if (static_cast<int64_t>(scores.size()) != layout.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("scores have ", scores.size(), " entries, the parameter buffer ", layout.size()));
  }
  if (sparsity == 0.0) return nn::Mask::AllKept(layout.size());
  for (const nn::ParameterView& view : layout.views()) {
    if (!IsPrunable(view, options.prune_biases)) continue;
    for (int64_t i = view.offset; i < view.offset + view.size; ++i) {
      if (std::isnan(scores[i])) {
        return absl::InvalidArgumentError(
            absl::StrCat("score ", i, " (in view '", view.name, "') is NaN and cannot be ranked"));
      }
    }
  }

  std::vector<float> mask(static_cast<size_t>(layout.size()), 0.0f);
  std::vector<int64_t> candidates;
  if (options.scope == PruningScope::kGlobal) {
    for (const nn::ParameterView& view : layout.views()) {
      if (!IsPrunable(view, options.prune_biases)) continue;
      for (int64_t i = view.offset; i < view.offset + view.size; ++i) candidates.push_back(i);
    }
    const int64_t kept = KeptCount(static_cast<int64_t>(candidates.size()), sparsity);
    KeepTop(scores, kept, &candidates, &mask);
  } else {
    for (const nn::ParameterView& view : layout.views()) {
      if (!IsPrunable(view, options.prune_biases)) continue;
      candidates.clear();
      for (int64_t i = view.offset; i < view.offset + view.size; ++i) candidates.push_back(i);
      KeepTop(scores, KeptCount(view.size, sparsity), &candidates, &mask);
    }
  }
  for (const nn::ParameterView& view : layout.views()) {
    if (IsPrunable(view, options.prune_biases)) continue;
    std::fill(mask.begin() + view.offset, mask.begin() + view.offset + view.size, 1.0f);
  }
  return nn::Mask::Create(std::move(mask));
}

}  // namespace parsity::pruning
