#include "experiments/study_runner/report_verdicts.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/base/json.h"

namespace parsity::experiments::report {

// Finding 1: steps fall with batch size through the three regimes.
std::string VerdictOne(const std::vector<Curve>& curves) {
  std::vector<std::string> parts;
  bool all_hold = true, any = false;
  for (const Curve& curve : curves) {
    const std::string name = absl::StrCat(curve.workload, " sparsity ", JsonNumber(curve.sparsity));
    if (curve.observed.steps.size() < 2) {
      parts.push_back(absl::StrCat(name, ": not measured (fewer than 2 batch sizes reached the goal)"));
      continue;
    }
    any = true;
    // observed is in increasing batch size (records are sorted).
    std::vector<std::string> rises;
    for (size_t i = 1; i < curve.observed.steps.size(); ++i) {
      if (curve.observed.steps[i] > curve.observed.steps[i - 1]) {
        rises.push_back(absl::StrCat("B=", curve.observed.batch_sizes[i - 1], "->", curve.observed.batch_sizes[i]));
      }
    }
    const double first = curve.observed.steps.front(), last = curve.observed.steps.back();
    std::vector<std::string> seen;
    std::vector<std::string> missing;
    for (theory::ScalingRegime regime :
         {theory::ScalingRegime::kPerfectScaling, theory::ScalingRegime::kDiminishingReturns,
          theory::ScalingRegime::kMaximalDataParallelism}) {
      const bool found = curve.fit && std::find(curve.fit->regimes.begin(), curve.fit->regimes.end(), regime) !=
                                          curve.fit->regimes.end();
      (found ? seen : missing).push_back(std::string(theory::ScalingRegimeName(regime)));
    }
    std::string regimes = absl::StrCat("regimes seen: ", seen.empty() ? "none" : absl::StrJoin(seen, ", "));
    if (!missing.empty()) absl::StrAppend(&regimes, "; not reached: ", absl::StrJoin(missing, ", "));
    if (rises.empty() && last < first) {
      parts.push_back(absl::StrCat(name, ": ", missing.empty() ? "holds" : "holds partly",
                                   ": steps fall monotonically from ", first,
                                   " (B=", curve.observed.batch_sizes.front(), ") to ", last,
                                   " (B=", curve.observed.batch_sizes.back(), "); ", regimes));
      if (!missing.empty()) all_hold = false;
    } else {
      all_hold = false;
      parts.push_back(
          absl::StrCat(name, ": does not hold: steps ",
                       rises.empty() ? "do not fall overall" : absl::StrCat("rise at ", absl::StrJoin(rises, ", ")),
                       " (", first, " at B=", curve.observed.batch_sizes.front(), ", ", last,
                       " at B=", curve.observed.batch_sizes.back(), "); ", regimes));
    }
  }
  if (!any) return absl::StrCat("not measured: ", absl::StrJoin(parts, ". "));
  return absl::StrCat(all_hold ? "holds" : "holds partly or not", " -- ", absl::StrJoin(parts, ". "));
}

// Finding 2: sparse networks need more steps at every batch size.
std::string VerdictTwo(const std::vector<Curve>& curves) {
  std::vector<std::string> parts;
  bool any = false, all = true;
  for (const Curve& curve : curves) {
    const Curve* dense = DenseCurve(curves, curve.workload);
    if (dense == &curve) continue;
    std::vector<double> ratios;
    std::vector<std::string> fewer;
    for (size_t i = 0; i < curve.observed.batch_sizes.size(); ++i) {
      const std::optional<double> base = ObservedAt(*dense, curve.observed.batch_sizes[i]);
      if (!base) continue;
      ratios.push_back(curve.observed.steps[i] / *base);
      if (curve.observed.steps[i] <= *base) fewer.push_back(absl::StrCat("B=", curve.observed.batch_sizes[i]));
    }
    const std::string name =
        absl::StrCat(curve.workload, " sparsity ", JsonNumber(curve.sparsity), " vs ", JsonNumber(dense->sparsity));
    if (ratios.empty()) {
      parts.push_back(absl::StrCat(name, ": not measured (no batch size where both reached the goal)"));
      continue;
    }
    any = true;
    const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
    if (fewer.empty()) {
      parts.push_back(absl::StrCat(name, ": holds: more steps at all ", ratios.size(), " shared batch sizes (ratio ",
                                   ShortNumber(*lo), " to ", ShortNumber(*hi), ")"));
    } else {
      all = false;
      parts.push_back(absl::StrCat(name, ": does not hold: no more steps at ", absl::StrJoin(fewer, ", "), " of ",
                                   ratios.size(), " shared batch sizes (ratio ", ShortNumber(*lo), " to ", ShortNumber(*hi), ")"));
    }
  }
  if (parts.empty()) return "not measured: only one sparsity level";
  if (!any) return absl::StrCat("not measured -- ", absl::StrJoin(parts, ". "));
  return absl::StrCat(all ? "holds" : "does not hold everywhere", " -- ", absl::StrJoin(parts, ". "));
}

// Finding 3: larger L for sparser networks (LipschitzComparison), and the L ratio predicts the step ratio.
std::string VerdictThree(const std::vector<Curve>& curves, double tolerance) {
  std::vector<std::string> parts;
  bool any = false, all_larger = true, all_predict = true;
  for (const Curve& curve : curves) {
    const Curve* dense = DenseCurve(curves, curve.workload);
    if (dense == &curve) continue;
    const std::string name =
        absl::StrCat(curve.workload, " sparsity ", JsonNumber(curve.sparsity), " vs ", JsonNumber(dense->sparsity));
    if (!curve.lipschitz_vs_dense) {
      parts.push_back(absl::StrCat(name, ": L not measured"));
      continue;
    }
    any = true;
    const LipschitzComparison& l = *curve.lipschitz_vs_dense;
    const bool larger = l.ratio() > 1;
    all_larger = all_larger && larger;
    std::string part =
        absl::StrCat(name, ": L ", larger ? "larger" : "NOT larger", " (median over steps <= ", l.up_to_step, ": ",
                     ShortNumber(l.sparse_median), " vs ", ShortNumber(l.dense_median), ", ratio ", ShortNumber(l.ratio()), "; larger at ",
                     l.sparse_above, " of ", l.matched, " matched steps)");
    if (curve.score) {
      // Geometric mean of the observed step ratios at the shared batch sizes.
      double log_sum = 0;
      int n = 0;
      for (size_t i = 0; i < curve.observed.batch_sizes.size(); ++i) {
        const std::optional<double> base = ObservedAt(*dense, curve.observed.batch_sizes[i]);
        if (!base) continue;
        log_sum += std::log(curve.observed.steps[i] / *base);
        ++n;
      }
      const bool predicts = curve.score->mean_abs_log_error <= tolerance;
      all_predict = all_predict && predicts;
      absl::StrAppend(&part, "; the L ratio ", predicts ? "predicts" : "does not predict",
                      " the step ratio (observed geometric mean ", ShortNumber(std::exp(log_sum / std::max(n, 1))),
                      "; mean |ln(pred/obs)| ", ShortNumber(curve.score->mean_abs_log_error), ", max ",
                      ShortNumber(curve.score->max_abs_log_error), " over ", curve.score->count, " batch sizes; tolerance ",
                      ShortNumber(tolerance), ")");
    } else {
      all_predict = false;
      absl::StrAppend(&part, "; prediction not scored (no shared batch size with a steps-to-result)");
    }
    parts.push_back(part);
  }
  if (parts.empty()) return "not measured: only one sparsity level";
  if (!any) return absl::StrCat("not measured -- ", absl::StrJoin(parts, ". "));
  const char* verdict = all_larger && all_predict ? "holds"
                        : all_larger              ? "holds partly (L is larger; the L ratio misses the step ratio)"
                                                  : "does not hold";
  return absl::StrCat(verdict, " -- ", absl::StrJoin(parts, ". "));
}

}  // namespace parsity::experiments::report
