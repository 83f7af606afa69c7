#include "experiments/study_runner/report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "experiments/study_runner/public_results.h"
#include "experiments/study_runner/records.pb.h"
#include "experiments/study_runner/report_curves.h"
#include "experiments/study_runner/report_files.h"
#include "experiments/study_runner/report_verdicts.h"
#include "experiments/study_runner/result_store.h"
#include "experiments/study_runner/store_verification.h"
#include "experiments/study_runner/study_records.h"
#include "theory/scaling_model.h"
#include "tools/base/atomic_file.h"
#include "tools/base/csv.h"
#include "tools/base/json.h"
#include "tools/base/status_macros.h"

namespace parsity::experiments {
namespace {

using report::AppendCurvesCsv;
using report::Curve;
using report::DenseCurve;
using report::FitCurves;
using report::FitJson;
using report::FitsCsv;
using report::GroupCurves;
using report::LipschitzComparison;
using report::LipschitzCsv;
using report::LoadCurves;
using report::Median;
using report::MedianNoiseScale;
using report::NoiseCsv;
using report::NoisePoint;
using report::ObservedAt;
using report::PredictedAt;
using report::ShortNumber;
using report::VerdictOne;
using report::VerdictThree;
using report::VerdictTwo;
using report::Workload;
using report::Workloads;

using theory::ScalingCurve;
using theory::ScalingFit;

std::string Slug(const std::string& workload) { return absl::StrReplaceAll(workload, {{"/", "_"}}); }

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

}  // namespace

absl::StatusOr<JsonObject> WriteReport(const std::string& dir, const ReportOptions& options) {
  // Nothing is aggregated from a store whose trials fail their digests or disagree with its study.json files.
  ASSIGN_OR_RETURN(const StoreVerification store, VerifyStore(dir));
  std::vector<StudyRecord> records;
  ASSIGN_OR_RETURN(std::vector<Curve> curves, LoadCurves(dir, options.bootstrap_resamples, &records));
  std::vector<Curve> compare;
  if (!options.compare_dir.empty()) {
    RETURN_IF_ERROR(VerifyStore(options.compare_dir).status());
    ASSIGN_OR_RETURN(std::vector<StudyRecord> compare_records, ReadStudyRecords(options.compare_dir));
    if (compare_records.empty()) {
      // Not parsity's layout: Shallue et al.'s public data, at this run's goals.
      std::map<std::string, double> goals;
      for (const StudyRecord& record : records) goals[Workload(record)] = record.goal_error();
      ASSIGN_OR_RETURN(compare_records, ReadPublicStudyRecords(options.compare_dir, goals));
    }
    if (compare_records.empty()) {
      return absl::NotFoundError(absl::StrCat(
          options.compare_dir, ": no study.json of a workload of ", dir,
          " (parsity's layout <dataset>/<network>/<optimizer>/sparsity_<s>/<batch_size>/, or Shallue et al.'s "
          "<dataset>/<model>/<optimizer>/<batch_size>/)"));
    }
    compare = GroupCurves(compare_records);
    RETURN_IF_ERROR(FitCurves(compare, options.bootstrap_resamples));
  }

  // CSVs.
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/steps_to_result.csv"), StepsToResultCsv(records)));
  std::string curves_csv = "source,workload,sparsity,batch_size,steps,fitted_steps,regime,predicted_steps\n";
  AppendCurvesCsv(curves, "run", curves_csv);
  AppendCurvesCsv(compare, "compare", curves_csv);
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/curves.csv"), curves_csv));
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/fits.csv"), FitsCsv(curves)));
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/lipschitz.csv"), LipschitzCsv(curves)));
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/gradient_noise.csv"), NoiseCsv(curves)));

  // Plots.
  const std::vector<std::string> workloads = Workloads(curves);
  std::map<std::string, std::vector<std::string>> plots;  // workload -> PNG paths relative to dir.
  JsonArray plots_json;
  std::string plot_note;
  if (options.plot_script.empty()) {
    plot_note = "Plots not drawn (no plot script given).\n";
  } else {
    RETURN_IF_ERROR(CreateDirectories(absl::StrCat(dir, "/plots")));
    const std::string command = absl::StrCat("'", options.python, "' '", options.plot_script, "' '", dir, "' 1>&2");
    const int code = std::system(command.c_str());
    if (code != 0) {
      return absl::InternalError(absl::StrCat(options.plot_script, " failed on ", dir, " (exit status ", code, ")"));
    }
    for (const std::string& workload : workloads) {
      for (absl::string_view kind : {"steps", "normalized", "lipschitz", "noise", "prediction"}) {
        const std::string png = absl::StrCat("plots/", Slug(workload), "_", kind, ".png");
        if (PathExists(absl::StrCat(dir, "/", png))) {
          plots[workload].push_back(png);
          plots_json.Add(absl::StrCat(dir, "/", png));
        }
      }
    }
  }

  const std::string verdict1 = VerdictOne(curves);
  const std::string verdict2 = VerdictTwo(curves);
  const std::string verdict3 = VerdictThree(curves, options.prediction_tolerance);

  // report.md.
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
    absl::StrAppend(&md, "### Compared run: ", options.compare_dir, "\n\n");
    for (const std::string& workload : Workloads(compare)) {
      absl::StrAppend(&md, "#### ", workload, "\n\n", MarkdownTable(compare, workload), "\n");
    }
  }
  absl::StrAppend(&md, "## Fits S(B) = S_min (1 + B_crit / B)\n\n95% bootstrap intervals (",
                  options.bootstrap_resamples,
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
  absl::StrAppend(&md, "\n## Verdicts on the paper's findings (computed from this run)\n\n",
                  "1. **Steps fall with batch size through three regimes**: ", verdict1, "\n",
                  "2. **Sparse networks need more steps at every batch size**: ", verdict2, "\n",
                  "3. **Larger L for sparser networks; the L ratio predicts the step ratio**: ", verdict3, "\n\n",
                  "## Plots\n\n", plot_note);
  for (const std::string& workload : workloads) {
    for (const std::string& png : plots[workload]) absl::StrAppend(&md, "![", png, "](", png, ")\n\n");
  }
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/report.md"), md));

  // Summary.
  JsonArray table, fits, lipschitz, lipschitz_comparisons, noise, predictions;
  for (const StudyRecord& record : records) {
    JsonObject row;
    row.Add("workload", Workload(record)).Add("sparsity", record.sparsity()).Add("batch_size", record.batch_size());
    if (record.has_steps_to_result()) {
      row.Add("steps_to_result", record.steps_to_result());
    } else {
      row.AddNull("steps_to_result");
    }
    table.Add(row);
  }
  for (const Curve& curve : curves) {
    fits.Add(FitJson(curve));
    if (curve.lipschitz_mean) {
      lipschitz.Add(JsonObject()
                        .Add("workload", curve.workload)
                        .Add("sparsity", curve.sparsity)
                        .Add("mean", *curve.lipschitz_mean)
                        .Add("max", *curve.lipschitz_max)
                        .Add("measurements", static_cast<int>(curve.lipschitz.size())));
    }
    if (!curve.noise.empty()) {
      const double last = curve.noise.back().simple_noise_scale;
      JsonObject entry;
      entry.Add("workload", curve.workload)
          .Add("sparsity", curve.sparsity)
          .Add("measurements", static_cast<int>(curve.noise.size()));
      const double median = *MedianNoiseScale(curve);
      if (std::isfinite(median)) {
        entry.Add("median_simple_noise_scale", median);
      } else {
        entry.AddNull("median_simple_noise_scale");
      }
      if (std::isfinite(last)) {
        entry.Add("last_simple_noise_scale", last);
      } else {
        entry.AddNull("last_simple_noise_scale");
      }
      noise.Add(entry);
    }
    if (curve.lipschitz_vs_dense) {
      const LipschitzComparison& l = *curve.lipschitz_vs_dense;
      lipschitz_comparisons.Add(JsonObject()
                                    .Add("workload", curve.workload)
                                    .Add("sparsity", curve.sparsity)
                                    .Add("up_to_step", l.up_to_step)
                                    .Add("median", l.sparse_median)
                                    .Add("dense_median", l.dense_median)
                                    .Add("ratio", l.ratio())
                                    .Add("mean", l.sparse_mean)
                                    .Add("dense_mean", l.dense_mean)
                                    .Add("matched_steps", l.matched)
                                    .Add("larger_at", l.sparse_above));
    }
    if (curve.score) {
      predictions.Add(JsonObject()
                          .Add("workload", curve.workload)
                          .Add("sparsity", curve.sparsity)
                          .Add("mean_abs_log_error", curve.score->mean_abs_log_error)
                          .Add("max_abs_log_error", curve.score->max_abs_log_error)
                          .Add("count", curve.score->count));
    }
  }
  int64_t examples_trained = 0, examples_saved_at_most = 0;
  int64_t validation_evaluated = 0, validation_in_full_checks = 0;
  for (const StudyRecord& record : records) {
    examples_trained += record.examples_trained();
    examples_saved_at_most += record.examples_saved_at_most();
    validation_evaluated += record.validation_examples_evaluated();
    validation_in_full_checks += record.validation_examples_in_full_checks();
  }
  JsonObject summary;
  summary.Add("dir", dir)
      .Add("studies", static_cast<int>(records.size()))
      .Add("examples_trained", examples_trained)
      .Add("examples_saved_at_most", examples_saved_at_most)
      .Add("validation_examples_evaluated", validation_evaluated)
      .Add("validation_examples_in_full_checks", validation_in_full_checks)
      .Add("table", table)
      .Add("fits", fits)
      .Add("lipschitz", lipschitz)
      .Add("lipschitz_vs_dense", lipschitz_comparisons)
      .Add("gradient_noise", noise)
      .Add("predictions", predictions)
      .Add("verdicts", JsonObject().Add("1", verdict1).Add("2", verdict2).Add("3", verdict3))
      .Add("store", JsonObject()
                        .Add("trials", store.trials)
                        .Add("verified", store.verified)
                        .Add("legacy", store.legacy)
                        .Add("damaged_moved_aside", store.damaged_moved_aside))
      .Add("report", absl::StrCat(dir, "/report.md"))
      .Add("plots", plots_json);
  return summary;
}

std::string FindPlotScript(const char* argv0) {
  constexpr absl::string_view kScript = "tools/plots/plot_study.py";
  std::vector<std::string> candidates;
  if (const char* runfiles = std::getenv("RUNFILES_DIR"); runfiles != nullptr && runfiles[0] != '\0') {
    candidates.push_back(absl::StrCat(runfiles, "/parsity/", kScript));
  }
  if (argv0 != nullptr) candidates.push_back(absl::StrCat(argv0, ".runfiles/parsity/", kScript));
  candidates.push_back(std::string(kScript));
  for (const std::string& candidate : candidates) {
    if (PathExists(candidate)) return candidate;
  }
  return "";
}

}  // namespace parsity::experiments
