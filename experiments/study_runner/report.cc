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
#include "experiments/study_runner/report_markdown.h"
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

  report::MarkdownInputs markdown;
  markdown.dir = dir;
  markdown.records = records;
  markdown.curves = curves;
  markdown.workloads = workloads;
  markdown.compare = compare;
  markdown.compare_dir = options.compare_dir;
  markdown.store = store;
  markdown.bootstrap_resamples = options.bootstrap_resamples;
  markdown.verdicts[0] = verdict1;
  markdown.verdicts[1] = verdict2;
  markdown.verdicts[2] = verdict3;
  markdown.plot_note = plot_note;
  markdown.plots = plots;
  const std::string md = report::ReportMarkdown(markdown);
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
