#include "training/trainer/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/base/aligned_vector.h"
#include "tools/base/check.h"
#include "tools/base/status_macros.h"

namespace parsity::trainer {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

absl::string_view TrialStatusName(TrialStatus status) {
  switch (status) {
    case TrialStatus::kComplete:
      return "COMPLETE";
    case TrialStatus::kIncomplete:
      return "INCOMPLETE";
    case TrialStatus::kInfeasible:
      return "INFEASIBLE";
  }
  return "UNKNOWN";
}

absl::Status ValidateTrainerConfig(const TrainerConfig& config, int64_t training_examples) {
  if (config.batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("batch_size: ", config.batch_size, " is not a positive batch size"));
  }
  if (config.batch_size > training_examples) {
    return absl::InvalidArgumentError(absl::StrCat("batch_size: ", config.batch_size,
                                                   " is larger than the training set (", training_examples,
                                                   " examples)"));
  }
  if (config.max_steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_steps: ", config.max_steps, " must be >= 1"));
  }
  if (config.check_interval < 1) {
    return absl::InvalidArgumentError(absl::StrCat("check_interval: ", config.check_interval, " must be >= 1"));
  }
  if (!(config.goal_error > 0 && config.goal_error < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("goal_error: ", config.goal_error, " is not in (0, 1): it is a validation error rate"));
  }
  if (config.evaluator.threads < 1) {
    return absl::InvalidArgumentError(absl::StrCat("threads: ", config.evaluator.threads, " must be >= 1"));
  }
  if (config.evaluator.leaf_examples < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf_examples: ", config.evaluator.leaf_examples, " must be >= 0 (0: the network's chunk)"));
  }
  if (config.evaluator.max_chunk < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_chunk: ", config.evaluator.max_chunk, " must be >= 1"));
  }
  RETURN_IF_ERROR(optimizers::Schedule::Create(config.schedule).status());
  // The optimizer validates its own fields; a one-parameter probe creates nothing large.
  RETURN_IF_ERROR(optimizers::CreateOptimizer(config.optimizer, 1, nullptr).status());
  return absl::OkStatus();
}

void InitializeParameters(const nn::Network& network, uint64_t seed, absl::Span<float> parameters) {
  std::mt19937_64 engine(seed);
  network.Initialize(engine, parameters);
}

namespace {

EvaluatorOptions WithPlan(EvaluatorOptions options, const nn::SparsePlan* plan) {
  options.sparse_plan = plan;
  return options;
}

}  // namespace

Trainer::Trainer(const TrainerConfig& config, const nn::Network* network, const data::Dataset* dataset,
                 const nn::Mask* mask, GradientReducer* reducer, optimizers::Schedule schedule,
                 std::unique_ptr<nn::SparsePlan> sparse_plan)
    : config_(config),
      network_(network),
      dataset_(dataset),
      mask_(mask),
      reducer_(reducer),
      schedule_(std::move(schedule)),
      sparse_plan_(std::move(sparse_plan)),
      evaluator_(network, WithPlan(config.evaluator, sparse_plan_.get())),
      validation_check_(&dataset->validation, &evaluator_, reducer, {.early_exit = config.check_early_exit}) {
  if (config.exact_gradient_sum) {
    // The entries as the step's buffers hold them: in the plan's order.
    if (mask != nullptr && mask->pruned_count() > 0) kept_indices_ = sparse_plan_->mask().KeptIndices();
    exact_sum_ = std::make_unique<ExactSum>(kept_indices_.empty() ? network->parameter_count()
                                                                   : static_cast<int64_t>(kept_indices_.size()));
  }
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const TrainerConfig& config, const nn::Network* network,
                                                         const data::Dataset* dataset, const nn::Mask* mask,
                                                         GradientReducer* reducer) {
  PARSITY_CHECK(network != nullptr && dataset != nullptr);
  RETURN_IF_ERROR(ValidateTrainerConfig(config, dataset->train.size()));
  const nn::ImageShape& input = network->input_shape();
  const data::ImageShape& examples = dataset->train.shape;
  if (examples.height != input.height || examples.width != input.width || examples.channels != input.channels ||
      dataset->validation.shape != examples) {
    return absl::InvalidArgumentError(absl::StrCat("data set '", dataset->name, "' has examples of shape ",
                                                   examples.ToString(), ", network '", network->name(), "' takes ",
                                                   input.height, "x", input.width, "x", input.channels));
  }
  if (dataset->validation.size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("data set '", dataset->name, "' has no validation examples"));
  }
  if (mask != nullptr) RETURN_IF_ERROR(mask->CheckCovers(network->parameter_count()));
  if (reducer != nullptr && config.batch_size < reducer->size()) {
    return absl::InvalidArgumentError(absl::StrCat("batch_size: ", config.batch_size, " is smaller than the ",
                                                   reducer->size(), " data-parallel ranks"));
  }
  if (config.consistency_check_interval < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("consistency_check_interval: ", config.consistency_check_interval, " must be >= 0"));
  }
  ASSIGN_OR_RETURN(optimizers::Schedule schedule, optimizers::Schedule::Create(config.schedule));
  std::unique_ptr<nn::SparsePlan> sparse_plan;
  if (mask != nullptr && mask->pruned_count() > 0) {
    // One process may hold its parameters in the plan's order (ranks exchange them in the network's: each rank's
    // plan measures its own kernel choices, on which packing depends).
    ASSIGN_OR_RETURN(sparse_plan,
                     nn::SparsePlan::Create(*network, *mask,
                                            {.selection = config.sparse_kernels,
                                             .pack_weights = reducer == nullptr,
                                             .step_batch = config.batch_size}));
  }
  return std::unique_ptr<Trainer>(
      new Trainer(config, network, dataset, mask, reducer, std::move(schedule), std::move(sparse_plan)));
}

