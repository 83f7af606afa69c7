// The trainer's validation check, with an exact early exit. A check only has to decide whether the validation error
// is at most the goal, i.e. whether at most max_errors = MaxErrorsWithin(goal, N) of the N examples are misclassified.
// With early exit, the check evaluates the set in rounds and stops as soon as more than max_errors examples are
// misclassified: the check cannot complete the trial, whatever the other examples give. A check that completes the
// trial always evaluates every example, so checks with and without early exit make the same decision (and a study the
// same steps-to-result): each example's prediction is computed bit for bit the same in either mode
// (GradientEvaluator::Evaluate), only how many examples are looked at changes.
//
// Order: the examples misclassified when last evaluated come first, then the others, each group by index. Examples
// wrong at one check are mostly still wrong at the next, so a check of a trial near but above its goal exits after
// about max_errors examples instead of about max_errors / error. The order changes how many examples a check
// evaluates, never its decision.
//
// Under data parallelism each rank owns the shard ShardOf(N, rank, P) of the set (gradient_reducer.h) and its own
// order over it; every round, each rank evaluates up to round_examples of its shard and the counts are summed over
// the ranks, so every rank takes the same decision after the same round.
//
//   ValidationCheck check(&dataset.validation, &evaluator, reducer, {.early_exit = true});
//   const CheckEvaluation evaluation = check.Run(parameters, MaxErrorsWithin(goal_error, dataset.validation.size()));
//   if (evaluation.errors <= max_errors) ...   // complete: every example was evaluated
#ifndef PARSITY_TRAINING_TRAINER_VALIDATION_CHECK_H_
#define PARSITY_TRAINING_TRAINER_VALIDATION_CHECK_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "tools/base/aligned_vector.h"
#include "training/data/examples.h"
#include "training/trainer/gradient_evaluator.h"
#include "training/trainer/gradient_reducer.h"

namespace parsity::trainer {

// The most misclassified examples out of `examples` for which errors / examples <= goal_error, computed with the same
// double division the trainer compares (so that "errors <= MaxErrorsWithin" and "error rate <= goal" agree exactly);
// -1 when even 0 errors exceed the goal. REQUIRES: examples >= 1.
int64_t MaxErrorsWithin(double goal_error, int64_t examples);

// What one check saw.
struct CheckEvaluation {
  int64_t examples = 0;   // The validation set's size N (over all ranks).
  int64_t evaluated = 0;  // Examples evaluated (over all ranks): N unless the check exited early.
  int64_t errors = 0;     // Misclassified among the evaluated: a lower bound on the set's errors when it exited early.
  double loss_sum = 0;    // Sum of the evaluated examples' losses (nats).

  bool exited_early() const { return evaluated < examples; }
  // errors / N: the validation error, or a lower bound on it when the check exited early.
  double error_rate() const { return static_cast<double>(errors) / static_cast<double>(examples); }
  // Mean loss over the evaluated examples.
  double mean_loss() const { return loss_sum / static_cast<double>(evaluated); }
};

struct ValidationCheckOptions {
  // Stop once the errors exceed max_errors (or a loss is NaN or infinite: the trial diverged whatever the rest gives).
  // Off: every check evaluates the whole set.
  bool early_exit = false;
  // Examples per rank and round (0: 128 per evaluator thread, or a quarter of the shard when that is less). The
  // smallest early exit costs one round.
  int64_t round_examples = 0;
};

class ValidationCheck {
 public:
  // `validation`, `evaluator` and `reducer` (nullable: one process) must outlive the check.
  // REQUIRES: validation->size() >= 1, round_examples >= 0 (checked).
  ValidationCheck(const data::Examples* validation, GradientEvaluator* evaluator, GradientReducer* reducer,
                  ValidationCheckOptions options);

  // Evaluates `parameters` on the validation set, stopping early (when enabled) once errors > max_errors. Collective
  // under a reducer: every rank calls it with the same max_errors.
  CheckEvaluation Run(absl::Span<const float> parameters, int64_t max_errors);

 private:
  const data::Examples* validation_;
  GradientEvaluator* evaluator_;
  GradientReducer* reducer_;
  ValidationCheckOptions options_;
  Shard shard_;                  // This rank's examples.
  int64_t rounds_ = 0;           // Rounds of a whole check: the same on every rank.
  // With early exit: per example of the shard, 1 when misclassified at its last evaluation.
  std::vector<uint8_t> last_misclassified_;
  std::vector<int64_t> order_;   // Shard offsets in evaluation order.
  AlignedFloatVector pixels_;    // One round's examples, gathered (64-byte aligned, as the kernels read them).
  std::vector<int32_t> labels_;
  std::vector<uint8_t> correct_;
};

}  // namespace parsity::trainer

#endif  // PARSITY_TRAINING_TRAINER_VALIDATION_CHECK_H_
