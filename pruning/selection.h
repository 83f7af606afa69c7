// Turns per-parameter scores into a pruning mask: keep the highest-scoring entries, prune the rest. Every scheme
// (SNIP, magnitude, random) shares this rule, so they differ only in their scores. Design note: pruning/README.md.
//
//   std::vector<double> scores = MagnitudeScores(parameters);                 // pruning/magnitude.h
//   ASSIGN_OR_RETURN(nn::Mask mask, SelectTopScores(scores, network.layout(), 0.9, {}));
//   mask.Apply(parameters);                                                   // then train with &mask
//
// The rule. A parameter view is PRUNABLE when it holds weights, or biases and `prune_biases` is set (the paper's code
// prunes both). Entries of non-prunable views are always kept and do not count anywhere below. With sparsity s:
//   - global scope (the paper): N = number of prunable entries in the whole buffer; keep the
//     kappa = KeptCount(N, s) = round(N (1 - s)) prunable entries with the highest scores, wherever they are, so a
//     layer may lose more, or fewer, than the fraction s of its entries (all of them, even);
//   - per-layer scope: every prunable view t (n_t entries) keeps its own KeptCount(n_t, s) highest-scoring entries,
//     so each tensor has sparsity s up to rounding and the total kept is sum_t round(n_t (1 - s)), which may differ
//     from round(N (1 - s)) by up to half the number of prunable views.
// round() is std::round (halves away from zero) of the double product. Ties are broken by position: among equal
// scores the entry with the lower buffer index ranks higher (is kept first). -0.0 and +0.0 are equal scores.
// Sparsity 0 keeps everything (kappa = N), whatever the scores hold.
#ifndef PARSITY_PRUNING_SELECTION_H_
#define PARSITY_PRUNING_SELECTION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "training/nn/parameter_buffer.h"
#include "training/nn/mask.h"

namespace parsity::pruning {

// Over which set of entries the top scores are taken (see above).
enum class PruningScope { kGlobal, kPerLayer };

// "global" or "layer": the names PruningConfig (pruning/pruning.h) uses.
absl::string_view PruningScopeName(PruningScope scope);

struct SelectionOptions {
  PruningScope scope = PruningScope::kGlobal;
  // Whether bias views are prunable (weights views always are).
  bool prune_biases = true;
};

// OK when 0 <= sparsity < 1; otherwise InvalidArgument naming the value ("sparsity: 1 is not in [0, 1)"): negative,
// 1 or more (pruning everything leaves nothing to train), NaN and infinities alike.
absl::Status ValidateSparsity(double sparsity);

// round(count * (1 - sparsity)), the number of entries kept out of `count` prunable ones.
// REQUIRES: count >= 0, 0 <= sparsity < 1.
int64_t KeptCount(int64_t count, double sparsity);

// Whether `view` is prunable under `prune_biases`.
bool IsPrunable(const nn::ParameterView& view, bool prune_biases);

// Number of prunable entries of `layout` (N above).
int64_t PrunableCount(const nn::ParameterLayout& layout, bool prune_biases);

// The mask that keeps the top scores by the rule above: 1.0f for kept entries (all non-prunable ones included), 0.0f
// for pruned ones. `scores` has one entry per parameter of `layout`; higher means more important; entries of
// non-prunable views are ignored. Runs in O(n log n) time.
// Errors (InvalidArgument): ValidateSparsity's; scores.size() != layout.size() (naming both); a NaN score in a
// prunable view (naming its index and view), since it has no rank.
absl::StatusOr<nn::Mask> SelectTopScores(absl::Span<const double> scores, const nn::ParameterLayout& layout,
                                                 double sparsity, const SelectionOptions& options);

}  // namespace parsity::pruning

#endif  // PARSITY_PRUNING_SELECTION_H_
