// The report's verdicts on the paper's three findings (experiments/PROTOCOL.md, "The study being reproduced"),
// computed from the curves alone. Each returns one line: the verdict, " -- ", then one clause per curve (or per
// sparse curve against its workload's dense one) with the numbers it rests on. Verdicts:
//   VerdictOne:   "holds" | "holds partly or not" | "not measured: ..."
//   VerdictTwo:   "holds" | "does not hold everywhere" | "not measured -- ..." | "not measured: only one sparsity level"
//   VerdictThree: "holds" | "holds partly (L is larger; the L ratio misses the step ratio)" | "does not hold" |
//                 "not measured -- ..." | "not measured: only one sparsity level"
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_VERDICTS_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_VERDICTS_H_

#include <string>
#include <vector>

#include "experiments/study_runner/report_curves.h"

namespace parsity::experiments::report {

// Finding 1: steps fall with batch size through the three regimes.
std::string VerdictOne(const std::vector<Curve>& curves);

// Finding 2: sparse networks need more steps at every batch size.
std::string VerdictTwo(const std::vector<Curve>& curves);

// Finding 3: larger L for sparser networks (LipschitzComparison), and the L ratio predicts the step ratio.
std::string VerdictThree(const std::vector<Curve>& curves, double tolerance);

}  // namespace parsity::experiments::report

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_VERDICTS_H_
