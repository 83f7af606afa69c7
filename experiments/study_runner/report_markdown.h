// The text of report.md (report.h), section by section in the report's order: what was run and the tables, the
// fits, L along training, the gradient noise, the theory's prediction, the verdicts and the plots.
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_MARKDOWN_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_MARKDOWN_H_

#include <map>
#include <string>
#include <vector>

#include "experiments/study_runner/records.pb.h"
#include "experiments/study_runner/report_curves.h"
#include "experiments/study_runner/store_verification.h"

namespace parsity::experiments::report {

// What report.md is written from (WriteReport gathers it).
struct MarkdownInputs {
  std::string dir;                                         // The results directory (the title names it).
  std::vector<StudyRecord> records;                        // Its studies.
  std::vector<Curve> curves;                               // Fitted, with L and noise (report_curves.h).
  std::vector<std::string> workloads;                      // Workloads(curves).
  std::vector<Curve> compare;                              // A compared run's curves, or none.
  std::string compare_dir;                                 // Where they came from.
  StoreVerification store;                                 // What the store's verification found.
  int bootstrap_resamples = 0;                             // Of the fits' intervals.
  std::string verdicts[3];                                 // report_verdicts.h's VerdictOne, Two, Three.
  std::string plot_note;                                   // A line when the plots were not drawn.
  std::map<std::string, std::vector<std::string>> plots;  // Workload -> its PNG paths relative to dir.
};

// The whole of report.md.
std::string ReportMarkdown(const MarkdownInputs& in);

}  // namespace parsity::experiments::report

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_MARKDOWN_H_
