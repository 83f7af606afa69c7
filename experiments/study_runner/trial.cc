#include "experiments/study_runner/trial.h"

#include <memory>
#include <utility>

#include "absl/strings/str_format.h"
#include "experiments/study_runner/config.h"
#include "experiments/study_runner/early_termination.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "tools/base/check.h"
#include "tools/base/status_macros.h"

namespace parsity::experiments {

DataFingerprint FingerprintData(const data::Dataset& dataset) {
  DataFingerprint fingerprint;
  fingerprint.set_train_examples(dataset.train.size());
  fingerprint.set_validation_examples(dataset.validation.size());
  for (float mean : dataset.mean) fingerprint.add_mean(mean);
  for (float stddev : dataset.stddev) fingerprint.add_stddev(stddev);
  return fingerprint;
}

TrialSpec MakeTrialSpec(const StudySpec& spec, const DataFingerprint& data, double sparsity, int64_t batch_size,
                        int trial, const Metaparameters& parameters) {
  TrialSpec result;
  result.set_dataset(spec.dataset());
  *result.mutable_data() = data;
  result.set_network(spec.network());
  OptimizerSpec& optimizer = *result.mutable_optimizer();
  optimizer.set_name(spec.optimizer().name());
  if (parameters.has_momentum()) optimizer.set_momentum(parameters.momentum());
  if (optimizer.name() == "adam") {
    optimizer.set_beta1(spec.optimizer().beta1());
    optimizer.set_beta2(spec.optimizer().beta2());
    optimizer.set_epsilon(spec.optimizer().epsilon());
  }
  ScheduleSpec& schedule = *result.mutable_schedule();
  schedule.set_name(spec.schedule().name());
  schedule.set_learning_rate(parameters.learning_rate());
  if (parameters.has_decay_steps()) schedule.set_decay_steps(parameters.decay_steps());
  if (parameters.has_end_factor()) schedule.set_end_factor(parameters.end_factor());
  result.set_batch_size(batch_size);
  result.set_max_steps(MaxStepsFor(spec, batch_size));
  result.set_check_interval(CheckIntervalFor(spec, batch_size));
  result.set_goal_error(spec.goal_error());
  result.set_data_order_seed(spec.data_order_seed());
  if (spec.exact_gradient_sum()) result.set_exact_gradient_sum(true);
  result.set_sparsity(sparsity);
  PruningSpec& pruning = *result.mutable_pruning();
  if (sparsity == 0) {
    pruning.set_scheme("none");
  } else {
    pruning.set_scheme(spec.pruning().scheme());
    pruning.set_scope(spec.pruning().scope());
    pruning.set_prune_biases(spec.pruning().prune_biases());
    pruning.set_snip_batches(spec.pruning().snip_batches());
  }
  result.set_trial(trial);
  result.set_seed(static_cast<uint64_t>(trial));
  return result;
}

std::string TrialSpecJson(const TrialSpec& trial) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(trial, &json, options);
  PARSITY_CHECK(status.ok());  // Printing a valid message cannot fail.
  return json;
}

std::string TrialFingerprint(const TrialSpec& trial) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a offset basis and prime.
  for (unsigned char byte : TrialSpecJson(trial)) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  return absl::StrFormat("%016x", hash);
}

std::string TrialSpecDifferences(const TrialSpec& stored, const TrialSpec& current) {
  google::protobuf::util::MessageDifferencer differencer;
  std::string report;
  differencer.ReportDifferencesToString(&report);
  differencer.Compare(stored, current);
  while (!report.empty() && report.back() == '\n') report.pop_back();
  return report;
}

trainer::TrainerConfig TrainerConfigFor(const TrialSpec& trial) {
  trainer::TrainerConfig config;
  config.batch_size = trial.batch_size();
  config.max_steps = trial.max_steps();
  config.check_interval = trial.check_interval();
  config.goal_error = trial.goal_error();
  config.data_order_seed = trial.data_order_seed();
  config.exact_gradient_sum = trial.exact_gradient_sum();
  config.evaluator.threads = 1;
  config.optimizer.name = trial.optimizer().name();
  config.optimizer.momentum = static_cast<float>(trial.optimizer().momentum());
  config.optimizer.beta1 = static_cast<float>(trial.optimizer().beta1());
  config.optimizer.beta2 = static_cast<float>(trial.optimizer().beta2());
  config.optimizer.epsilon = static_cast<float>(trial.optimizer().epsilon());
  config.schedule.name = trial.schedule().name();
  config.schedule.initial_learning_rate = static_cast<float>(trial.schedule().learning_rate());
  config.schedule.decay_steps = trial.schedule().decay_steps();
  config.schedule.end_factor = static_cast<float>(trial.schedule().end_factor());
  return config;
}

pruning::PruningConfig PruningConfigFor(const TrialSpec& trial) {
  pruning::PruningConfig config;
  config.scheme = trial.pruning().scheme();
  config.sparsity = trial.sparsity();
  config.scope = trial.pruning().scope();
  config.prune_biases = trial.pruning().prune_biases();
  config.snip_batches = trial.pruning().snip_batches();
  return config;
}

absl::StatusOr<TrialRun> TrainTrial(const TrialSpec& trial, const nn::Network& network, const data::Dataset& dataset,
                                    const nn::Mask* mask, absl::Span<float> parameters,
                                    const std::function<bool(int64_t earliest_completion_step)>& can_still_win,
                                    bool check_early_exit) {
  trainer::TrainerConfig config = TrainerConfigFor(trial);
  config.check_early_exit = check_early_exit;
  ASSIGN_OR_RETURN(std::unique_ptr<trainer::Trainer> trainer,
                   trainer::Trainer::Create(config, &network, &dataset, mask));
  trainer::TrainerHooks hooks;
  hooks.on_check = [&](const trainer::Check& check) {
    // The last check ends the trial anyway: nothing to save.
    if (check.step >= config.max_steps) return true;
    return can_still_win(NextCheckStep(check.step, config.check_interval, config.max_steps));
  };
  TrialRun run;
  run.result = trainer->Train(parameters, hooks);
  run.stopped_early = run.result.stopped_by_caller;
  return run;
}

}  // namespace parsity::experiments
