// Trains one trial and measures its steps-to-result (experiments/PROTOCOL.md, "The tuning protocol"): SGD-family
// updates on minibatches from a seeded stream, the whole validation set evaluated every check_interval steps, and the
// trial COMPLETE at the first check whose validation error is <= goal_error, INFEASIBLE as soon as the loss is NaN or
// infinite, INCOMPLETE when the step budget runs out. With check_early_exit a check stops evaluating as soon as it
// cannot complete the trial (validation_check.h); the trial's status and steps-to-result are the same either way.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Trainer> trainer, Trainer::Create(config, network.get(), &dataset, &mask));
//   InitializeParameters(*network, /*seed=*/trial, parameters);   // then prune, then:
//   ASSIGN_OR_RETURN(TrialResult result, trainer->Train(parameters));
//   if (result.status == TrialStatus::kComplete) Use(*result.steps_to_result);
#ifndef PARSITY_TRAINING_TRAINER_TRAINER_H_
#define PARSITY_TRAINING_TRAINER_TRAINER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "training/data/batch_stream.h"
#include "training/data/dataset.h"
#include "training/nn/network.h"
#include "training/nn/mask.h"
#include "training/nn/sparse_plan.h"
#include "training/optimizers/optimizer.h"
#include "training/optimizers/optimizer_factory.h"
#include "training/optimizers/schedule.h"
#include "training/trainer/gradient_evaluator.h"
#include "training/trainer/gradient_reducer.h"
#include "training/trainer/validation_check.h"

namespace parsity::trainer {

// How a trial ended, named as in Shallue et al.'s published results.
enum class TrialStatus {
  kComplete,    // Reached the goal error at a check.
  kIncomplete,  // Used its step budget (or was stopped by its caller) without reaching the goal.
  kInfeasible,  // Its training or validation loss became NaN or infinite (it diverged).
};

// "COMPLETE", "INCOMPLETE", "INFEASIBLE".
absl::string_view TrialStatusName(TrialStatus status);

struct TrainerConfig {
  int64_t batch_size = 0;        // Examples per step: >= 1 and <= the training set's size.
  int64_t max_steps = 0;         // Step budget: >= 1.
  int64_t check_interval = 100;  // Steps between evaluations of the whole validation set: >= 1.
  // Stop a check once more than goal_error x N validation examples are misclassified (it cannot complete the trial).
  // Exact: the same status and steps-to-result as evaluating every example; only the checks' recorded error (then a
  // lower bound) and loss (then over the examples evaluated) change, and a non-finite loss among examples not
  // evaluated is seen at the next check or step where it shows (a diverged network shows it on every example).
  bool check_early_exit = false;
  double goal_error = 0;         // Validation error that completes the trial: in (0, 1).
  uint64_t data_order_seed = 0;  // Seed of the batch stream; the paper uses 0 for every trial.
  EvaluatorOptions evaluator;    // Threads inside a step, chunk size (its sparse_plan is the trainer's own).
  // With a mask: how the masked network's layers pick their kernels (training/nn/sparse_plan.h). kMeasured runs each
  // product on the kept weights only where that was measured faster; kDense forces the masked-dense kernels. Results
  // are the same either way.
  nn::KernelSelection sparse_kernels = nn::KernelSelection::kMeasured;
  optimizers::OptimizerConfig optimizer;
  optimizers::ScheduleConfig schedule;
  // With a reducer (data-parallel training): steps between checks that every rank holds bit-identical parameters;
  // a divergence aborts the process with a message naming the ranks. 0 turns the check off.
  int64_t consistency_check_interval = 1000;
  // Sum a step's gradient exactly (training/trainer/exact_sum.h) over fixed leaves of the batch (the evaluator's
  // leaf_examples): the gradient, and hence the whole trial, is then bit-identical for any number of ranks and
  // threads. Under a reducer each rank computes a contiguous share of the leaves (ShardOf over leaves, not examples)
  // and the exact sums are all-reduced (16 bytes per entry instead of 4). With a mask that prunes, the sums hold
  // the kept entries only (the pruned ones' gradient is +0), so they cost and travel in proportion to the density.
  // A batch of one leaf in one process skips the 128-bit entries (ExactSum::RoundOneTerm: the same bits). A gradient entry of magnitude >= 2^40 in a
  // leaf, or a non-finite one, makes the step's loss NaN: the trial ends INFEASIBLE, as it does for a non-finite
  // loss. Off: float sums in an order that depends on the threads and ranks (bit-identical for a given split only).
  bool exact_gradient_sum = false;
};

// Validates `config` against a training set of `training_examples` examples. Errors: InvalidArgument naming the
// field and its value (and the optimizer's and schedule's own validation errors).
absl::Status ValidateTrainerConfig(const TrainerConfig& config, int64_t training_examples);

// One evaluation of the validation set (all of it unless the check exited early).
struct Check {
  int64_t step = 0;                // Updates done before the check.
  // Misclassified examples over the validation set's size, in [0, 1]; when the check exited early, a lower bound
  // (the errors among the examples evaluated), above the goal.
  double validation_error = 0;
  double validation_loss = 0;      // Mean cross-entropy over the examples evaluated (nats).
  double mean_training_loss = 0;   // Mean of the minibatch losses since the previous check.
  int64_t examples_seen = 0;       // step * batch_size.
  double seconds = 0;              // Wall time since training started, evaluation included.
  int64_t validation_examples = 0;            // The validation set's size.
  int64_t validation_examples_evaluated = 0;  // Fewer than validation_examples iff the check exited early.
};

struct TrialResult {
  TrialStatus status = TrialStatus::kIncomplete;
  std::optional<int64_t> steps_to_result;  // The step of the first check with error <= goal; set iff COMPLETE.
  int64_t steps = 0;                       // Updates done.
  int64_t examples_seen = 0;               // steps * batch_size.
  double final_validation_error = 1.0;     // At the last check (1.0 when there was none; a lower bound when that
                                           // check exited early).
  bool stopped_by_caller = false;          // An on_check hook asked to stop.
  std::vector<Check> checks;
  int64_t checks_exited_early = 0;            // Checks that stopped before the whole validation set.
  int64_t validation_examples_evaluated = 0;  // Over all checks (checks.size() x the set's size without early exit).
  double wall_seconds = 0;
};

// Optional observers of a trial.
struct TrainerHooks {
  // After every check; returning false stops the trial as INCOMPLETE with stopped_by_caller set (unless this check
  // completed it). Exact early termination in studies uses it.
  std::function<bool(const Check&)> on_check;
  // After every update, with the number of updates done and the parameters before and after it (for the theory
  // estimators, which measure along the trajectory).
  std::function<void(int64_t step, absl::Span<const float> previous, absl::Span<const float> current)> after_step;
  // When set, after_step runs only after the updates `step` for which this returns true: the trainer then copies (and,
  // under a plan that packs weights, converts) the parameters for those steps only, where it otherwise copies them
  // before every update.
  std::function<bool(int64_t step)> after_step_due;
};

// The parameter initialization of experiments/PROTOCOL.md from std::mt19937_64(seed): each trial's seed gives its own
// weights.
void InitializeParameters(const nn::Network& network, uint64_t seed, absl::Span<float> parameters);

class Trainer {
 public:
  // Validates `config` (ValidateTrainerConfig), the dataset's shape against the network's input, and the mask's
  // size. `network`, `dataset`, `mask` (nullable: dense) and `reducer` (nullable: one process) must outlive the
  // trainer.
  //
  // Data-parallel training (a reducer of P ranks): every rank draws the same global batch from the same stream and
  // computes the gradient sum of its shard (ShardOf in gradient_reducer.h); the reducer adds the sums, and every
  // rank divides by the batch size and applies the same update. Each rank evaluates its shard of the validation set
  // and the losses and error counts are added. Results equal the one-process run up to float summation order.
  // Errors also: a batch smaller than the number of ranks.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(const TrainerConfig& config, const nn::Network* network,
                                                         const data::Dataset* dataset, const nn::Mask* mask,
                                                         GradientReducer* reducer = nullptr);

