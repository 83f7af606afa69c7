// Pruning at initialization (experiments/PROTOCOL.md, "Pruning at initialization: SNIP"), from one config struct: the
// entry point that trials and binaries use. Each trial prunes its own initialization, before its first step, and the
// mask then stays fixed for all of training. Design note: pruning/README.md.
//
//   InitializeParameters(*network, /*seed=*/trial, parameters);                        // training/trainer/trainer.h
//   ASSIGN_OR_RETURN(nn::Mask mask, ComputeMask(config, *network, parameters, dataset.train, trial, 2));
//   mask.Apply(parameters);   // then Trainer::Create(..., &mask) and Train(parameters)
//
// Schemes (scores, then the shared selection rule of pruning/selection.h):
//   "none"       no pruning: an all-ones mask (sparsity must be 0).
//   "snip"       SNIP saliency |g_j| / sum_k |g_k|, g_j = sum_B dL_B(c ⊙ w)/dc_j at c = 1 (pruning/snip.h), over
//                the whole training set (snip_batches = 0) or the first snip_batches batches of 100 of a stream
//                seeded with `seed`.
//   "magnitude"  |w_j| at initialization (pruning/magnitude.h).
//   "random"     uniform scores from std::mt19937_64(seed) (pruning/random.h).
#ifndef PARSITY_PRUNING_PRUNING_H_
#define PARSITY_PRUNING_PRUNING_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "training/data/examples.h"
#include "training/nn/network.h"
#include "training/nn/mask.h"

namespace parsity::pruning {

struct PruningConfig {
  std::string scheme = "none";   // One of PruningSchemeNames().
  double sparsity = 0;           // Fraction of prunable entries pruned: in [0, 1); must be 0 for "none".
  std::string scope = "global";  // "global" (top scores across all prunable tensors) or "layer" (each tensor alike).
  bool prune_biases = true;      // Biases prunable (the paper's code) or always kept (weights only).
  int64_t snip_batches = 0;      // "snip" only: 0 = the whole training set; N >= 1 = N batches of 100.
};

// "none", "snip", "magnitude", "random".
absl::Span<const absl::string_view> PruningSchemeNames();
// "global", "layer".
absl::Span<const absl::string_view> PruningScopeNames();

// Checks `config` on its own. Errors (InvalidArgument naming the field and its value): an unknown scheme or scope
// (listing the choices); sparsity outside [0, 1) (NaN included); a non-zero sparsity with scheme "none" (it would
// silently train a dense network); snip_batches < 0.
absl::Status ValidatePruningConfig(const PruningConfig& config);

// The mask of `config` for `network` at `initial_parameters` (the trial's initialization): one 0/1 entry per
// parameter, keeping exactly the counts of the selection rule (selection.h): round(N (1 - sparsity)) prunable
// entries globally, round(n_t (1 - sparsity)) per prunable tensor in "layer" scope, every non-prunable entry.
// `train` is read by "snip" only; `seed` drives "random" scores and the "snip" sample when snip_batches > 0;
// `threads` (>= 1) run SNIP's gradients. Scheme "none" and sparsity 0 return an all-ones mask without computing
// scores (still validating everything). Deterministic for given arguments.
// Errors (InvalidArgument): ValidatePruningConfig's; initial_parameters.size() != network.parameter_count();
// threads < 1; for "snip", those of ConnectionSensitivity (snip.h), e.g. snip_batches more than `train` holds
// (snip_batches * 100 > train.size()) or examples that do not fit the network.
absl::StatusOr<nn::Mask> ComputeMask(const PruningConfig& config, const nn::Network& network,
                                             absl::Span<const float> initial_parameters, const data::Examples& train,
                                             uint64_t seed, int threads);

}  // namespace parsity::pruning

#endif  // PARSITY_PRUNING_PRUNING_H_
