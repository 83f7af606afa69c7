#include "experiments/study_runner/report_markdown.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "experiments/study_runner/result_store.h"
#include "theory/scaling_model.h"
#include "tools/base/atomic_file.h"
#include "tools/base/json.h"

namespace parsity::experiments::report {
namespace {

using theory::ScalingCurve;
using theory::ScalingFit;

// 12345678 -> "12.3 million"; below a million, the plain number.
std::string Count(int64_t value) {
  if (value >= 1000000000) return absl::StrFormat("%.3g billion", value / 1e9);
  if (value >= 1000000) return absl::StrFormat("%.3g million", value / 1e6);
  return absl::StrCat(value);
}

// The table sparsity x batch size of one workload, in markdown.
std::string MarkdownTable(const std::vector<Curve>& curves, const std::string& workload) {
  std::vector<int64_t> batch_sizes;
  for (const Curve& curve : curves) {
    if (curve.workload != workload) continue;
    for (int64_t b : curve.all_batch_sizes) {
      if (std::find(batch_sizes.begin(), batch_sizes.end(), b) == batch_sizes.end()) batch_sizes.push_back(b);
    }
  }
  std::sort(batch_sizes.begin(), batch_sizes.end());
  std::string md = "| sparsity \\ batch size |";
  for (int64_t b : batch_sizes) absl::StrAppend(&md, " ", b, " |");
  absl::StrAppend(&md, "\n|---|");
  for (size_t i = 0; i < batch_sizes.size(); ++i) absl::StrAppend(&md, "---|");
  absl::StrAppend(&md, "\n");
  for (const Curve& curve : curves) {
    if (curve.workload != workload) continue;
    absl::StrAppend(&md, "| ", JsonNumber(curve.sparsity), " |");
    for (int64_t b : batch_sizes) {
      const bool run =
          std::find(curve.all_batch_sizes.begin(), curve.all_batch_sizes.end(), b) != curve.all_batch_sizes.end();
      const std::optional<double> steps = ObservedAt(curve, static_cast<double>(b));
      absl::StrAppend(&md, " ", steps ? absl::StrCat(static_cast<int64_t>(*steps)) : (run ? "none" : "-"), " |");
    }
    absl::StrAppend(&md, "\n");
  }
  absl::StrAppend(&md, "\n(steps-to-result; \"none\": no trial reached the goal; \"-\": not run)\n");
  return md;
}

// What VerifyStore checked, for report.md: "" when the tree holds no trial folders (a hand-written fixture).
std::string StoreSentence(const StoreVerification& store) {
  if (store.trials == 0) return "";
  std::string sentence = absl::StrCat(" Their ", store.trials, " stored trials were verified: ", store.verified,
                                      " by their SHA-256 digests");
  if (store.legacy > 0) {
    absl::StrAppend(&sentence, ", ", store.legacy,
                    " (written before digests) by the agreement of metadata.json and measurements.csv");
  }
  absl::StrAppend(&sentence, ".");
  if (store.damaged_moved_aside > 0) {
    absl::StrAppend(&sentence, " ", store.damaged_moved_aside,
                    " damaged trial folders were found on resumes, moved aside and the trials trained again.");
  }
  return sentence;
}

// The first comment line of each workload's study_spec.textproto ("Resolved from ... --profile=quick ...").
std::string SpecSource(const std::string& dir, const std::string& workload) {
  absl::StatusOr<std::string> text = ReadFile(absl::StrCat(dir, "/", workload, "/study_spec.textproto"));
  if (!text.ok()) return "(no study_spec.textproto)";
  const std::string line = text->substr(0, text->find('\n'));
  absl::string_view first = line;
  if (!absl::ConsumePrefix(&first, "# ")) return "(study_spec.textproto has no source line)";
  return std::string(first);
}

// The protocol of a workload's studies, one line per distinct (trials, goal, budget, check interval), naming the
// batch sizes (and the sparsities) that used it.
std::string Protocol(const std::vector<StudyRecord>& records, const std::string& workload) {
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<double>>> by_protocol;
  std::vector<std::string> order;
  for (const StudyRecord& record : records) {
    if (Workload(record) != workload) continue;
    const std::string protocol =
        absl::StrCat(record.trials(), " trials, goal validation error ",
                     record.has_goal_error() ? JsonNumber(record.goal_error()) : "?", ", budget ",
                     record.has_max_steps() ? absl::StrCat(record.max_steps()) : "?", " steps, checks every ",
                     record.has_check_interval() ? absl::StrCat(record.check_interval()) : "?", " steps");
    if (by_protocol.find(protocol) == by_protocol.end()) order.push_back(protocol);
    auto& [batch_sizes, sparsities] = by_protocol[protocol];
    if (std::find(batch_sizes.begin(), batch_sizes.end(), record.batch_size()) == batch_sizes.end()) {
      batch_sizes.push_back(record.batch_size());
    }
    if (std::find(sparsities.begin(), sparsities.end(), record.sparsity()) == sparsities.end()) {
      sparsities.push_back(record.sparsity());
    }
  }
  std::string md;
  for (const std::string& protocol : order) {
    const auto& [batch_sizes, sparsities] = by_protocol[protocol];
    absl::StrAppend(&md, "- B = ", absl::StrJoin(batch_sizes, ", "), ": ", protocol, " (sparsity ",
                    absl::StrJoin(sparsities, ", ", [](std::string* out, double s) { out->append(JsonNumber(s)); }),
                    ")\n");
  }
  int trials = 0, stopped_early = 0;
  int64_t examples_trained = 0, examples_saved_at_most = 0;
  int64_t validation_evaluated = 0, validation_in_full_checks = 0;
  for (const StudyRecord& record : records) {
    if (Workload(record) != workload) continue;
    trials += record.trials();
    stopped_early += record.stopped_early();
    examples_trained += record.examples_trained();
    examples_saved_at_most += record.examples_saved_at_most();
    validation_evaluated += record.validation_examples_evaluated();
    validation_in_full_checks += record.validation_examples_in_full_checks();
  }
  if (validation_evaluated < validation_in_full_checks) {
    absl::StrAppend(&md,
                    "- Early exit of validation checks (training/trainer/validation_check.h; results identical "
                    "without it): the checks evaluated ",
                    Count(validation_evaluated), " validation examples instead of ", Count(validation_in_full_checks),
                    absl::StrFormat(" (%.0f%%)", 100.0 * static_cast<double>(validation_evaluated) /
                                                     static_cast<double>(validation_in_full_checks)),
                    "\n");
  }
  if (stopped_early > 0 || examples_saved_at_most > 0) {
    const double spared_share = static_cast<double>(examples_saved_at_most) /
                                static_cast<double>(std::max<int64_t>(1, examples_trained + examples_saved_at_most));
    absl::StrAppend(&md,
                    "- Exact early termination (experiments/study_runner/early_termination.h; results identical without "
                    "it): ",
                    stopped_early, " of ", trials, " trials stopped or skipped once they could no longer win; ",
                    Count(examples_trained), " training examples trained, and it spared at most ",
                    Count(examples_saved_at_most), " more (each stopped trial's remaining budget: an upper bound, ",
                    absl::StrFormat("%.0f%%", 100 * spared_share), " of what a run without it could have trained)\n");
  } else if (trials > 0) {
    absl::StrAppend(&md, "- No trial was stopped early (", Count(examples_trained), " training examples trained)\n");
  }
  return md;
}

// The title, what was run and the steps-to-result tables (and the compared run's).
std::string HeaderAndTablesSection(const MarkdownInputs& in) {
  const std::string& dir = in.dir;
  const std::vector<StudyRecord>& records = in.records;
  const std::vector<Curve>& curves = in.curves;
  const std::vector<Curve>& compare = in.compare;
  const std::vector<std::string>& workloads = in.workloads;
  const StoreVerification& store = in.store;
  std::string md = absl::StrCat("# Steps-to-result vs batch size and sparsity: ", dir, "\n\n",
                                "Regenerated from the result files by `//experiments:report` (", records.size(),
                                " studies).", StoreSentence(store), "\n\n## What was run\n\n");
  for (const std::string& workload : workloads) {
    absl::StrAppend(&md, "**", workload, "**: ", SpecSource(dir, workload), "\n\n", Protocol(records, workload), "\n");
  }
  absl::StrAppend(&md, "## Steps-to-result\n\n");
  for (const std::string& workload : workloads) {
    absl::StrAppend(&md, "### ", workload, "\n\n", MarkdownTable(curves, workload), "\n");
  }
  if (!compare.empty()) {
    absl::StrAppend(&md, "### Compared run: ", in.compare_dir, "\n\n");
    for (const std::string& workload : Workloads(compare)) {
      absl::StrAppend(&md, "#### ", workload, "\n\n", MarkdownTable(compare, workload), "\n");
    }
  }
  return md;
}

// The fits S(B) = S_min (1 + B_crit / B) with their bootstrap intervals and regimes.
std::string FitsSection(const MarkdownInputs& in) {
  const std::vector<Curve>& curves = in.curves;
  std::string md;
  absl::StrAppend(&md, "## Fits S(B) = S_min (1 + B_crit / B)\n\n95% bootstrap intervals (",
                  in.bootstrap_resamples,
                  " resamples); regimes: PS perfect scaling (B <= B_crit/4), DR diminishing returns, MDP maximal "
                  "data parallelism (B >= 4 B_crit).\n\n"
                  "| workload | sparsity | points | S_min [CI] | B_crit [CI] | RMS log residual | regimes |\n"
                  "|---|---|---|---|---|---|---|\n");
  for (const Curve& curve : curves) {
    if (!curve.fit) {
      absl::StrAppend(&md, "| ", curve.workload, " | ", JsonNumber(curve.sparsity), " | ", curve.observed.steps.size(),
                      " | ", curve.note, " | | | |\n");
      continue;
    }
    const ScalingFit& fit = *curve.fit;
    std::vector<std::string> regimes;
    for (size_t i = 0; i < fit.regimes.size(); ++i) {
      const theory::ScalingRegime r = fit.regimes[i];
      regimes.push_back(absl::StrCat(curve.observed.batch_sizes[i], ":",
                                     r == theory::ScalingRegime::kPerfectScaling       ? "PS"
                                     : r == theory::ScalingRegime::kDiminishingReturns ? "DR"
                                                                                       : "MDP"));
    }
    absl::StrAppend(&md, "| ", curve.workload, " | ", JsonNumber(curve.sparsity), " | ", curve.observed.steps.size(),
                    " | ", ShortNumber(fit.min_steps), " [", ShortNumber(fit.min_steps_interval.lower), ", ",
                    ShortNumber(fit.min_steps_interval.upper), "] | ", ShortNumber(fit.critical_batch_size), " [",
                    ShortNumber(fit.critical_batch_size_interval.lower), ", ", ShortNumber(fit.critical_batch_size_interval.upper), "]",
                    fit.critical_batch_size_at_bound ? " (at search bound)" : "", " | ", ShortNumber(fit.rms_log_residual),
                    " | ", absl::StrJoin(regimes, " "), " |\n");
  }
  return md;
}

// L along training, and each sparse network against the dense one over their common steps.
std::string LipschitzSection(const MarkdownInputs& in) {
  const std::vector<Curve>& curves = in.curves;
  std::string md;
  absl::StrAppend(&md, "\n## Lipschitz constant L along training\n\n");
  bool any_l = false;
  for (const Curve& curve : curves) any_l = any_l || curve.lipschitz_mean.has_value();
  if (!any_l) {
    absl::StrAppend(&md, "Not measured (no `<workload>/sparsity_<s>/lipschitz.csv`).\n");
  } else {
    absl::StrAppend(
        &md,
        "Trajectory estimates (theory/README.md, \"The theory\") along each sparsity's retrained best "
        "trial, over that whole trial:\n\n"
        "| workload | sparsity | measurements | last step | mean L | max L |\n|---|---|---|---|---|---|\n");
    for (const Curve& curve : curves) {
      if (curve.lipschitz.empty()) continue;
      absl::StrAppend(&md, "| ", curve.workload, " | ", JsonNumber(curve.sparsity), " | ", curve.lipschitz.size(),
                      " | ", curve.lipschitz.back().first, " | ", ShortNumber(*curve.lipschitz_mean), " | ",
                      ShortNumber(*curve.lipschitz_max), " |\n");
    }
    absl::StrAppend(
        &md,
        "\nL falls as training goes on, and a sparse network's best trial usually runs longer, so its whole-trial "
        "mean includes a flatter late phase the dense trial never reached. Each sparse network is therefore compared "
        "with the dense one over their common steps (up to the shorter trial's last measurement), by the median "
        "(single-step estimates have spikes: a step along a sharp direction); the theory's prediction below uses "
        "this median ratio.\n\n"
        "| workload | sparsity vs dense | steps <= | median L sparse / dense | ratio | mean L sparse / dense | "
        "sparse larger at matched steps |\n|---|---|---|---|---|---|---|\n");
    for (const Curve& curve : curves) {
      if (!curve.lipschitz_vs_dense) continue;
      const LipschitzComparison& l = *curve.lipschitz_vs_dense;
      absl::StrAppend(&md, "| ", curve.workload, " | ", JsonNumber(curve.sparsity), " vs ",
                      JsonNumber(DenseCurve(curves, curve.workload)->sparsity), " | ", l.up_to_step, " | ",
                      ShortNumber(l.sparse_median), " / ", ShortNumber(l.dense_median), " | ", ShortNumber(l.ratio()), " | ",
                      ShortNumber(l.sparse_mean), " / ", ShortNumber(l.dense_mean), " | ", l.sparse_above, " of ", l.matched, " |\n");
    }
  }
  return md;
}

// The gradient noise along training against the fitted B_crit.
std::string NoiseSection(const MarkdownInputs& in) {
  const std::vector<Curve>& curves = in.curves;
  std::string md;
  bool any_noise = false;
  for (const Curve& curve : curves) any_noise = any_noise || !curve.noise.empty();
  absl::StrAppend(&md, "\n## Gradient noise along training\n\n");
  if (!any_noise) {
    absl::StrAppend(&md, "Not measured (no `<workload>/sparsity_<s>/gradient_noise.csv`).\n");
  } else {
    absl::StrAppend(
        &md,
        "Per-example estimates (theory/gradient_noise.h) at the points of the L estimates: |G|^2 the squared full "
        "gradient, tr(Sigma) the per-example gradient variance (sigma^2 of the theory), B_simple = tr(Sigma) / |G|^2 "
        "(McCandlish et al.), which predicts the critical batch size B_crit up to a factor of order one and grows as "
        "training goes on and |G| falls. Medians over the measurements, against the fitted B_crit:\n\n"
        "| workload | sparsity | measurements | median abs G^2 | median tr(Sigma) | median B_simple | last B_simple | "
        "fitted B_crit [CI] |\n|---|---|---|---|---|---|---|---|\n");
    for (const Curve& curve : curves) {
      if (curve.noise.empty()) continue;
      std::vector<double> norms, traces;
      for (const NoisePoint& point : curve.noise) {
        norms.push_back(point.gradient_norm_squared);
        traces.push_back(point.covariance_trace);
      }
      const double last = curve.noise.back().simple_noise_scale;
      absl::StrAppend(&md, "| ", curve.workload, " | ", JsonNumber(curve.sparsity), " | ", curve.noise.size(), " | ",
                      ShortNumber(Median(norms)), " | ", ShortNumber(Median(traces)), " | ", ShortNumber(*MedianNoiseScale(curve)), " | ",
                      std::isfinite(last) ? ShortNumber(last) : "inf", " | ",
                      curve.fit ? absl::StrCat(ShortNumber(curve.fit->critical_batch_size), " [",
                                               ShortNumber(curve.fit->critical_batch_size_interval.lower), ", ",
                                               ShortNumber(curve.fit->critical_batch_size_interval.upper), "]")
                                : "no fit",
                      " |\n");
    }
  }
  return md;
}

// The theory's prediction of the sparse steps from the L ratio.
std::string PredictionSection(const MarkdownInputs& in) {
  const std::vector<Curve>& curves = in.curves;
  std::string md;
  absl::StrAppend(&md,
                  "\n## Theory: predicted sparse steps = dense steps x L_sparse / L_dense (median L over the common "
                  "steps)\n\n");
  bool any_prediction = false;
  for (const Curve& curve : curves) {
    if (!curve.score) continue;
    if (!any_prediction) {
      absl::StrAppend(&md,
                      "| workload | sparsity | batch sizes | mean abs ln(pred/obs) | max |\n|---|---|---|---|---|\n");
    }
    any_prediction = true;
    absl::StrAppend(&md, "| ", curve.workload, " | ", JsonNumber(curve.sparsity), " | ", curve.score->count, " | ",
                    ShortNumber(curve.score->mean_abs_log_error), " | ", ShortNumber(curve.score->max_abs_log_error), " |\n");
  }
  if (!any_prediction) absl::StrAppend(&md, "Not measured (needs L for the dense and a sparse network).\n");
  return md;
}

// The three verdicts, then the plots.
std::string VerdictsAndPlotsSection(const MarkdownInputs& in) {
  const std::vector<std::string>& workloads = in.workloads;
  const std::string& plot_note = in.plot_note;
  const std::map<std::string, std::vector<std::string>>& plots = in.plots;
  const std::string& verdict1 = in.verdicts[0];
  const std::string& verdict2 = in.verdicts[1];
  const std::string& verdict3 = in.verdicts[2];
  std::string md;
  absl::StrAppend(&md, "\n## Verdicts on the paper's findings (computed from this run)\n\n",
                  "1. **Steps fall with batch size through three regimes**: ", verdict1, "\n",
                  "2. **Sparse networks need more steps at every batch size**: ", verdict2, "\n",
                  "3. **Larger L for sparser networks; the L ratio predicts the step ratio**: ", verdict3, "\n\n",
                  "## Plots\n\n", plot_note);
  for (const std::string& workload : workloads) {
    const auto found = plots.find(workload);
    if (found == plots.end()) continue;
    for (const std::string& png : found->second) absl::StrAppend(&md, "![", png, "](", png, ")\n\n");
  }
  return md;
}

}  // namespace

std::string ReportMarkdown(const MarkdownInputs& in) {
  return absl::StrCat(HeaderAndTablesSection(in), FitsSection(in), LipschitzSection(in), NoiseSection(in),
                      PredictionSection(in), VerdictsAndPlotsSection(in));
}

}  // namespace parsity::experiments::report