double Trainer::BatchGradient(absl::Span<const float> parameters, const data::Batch& batch,
                              absl::Span<float> gradient, float* gradient_scale) {
  if (exact_sum_ != nullptr) {
    *gradient_scale = 1.0f;  // Rounded with the 1/B scale already.
    const int64_t leaves = evaluator_.LeafCount(batch.size());
    const float scale = 1.0f / static_cast<float>(batch.size());
    // NaN gradient and loss after an invalid term: the trial ends INFEASIBLE at this step.
    if (reducer_ == nullptr && leaves == 1) {  // The same bits without the 128-bit entries.
      const double loss_sum = evaluator_.OneLeafGradientSum(parameters, batch.pixels.data(), batch.labels.data(),
                                                            batch.size(), absl::MakeSpan(gradient));
      if (!ExactSum::RoundOneTerm(absl::MakeSpan(gradient), scale)) return std::numeric_limits<double>::quiet_NaN();
      return ExactSum::RoundOneScalar(loss_sum) / static_cast<double>(batch.size());
    }
    const Shard share = reducer_ == nullptr ? Shard{0, leaves} : ShardOf(leaves, reducer_->rank(), reducer_->size());
    exact_sum_->Clear();
    evaluator_.AddLeafGradients(parameters, batch.pixels.data(), batch.labels.data(), batch.size(), share.begin,
                                share.end, exact_sum_.get(), kept_indices_);
    if (reducer_ != nullptr) reducer_->SumExact(exact_sum_.get());
    if (kept_indices_.empty()) {
      exact_sum_->Round(absl::MakeSpan(gradient), scale);
    } else {
      exact_sum_->Round(absl::MakeSpan(gradient), kept_indices_, scale);
    }
    return exact_sum_->Scalar() / static_cast<double>(batch.size());
  }
  // The sum of the batch's gradients; the optimizer multiplies it by 1/B as it reads it (Optimizer::ScaledStep).
  *gradient_scale = 1.0f / static_cast<float>(batch.size());
  if (reducer_ == nullptr) {
    return evaluator_.GradientSum(parameters, batch.pixels.data(), batch.labels.data(), batch.size(),
                                  absl::MakeSpan(gradient)) /
           static_cast<double>(batch.size());
  }
  const Shard shard = ShardOf(batch.size(), reducer_->rank(), reducer_->size());
  std::fill(gradient.begin(), gradient.end(), 0.0f);
  double loss_sum[1] = {0.0};
  if (shard.end > shard.begin) {
    const int64_t values_per_example = network_->input_shape().size();
    loss_sum[0] = evaluator_.AccumulateGradientSum(parameters, batch.pixels.data() + shard.begin * values_per_example,
                                                   batch.labels.data() + shard.begin, shard.end - shard.begin,
                                                   absl::MakeSpan(gradient));
  }
  reducer_->SumGradients(absl::MakeSpan(gradient));
  reducer_->SumScalars(loss_sum);
  return loss_sum[0] / static_cast<double>(batch.size());
}