  // Trains `parameters` in place from their current values until the trial ends. With a mask attached the pruned
  // entries are first set to +0.0f (the masked network's weights; a dense kernel would otherwise read what they held
  // and the first step would depend on the plan's kernel choice). Deterministic: the same config, initial parameters
  // and thread count give bit-identical results, whichever kernels the plan picked. Cannot fail once created.
  // Hooks and the caller see the parameters in the network's order, also when the plan keeps some layer's weights
  // packed in its own (nn::SparsePlan::reordered: one-process trials, for layers whose products all run sparse, such
  // as LeNet-300-100's first layer under SNIP at 90%); an after_step hook then costs two converting copies per step it
  // is due (TrainerHooks::after_step_due).
  TrialResult Train(absl::Span<float> parameters, const TrainerHooks& hooks = {});

  const TrainerConfig& config() const { return config_; }
  // Runs the network under the plan: on parameters in the plan's order (nn::SparsePlan::ToPlanOrder).
  GradientEvaluator& evaluator() { return evaluator_; }
  // The step's exact sum (compact over the kept entries when pruned) with exact_gradient_sum, else null.
  const ExactSum* exact_sum() const { return exact_sum_.get(); }
  // The sparse execution plan built at creation for a mask that prunes something; null otherwise (dense).
  const nn::SparsePlan* sparse_plan() const { return sparse_plan_.get(); }

 private:
  Trainer(const TrainerConfig& config, const nn::Network* network, const data::Dataset* dataset,
          const nn::Mask* mask, GradientReducer* reducer, optimizers::Schedule schedule,
          std::unique_ptr<nn::SparsePlan> sparse_plan);
  // The gradient of `batch` (this rank's shard, summed over ranks) into `gradient`, to be read times
  // `*gradient_scale` (1/B for a plain sum, 1 where the exact sum rounded it already): the mean-loss gradient as
  // Optimizer::ScaledStep takes it. Returns the mean loss.
  double BatchGradient(absl::Span<const float> parameters, const data::Batch& batch, absl::Span<float> gradient,
                       float* gradient_scale);

  TrainerConfig config_;
  const nn::Network* network_;
  const data::Dataset* dataset_;
  const nn::Mask* mask_;
  GradientReducer* reducer_;
  optimizers::Schedule schedule_;
  std::unique_ptr<nn::SparsePlan> sparse_plan_;  // Before evaluator_, which uses it.
  GradientEvaluator evaluator_;
  ValidationCheck validation_check_;
  std::unique_ptr<ExactSum> exact_sum_;  // With config_.exact_gradient_sum; compact over kept_indices_ if pruned.
  std::vector<int32_t> kept_indices_;    // With exact_gradient_sum and a mask that prunes: its kept entries.
};

}  // namespace parsity::trainer

#endif  // PARSITY_TRAINING_TRAINER_TRAINER_H_
