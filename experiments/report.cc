// Regenerates the report of a results directory from its result files alone (experiments/study_runner/report.h):
// steps_to_result.csv, curves.csv, fits.csv, lipschitz.csv, report.md and plots/*.png. Progress and the plot
// script's output on stderr, one JSON summary as the last stdout line.
//
// It first verifies the stored trials (experiments/study_runner/store_verification.h's VerifyStore: digests, legacy
// trials by the agreement of their files, each study.json against its trials) and refuses a damaged store, naming each
// damaged trial; rerunning the study moves those aside and retrains them. Exit status 1, with the reason on stderr, when the
// store is damaged or any file of the report cannot be written (a full disk, report.md not writable).
//
//   bazel run //experiments:report -- studies/quick [--compare_dir=studies/other]
//
// Relative paths resolve against the directory `bazel run` was started from (BUILD_WORKING_DIRECTORY).
#include "experiments/study_runner/report.h"

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "experiments/working_directory.h"
#include "tools/base/status_macros.h"

ABSL_FLAG(std::string, compare_dir, "", "another results directory overlaid (dotted) on the steps plot");
ABSL_FLAG(std::string, plot_script, "", "plot script; default tools/plots/plot_study.py from the runfiles");
ABSL_FLAG(bool, plots, true, "draw the plots (false: CSVs and report.md only)");
ABSL_FLAG(int32_t, bootstrap_resamples, 1000, "bootstrap resamples of each fit's confidence intervals");

namespace parsity {
namespace {

using experiments::ResolveAgainstWorkingDirectory;

absl::Status Run(const std::vector<char*>& positional, const char* argv0) {
  if (positional.size() != 2) {
    return absl::InvalidArgumentError("usage: report DIR [--compare_dir=D]: exactly one results directory expected");
  }
  experiments::ReportOptions options;
  options.compare_dir = ResolveAgainstWorkingDirectory(absl::GetFlag(FLAGS_compare_dir));
  options.bootstrap_resamples = absl::GetFlag(FLAGS_bootstrap_resamples);
  if (absl::GetFlag(FLAGS_plots)) {
    options.plot_script = absl::GetFlag(FLAGS_plot_script).empty()
                              ? experiments::FindPlotScript(argv0)
                              : ResolveAgainstWorkingDirectory(absl::GetFlag(FLAGS_plot_script));
    if (options.plot_script.empty()) {
      return absl::NotFoundError("tools/plots/plot_study.py not found in the runfiles; pass --plot_script");
    }
  }
  ASSIGN_OR_RETURN(const JsonObject summary,
                   experiments::WriteReport(ResolveAgainstWorkingDirectory(positional[1]), options));
  std::cout << summary.ToString() << std::endl;
  return absl::OkStatus();
}

}  // namespace
}  // namespace parsity

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Regenerates report.md, the CSVs and the plots of a results directory: report DIR");
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  const absl::Status status = parsity::Run(positional, argv[0]);
  if (!status.ok()) {
    std::fprintf(stderr, "report: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