TrialResult Trainer::Train(absl::Span<float> network_order_parameters, const TrainerHooks& hooks) {
  PARSITY_CHECK(static_cast<int64_t>(network_order_parameters.size()) == network_->parameter_count());
  const auto start = std::chrono::steady_clock::now();
  if (mask_ != nullptr) mask_->Apply(network_order_parameters);
  // Under a plan that packs some layer's weights the trial runs on a copy in the plan's order, converted back for
  // the hooks and at the end.
  const bool reordered = sparse_plan_ != nullptr && sparse_plan_->reordered();
  AlignedFloatVector plan_order_parameters;
  absl::Span<float> parameters = network_order_parameters;
  if (reordered) {
    plan_order_parameters.assign(network_order_parameters.begin(), network_order_parameters.end());
    sparse_plan_->ToPlanOrder(absl::MakeSpan(plan_order_parameters));
    parameters = absl::MakeSpan(plan_order_parameters);
  }
  // Validated in Create, so these cannot fail.
  absl::StatusOr<data::BatchStream> stream =
      data::BatchStream::Create(&dataset_->train, config_.batch_size, config_.data_order_seed);
  PARSITY_CHECK_OK(stream.status());
  absl::StatusOr<std::unique_ptr<optimizers::Optimizer>> optimizer =
      optimizers::CreateOptimizer(config_.optimizer, network_->parameter_count(),
                                  sparse_plan_ != nullptr ? &sparse_plan_->mask() : mask_);
  PARSITY_CHECK_OK(optimizer.status());

  AlignedFloatVector gradient(parameters.size(), 0.0f);
  AlignedFloatVector previous;
  AlignedFloatVector current;  // Reordered: the parameters after the update, in the network's order, for the hook.
  if (hooks.after_step) previous.resize(parameters.size());
  if (hooks.after_step && reordered) current.resize(parameters.size());
  data::Batch batch;
  TrialResult result;
  double training_loss_since_check = 0;
  int64_t steps_since_check = 0;
  const int64_t max_errors = MaxErrorsWithin(config_.goal_error, dataset_->validation.size());

  for (int64_t step = 0; step < config_.max_steps; ++step) {
    stream->Next(&batch);
    float gradient_scale = 1.0f;
    const double loss = BatchGradient(parameters, batch, absl::MakeSpan(gradient), &gradient_scale);
    if (!std::isfinite(loss)) {
      result.status = TrialStatus::kInfeasible;
      break;
    }
    const bool hook_due = hooks.after_step && (!hooks.after_step_due || hooks.after_step_due(step + 1));
    if (hook_due) {
      std::copy(parameters.begin(), parameters.end(), previous.begin());
      if (reordered) sparse_plan_->ToNetworkOrder(absl::MakeSpan(previous));
    }
    (*optimizer)->ScaledStep(schedule_.LearningRate(step), gradient_scale, gradient, parameters);
    result.steps = step + 1;
    result.examples_seen = result.steps * config_.batch_size;
    training_loss_since_check += loss;
    ++steps_since_check;
    if (hook_due && reordered) {
      std::copy(parameters.begin(), parameters.end(), current.begin());
      sparse_plan_->ToNetworkOrder(absl::MakeSpan(current));
      hooks.after_step(result.steps, previous, current);
    } else if (hook_due) {
      hooks.after_step(result.steps, previous, parameters);
    }
    if (reducer_ != nullptr && config_.consistency_check_interval > 0 &&
        result.steps % config_.consistency_check_interval == 0) {
      PARSITY_CHECK_OK(reducer_->CheckParametersIdentical(parameters));
    }

    if (result.steps % config_.check_interval != 0 && result.steps != config_.max_steps) continue;
    const CheckEvaluation validation = validation_check_.Run(parameters, max_errors);
    Check check;
    check.step = result.steps;
    check.validation_error = validation.error_rate();
    check.validation_loss = validation.mean_loss();
    check.validation_examples = validation.examples;
    check.validation_examples_evaluated = validation.evaluated;
    check.mean_training_loss = training_loss_since_check / static_cast<double>(steps_since_check);
    check.examples_seen = result.examples_seen;
    check.seconds = SecondsSince(start);
    result.checks.push_back(check);
    if (validation.exited_early()) ++result.checks_exited_early;
    result.validation_examples_evaluated += validation.evaluated;
    result.final_validation_error = check.validation_error;
    training_loss_since_check = 0;
    steps_since_check = 0;
    if (!std::isfinite(check.validation_loss)) {
      result.status = TrialStatus::kInfeasible;
      break;
    }
    if (validation.errors <= max_errors) {  // The same as validation_error <= goal_error (MaxErrorsWithin).
      result.status = TrialStatus::kComplete;
      result.steps_to_result = check.step;
      if (hooks.on_check) hooks.on_check(check);
      break;
    }
    if (hooks.on_check && !hooks.on_check(check)) {
      result.stopped_by_caller = true;
      break;
    }
  }
  if (reordered) {
    sparse_plan_->ToNetworkOrder(parameters);
    std::copy(parameters.begin(), parameters.end(), network_order_parameters.begin());
  }
  result.wall_seconds = SecondsSince(start);
  return result;
}

}  // namespace parsity::trainer
