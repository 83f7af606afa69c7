// The report of a results directory (result_store.h's layout), regenerated from the result files alone: the
// steps-to-result table, a fit S(B) = S_min (1 + B_crit / B) per (workload, sparsity) with confidence intervals and
// regimes (theory/scaling_model.h), the Lipschitz constant per sparsity when lipschitz.csv files exist, the theory's
// prediction of each sparse curve from the dense one and the L ratio (over the steps both trials measured), and a
// verdict computed from the data on each of the paper's three findings (experiments/PROTOCOL.md). Used by
// //experiments:report and at the end of //experiments:study.
//
//   ReportOptions options;
//   options.plot_script = "tools/plots/plot_study.py";
//   ASSIGN_OR_RETURN(JsonObject summary, WriteReport("/tmp/quick_run", options));
//
// Files written into DIR (each atomically):
//   steps_to_result.csv   the runner's table (result_store.h's StepsToResultCsv)
//   curves.csv            source,workload,sparsity,batch_size,steps,fitted_steps,regime,predicted_steps
//                         (source "run" for DIR, "compare" for --compare_dir; fitted/regime empty without a fit,
//                         predicted empty without L for both this sparsity and the dense one)
//   fits.csv              workload,sparsity,points,min_steps,min_steps_lower,min_steps_upper,critical_batch_size,
//                         critical_batch_size_lower,critical_batch_size_upper,critical_batch_size_at_bound
//   lipschitz.csv         workload,sparsity,step,lipschitz (all DIR/<workload>/sparsity_<s>/lipschitz.csv files)
//   report.md             the report, embedding the PNGs
//   plots/<slug>_{steps,normalized,lipschitz,prediction}.png   by the plot script (<slug>: "mnist_simple_cnn_sgd")
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "tools/base/json.h"

namespace parsity::experiments {

struct ReportOptions {
  // Another results directory in the same layout, overlaid on the steps plot and tabulated; empty for none.
  std::string compare_dir;
  // tools/plots/plot_study.py; empty skips the plots (report.md then says so).
  std::string plot_script;
  std::string python = "/usr/bin/python3";
  // Bootstrap resamples of each fit's confidence intervals.
  int bootstrap_resamples = 1000;
  // A prediction whose mean |ln(predicted / observed)| is at most this "predicts" the step ratio (0.2: about 22%).
  double prediction_tolerance = 0.2;
};

// Reads DIR (and options.compare_dir), writes the files above and returns the summary:
//   {"dir":..,"studies":N,"table":[{"workload":..,"sparsity":..,"batch_size":..,"steps_to_result":..|null}],
//    "fits":[{"workload":..,"sparsity":..,"points":..,"fit":ScalingFitJson|null,"regimes":[..],"note":..}],
//    "lipschitz":[{"workload":..,"sparsity":..,"mean":..,"max":..,"measurements":..}],   (whole trials)
//    "lipschitz_vs_dense":[{"workload":..,"sparsity":..,"up_to_step":..,"median":..,"dense_median":..,"ratio":..,
//                           "mean":..,"dense_mean":..,"matched_steps":..,"larger_at":..}],
//        each sparse network against the dense one over their common steps (steps up to the shorter trial's last
//        measurement), medians because single-step estimates have spikes; the prediction uses this median ratio
//    "predictions":[{"workload":..,"sparsity":..,"mean_abs_log_error":..,"max_abs_log_error":..,"count":..}],
//    "verdicts":{"1":"holds: ..","2":..,"3":..},
//    "store":{"trials":..,"verified":..,"legacy":..,"damaged_moved_aside":..},   (store_verification.h's VerifyStore)
//    "report":"DIR/report.md","plots":[..]}
// First verifies DIR (and a --compare_dir in parsity's layout) with VerifyStore: every stored trial against its
// digest (legacy trials by their consistency) and every study.json against its trials; a damaged store is refused
// before anything is written.
// Errors: DataLoss from VerifyStore, naming each damaged trial or stale study.json and saying to rerun the study;
// NotFound when DIR holds no study.json; DataLoss naming an unparsable file; Internal when the plot script fails (its
// exit code named); the errno-derived error of a file that cannot be written (report.md included), naming it.
absl::StatusOr<JsonObject> WriteReport(const std::string& dir, const ReportOptions& options);

// tools/plots/plot_study.py in the runfiles of the binary `argv0` (a `data` dependency): the first that exists of
// $RUNFILES_DIR/parsity/..., argv0.runfiles/parsity/... and the current directory's tools/plots/plot_study.py (the
// runfiles root under `bazel run` and `bazel test`); empty when none does.
std::string FindPlotScript(const char* argv0);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_H_
