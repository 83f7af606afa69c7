// Runs the studies of one config: every (sparsity, batch size) of a workload, each tuned over Sobol trials, into a
// result tree in Shallue et al.'s layout plus steps_to_result.csv (experiments/study_runner/README.md). Progress on
// stderr, one JSON object as the last stdout line. Running the same command again resumes: finished trials are kept.
//
//   bazel run //experiments:study -- --config=experiments/configs/mnist_simple_cnn_sgd.textproto --profile=quick
//   bazel run //experiments:mnist_simple_cnn_sgd          # the same: one alias per config, quick profile
//
// Relative paths (--config, --output_dir, --data_dir and the config's data_dir) resolve against the directory
// `bazel run` was started from (BUILD_WORKING_DIRECTORY), else the current directory; a --config found only in the
// current directory (the runfiles tree of the alias targets) is read from there.
//
// Under `mpirun -np P` (or srun) the ranks share the trials (experiments/study_runner/runner.h, "Distributed sweeps"):
// each rank trains one trial at a time, --output_dir must be on storage every rank sees, and rank 0 alone measures the
// theory, writes the report and prints. A rank that fails ends the whole job; the same command resumes.
//
// One run per output directory: rank 0 (or the only process) locks --output_dir/study.lock before it loads the data
// and holds it to the end, so a second run on the same directory exits 1 at once naming the holder's host and PID
// (runner.h, "One owner per output directory").
//
// Exit status: 0 when everything was written; 1 on an error (one line on stderr; finished trials stay stored); 2
// when the studies (and theory measurements) are done and stored but the report could not be written (a full disk,
// an unwritable report.md): the summary line is printed first, with "report_error", and
// `bazel run //experiments:report -- DIR` writes the report once the cause is fixed.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "experiments/flag_checks.h"
#include "experiments/study_runner/config.h"
#include "experiments/study_runner/report.h"
#include "experiments/study_runner/runner.h"
#include "experiments/study_runner/theory_measurements.h"
#include "experiments/working_directory.h"
#include "tools/base/atomic_file.h"
#include "tools/base/file_lock.h"
#include "tools/base/status_macros.h"
#include "training/data/dataset.h"
#include "training/distributed/mpi_session.h"

ABSL_FLAG(std::string, config, "", "study config, a text-format StudySpec (experiments/configs/*.textproto)");
ABSL_FLAG(std::string, profile, "", "profile of the config to apply (e.g. quick, paper); empty: the base spec");
ABSL_FLAG(std::string, output_dir, "",
          "root of the result tree; default studies/<profile> (studies/base without a profile)");
ABSL_FLAG(int32_t, parallel_trials, 0,
          "trials trained at once, one thread each; 0: one per hardware thread (under mpirun: one per rank)");
ABSL_FLAG(bool, early_termination, true, "stop trials that can no longer improve their study's steps-to-result");
ABSL_FLAG(bool, check_early_exit, true,
          "stop each validation check once it cannot complete its trial (exact: the same results); false: every check "
          "evaluates the whole validation set");
ABSL_FLAG(std::string, data_dir, "", "replaces the config's data_dir when set");
ABSL_FLAG(int64_t, lipschitz_sample, 5000,
          "training examples of each full gradient of the theory's L measurements; 0 = all (the paper)");
ABSL_FLAG(int64_t, noise_sample, 1000,
          "training examples of each per-example gradient-noise estimate of the theory's measurements; 0 = all");

