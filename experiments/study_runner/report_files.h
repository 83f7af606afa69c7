// The report's machine-readable outputs: curves.csv, fits.csv, lipschitz.csv and gradient_noise.csv of a results
// directory, and the fits in the JSON summary. Numbers are written with JsonNumber (the shortest text that reads
// back to the same double).
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_FILES_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_FILES_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "experiments/study_runner/report_curves.h"
#include "tools/base/json.h"

namespace parsity::experiments::report {

// Appends one row per observed point to curves.csv text `csv`: source,workload,sparsity,batch_size,steps,fitted_steps,
// regime,predicted_steps (empty fields where there is no fit or prediction).
void AppendCurvesCsv(const std::vector<Curve>& curves, absl::string_view source, std::string& csv);

// fits.csv: one row per fitted curve with S_min, B_crit and their 95% bootstrap intervals.
std::string FitsCsv(const std::vector<Curve>& curves);

// gradient_noise.csv of the whole directory: one row per noise measurement of every curve.
std::string NoiseCsv(const std::vector<Curve>& curves);

// lipschitz.csv of the whole directory: one row per L measurement of every curve.
std::string LipschitzCsv(const std::vector<Curve>& curves);

// A curve's fit (or the note why there is none) for the report's JSON summary.
JsonObject FitJson(const Curve& curve);

}  // namespace parsity::experiments::report

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_REPORT_FILES_H_
