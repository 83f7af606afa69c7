// What a pruning mask did to a network: realized sparsity overall and per parameter view, and warnings for weight
// tensors pruned away entirely (which the global rule may do; it disconnects the layer, leaving only its biases).
// Rendered as JSON (for a binary's summary line and trial results) and as text (for stderr).
//
//   const MaskReport report = ReportMask(mask, network.layout(), config.sparsity, config.prune_biases);
//   std::cerr << MaskReportText(report);
//   summary.Add("pruning", MaskReportJson(report));
#ifndef PARSITY_PRUNING_MASK_REPORT_H_
#define PARSITY_PRUNING_MASK_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tools/base/json.h"
#include "training/nn/parameter_buffer.h"
#include "training/nn/mask.h"

namespace parsity::pruning {

// One parameter view of the layout.
struct ViewReport {
  std::string name;  // "conv1/weights".
  nn::ParameterKind kind = nn::ParameterKind::kWeights;
  bool prunable = true;  // Whether the selection rule could prune it (selection.h, IsPrunable).
  int64_t kept = 0;      // Entries whose mask value is 1.
  int64_t total = 0;     // Entries in the view.
};

struct MaskReport {
  double sparsity_target = 0;  // The sparsity asked for.
  // Pruned / prunable entries: what the target refers to (equal to it up to the rounding of kept counts); 0 when
  // nothing is prunable.
  double sparsity_realized = 0;
  double sparsity_all = 0;        // Pruned / all parameters (non-prunable views count as kept).
  int64_t prunable_kept = 0;      // Kept entries of prunable views.
  int64_t prunable = 0;           // Entries of prunable views.
  int64_t kept = 0;               // Kept entries, all views.
  int64_t total = 0;              // All parameters.
  std::vector<ViewReport> views;  // In buffer order.
  // One line per weights view with every entry pruned: "fc/weights: all 10240 weights pruned (...)".
  std::vector<std::string> warnings;
};

// Counts `mask` view by view. `prune_biases` says which views were prunable (as in SelectionOptions).
// REQUIRES: mask.size() == layout.size() (checked; aborts otherwise).
MaskReport ReportMask(const nn::Mask& mask, const nn::ParameterLayout& layout, double sparsity_target,
                      bool prune_biases);

// {"sparsity_target":0.9,"sparsity_realized":0.89999...,"sparsity_all":...,"prunable_kept":6235,"prunable":62346,
//  "kept":6235,"total":62346,"layers":{"conv1/weights":{"kept":87,"total":800},...},"warnings":[...]}
// "layers" keeps buffer order; every view appears, prunable or not.
JsonObject MaskReportJson(const MaskReport& report);

// Several lines, each ending in '\n': a summary line, one line per view (name, kept / total, percent pruned), then
// one "warning: ..." line per warning.
std::string MaskReportText(const MaskReport& report);

}  // namespace parsity::pruning

#endif  // PARSITY_PRUNING_MASK_REPORT_H_
