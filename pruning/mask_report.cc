#include "pruning/mask_report.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "pruning/selection.h"
#include "tools/base/check.h"

namespace parsity::pruning {
namespace {

double Fraction(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

MaskReport ReportMask(const nn::Mask& mask, const nn::ParameterLayout& layout, double sparsity_target,
                      bool prune_biases) {
  PARSITY_CHECK(mask.size() == layout.size());
  MaskReport report;
  report.sparsity_target = sparsity_target;
  report.total = layout.size();
  for (const nn::ParameterView& view : layout.views()) {
    ViewReport entry;
    entry.name = view.name;
    entry.kind = view.kind;
    entry.prunable = IsPrunable(view, prune_biases);
    entry.total = view.size;
    for (int64_t i = view.offset; i < view.offset + view.size; ++i) entry.kept += mask.is_kept(i) ? 1 : 0;
    report.kept += entry.kept;
    if (entry.prunable) {
      report.prunable += entry.total;
      report.prunable_kept += entry.kept;
    }
    if (view.kind == nn::ParameterKind::kWeights && entry.kept == 0 && entry.total > 0) {
      report.warnings.push_back(absl::StrCat(view.name, ": all ", view.size,
                                             " weights pruned; the layer's output no longer depends on its input"));
    }
    report.views.push_back(std::move(entry));
  }
  report.sparsity_realized = Fraction(report.prunable - report.prunable_kept, report.prunable);
  report.sparsity_all = Fraction(report.total - report.kept, report.total);
  return report;
}

JsonObject MaskReportJson(const MaskReport& report) {
  JsonObject layers;
  for (const ViewReport& view : report.views) {
    layers.Add(view.name, JsonObject().Add("kept", view.kept).Add("total", view.total));
  }
  JsonArray warnings;
  for (const std::string& warning : report.warnings) warnings.Add(warning);
  JsonObject json;
  json.Add("sparsity_target", report.sparsity_target)
      .Add("sparsity_realized", report.sparsity_realized)
      .Add("sparsity_all", report.sparsity_all)
      .Add("prunable_kept", report.prunable_kept)
      .Add("prunable", report.prunable)
      .Add("kept", report.kept)
      .Add("total", report.total)
      .Add("layers", layers)
      .Add("warnings", warnings);
  return json;
}

std::string MaskReportText(const MaskReport& report) {
  std::string text = absl::StrFormat(
      "mask: sparsity %.4f realized (target %.4f): %d of %d prunable entries kept; %d of %d parameters kept\n",
      report.sparsity_realized, report.sparsity_target, report.prunable_kept, report.prunable, report.kept,
      report.total);
  size_t name_width = 0;
  for (const ViewReport& view : report.views) name_width = std::max(name_width, view.name.size());
  for (const ViewReport& view : report.views) {
    absl::StrAppendFormat(&text, "  %-*s %9d / %-9d %6.2f%% pruned%s\n", static_cast<int>(name_width), view.name,
                          view.kept, view.total, 100.0 * Fraction(view.total - view.kept, view.total),
                          view.prunable ? "" : " (not prunable)");
  }
  for (const std::string& warning : report.warnings) absl::StrAppend(&text, "warning: ", warning, "\n");
  return text;
}

}  // namespace parsity::pruning
