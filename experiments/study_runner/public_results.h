// Shallue et al.'s public results (the batch_science data of github.com/google-research/google-research) read as
// parsity's study records, so that //experiments:report --compare_dir can overlay them on a run of the same workload.
//
//   ASSIGN_OR_RETURN(std::vector<StudyRecord> theirs,
//                    ReadPublicStudyRecords("/data/batch_science", {{"mnist/simple_cnn/sgd", 0.02}}));
//
// Their layout is parsity's without the sparsity level:
//   ROOT/<dataset>/<model>/<optimizer>/<batch_size>/study.json          batch_size, dataset, model, optimizer, ...
//   ROOT/<dataset>/<model>/<optimizer>/<batch_size>/<trial_id>/metadata.json    status, steps, parameters, trial_id
//   ROOT/<dataset>/<model>/<optimizer>/<batch_size>/<trial_id>/measurements.csv step, ..., val/classification_error
// Their names become parsity's: data set cifar_10 -> cifar10; models simple_cnn_base -> simple_cnn, resnet_8 ->
// resnet8; optimizer nesterov_momentum -> nesterov; other names are kept. Their studies have no goal: a study's
// steps-to-result at goal g is, as in their measurement_utils.compute_steps_to_result, the first step of any COMPLETE
// trial's measurements with val/classification_error < g (strictly; parsity's trainer stops at <= g), the trial that
// reached it first being the best (ties: lowest trial id). Records have sparsity 0 and counts by status.
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_PUBLIC_RESULTS_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_PUBLIC_RESULTS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "experiments/study_runner/records.pb.h"

namespace parsity::experiments {

// The studies under `root` of the workloads named in `goal_errors` ("mnist/simple_cnn/sgd" -> goal validation
// error, in parsity's names); studies of other workloads are skipped. Sorted like ReadStudyRecords. Errors: DataLoss
// naming the file when a study.json or metadata.json cannot be parsed, a COMPLETE trial's measurements.csv is missing,
// lacks a step or val/classification_error column, or has a row that is not numbers.
absl::StatusOr<std::vector<StudyRecord>> ReadPublicStudyRecords(const std::string& root,
                                                                const std::map<std::string, double>& goal_errors);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_PUBLIC_RESULTS_H_