namespace parsity {
namespace {

using experiments::ResolveAgainstWorkingDirectory;

// The config file: `path` resolved against the working directory of `bazel run`, or, when no such file exists there,
// relative to the current directory (the runfiles tree, where the alias targets' configs live under `bazel run`).
std::string ResolveConfig(const std::string& path) {
  const std::string resolved = ResolveAgainstWorkingDirectory(path);
  return PathExists(resolved) || !PathExists(path) ? resolved : path;
}

// The exit status when the results are stored but the report could not be written.
constexpr int kReportNotWritten = 2;

// Runs everything; sets *exit_code to kReportNotWritten when only the report failed (after printing the summary).
absl::Status Run(const char* argv0, const distributed::MpiSession& session, int* exit_code) {
  const std::string config = absl::GetFlag(FLAGS_config);
  if (config.empty()) return absl::InvalidArgumentError("--config is required (experiments/configs/*.textproto)");
  const std::string profile = absl::GetFlag(FLAGS_profile);
  ASSIGN_OR_RETURN(experiments::StudySpec spec, experiments::LoadStudySpec(ResolveConfig(config), profile, config));
  if (!absl::GetFlag(FLAGS_data_dir).empty()) spec.set_data_dir(absl::GetFlag(FLAGS_data_dir));
  spec.set_data_dir(ResolveAgainstWorkingDirectory(spec.data_dir()));

  experiments::RunOptions options;
  const std::string output_dir = absl::GetFlag(FLAGS_output_dir);
  options.output_dir = ResolveAgainstWorkingDirectory(
      output_dir.empty() ? absl::StrCat("studies/", profile.empty() ? "base" : profile) : output_dir);
  options.parallel_trials = absl::GetFlag(FLAGS_parallel_trials);
  if (options.parallel_trials == 0) {
    options.parallel_trials = session.size() > 1 ? 1 : std::max(1u, std::thread::hardware_concurrency());
  }
  if (options.parallel_trials < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--parallel_trials=", options.parallel_trials, " must be >= 1 (0: one per hardware thread)"));
  }
  options.early_termination = absl::GetFlag(FLAGS_early_termination);
  options.check_early_exit = absl::GetFlag(FLAGS_check_early_exit);
  if (session.rank() == 0) std::cerr << experiments::EarlyExitWarning("study", options.check_early_exit);
  options.source = profile.empty() ? config : absl::StrCat(config, " --profile=", profile);
  options.session = &session;
  // Rank 0 owns the output directory until it returns (theory and report included); refused at once when taken.
  std::unique_ptr<FileLock> lock;
  if (session.rank() == 0) {
    // The default, studies/<profile>, may create studies/ too; a given --output_dir creates itself only.
    if (output_dir.empty()) RETURN_IF_ERROR(CreateDirectories(ResolveAgainstWorkingDirectory("studies")));
    ASSIGN_OR_RETURN(lock, experiments::LockOutputDirectory(options.output_dir));
    options.lock = lock.get();
  }

  absl::StatusOr<data::Dataset> dataset = data::LoadDataset(spec.dataset(), spec.data_dir());
  if (!dataset.ok()) {
    return absl::Status(dataset.status().code(), absl::StrCat(config, ": dataset: ", dataset.status().message()));
  }
  ASSIGN_OR_RETURN(const experiments::RunSummary summary, experiments::RunStudies(spec, *dataset, options));
  if (!summary.coordinator) return absl::OkStatus();  // Rank 0 measures, reports and prints.
  std::fprintf(stderr, "%sresults: %s\n", experiments::RunSummaryTable(summary).c_str(), options.output_dir.c_str());
  JsonObject json = experiments::RunSummaryJson(summary);
  json.Add("output_dir", options.output_dir);
  if (experiments::WantsTheoryMeasurements(spec)) {
    experiments::TheoryMeasurementOptions theory_options;
    theory_options.lipschitz_sample = absl::GetFlag(FLAGS_lipschitz_sample);
    theory_options.noise_sample = absl::GetFlag(FLAGS_noise_sample);
    theory_options.threads = std::max(1, options.parallel_trials);
    ASSIGN_OR_RETURN(const JsonObject theory,
                     experiments::MeasureTheory(spec, *dataset, options.output_dir, theory_options));
    json.Add("theory", theory);
  }
  // The report of the whole output directory (experiments/study_runner/report.h): table, fits, L, predictions,
  // verdicts.
  experiments::ReportOptions report_options;
  report_options.plot_script = experiments::FindPlotScript(argv0);
  const absl::StatusOr<JsonObject> report = experiments::WriteReport(options.output_dir, report_options);
  if (report.ok()) {
    std::fprintf(stderr, "report: %s/report.md\n", options.output_dir.c_str());
    json.Add("report", *report);
  } else {
    std::fprintf(stderr, "study: report: %s\nstudy: the report was not written; the results are stored in %s\n",
                 std::string(report.status().message()).c_str(), options.output_dir.c_str());
    json.Add("report_error", std::string(report.status().message()));
    *exit_code = kReportNotWritten;
  }
  std::cout << json.ToString() << std::endl;
  return absl::OkStatus();
}

}  // namespace
}  // namespace parsity

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Runs the studies of a config (--config, --profile) into --output_dir; the last stdout line is a JSON summary.");
  absl::ParseCommandLine(argc, argv);
  const parsity::distributed::MpiSession session;
  int exit_code = 0;
  // On an error the job ends (finished trials are stored; rerun to resume).
  if (const int failed = session.ExitCode("study", parsity::Run(argv[0], session, &exit_code)); failed != 0) {
    return failed;
  }
  // Ranks other than 0 finish with the sweep, rank 0 after the theory measurements and the report: wait idle.
  session.WaitForAllRanks();
  return exit_code;
}
