#include "experiments/study_runner/trial.h"

#include <vector>

#include "experiments/study_runner/config.h"
#include "experiments/study_runner/search_space.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace parsity::experiments {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

StudySpec Spec(absl::string_view optimizer) {
  StudySpec spec;
  spec.set_dataset("mnist");
  spec.set_network("simple_cnn");
  spec.mutable_optimizer()->set_name(std::string(optimizer));
  spec.mutable_schedule()->set_name("linear_decay");
  spec.mutable_schedule()->set_decay_steps(30000);
  spec.mutable_schedule()->set_end_factor(0.01);
  SearchedMetaparameter& searched = *spec.add_search();
  searched.set_parameter(LEARNING_RATE);
  searched.set_min(1e-4);
  searched.set_max(1);
  searched.set_scale(LOG);
  spec.set_trials(5);
  spec.set_max_steps(40000);
  spec.set_goal_error(0.02);
  spec.add_batch_sizes(16);
  spec.add_batch_sizes(256);
  spec.add_sparsities(0);
  spec.add_sparsities(0.9);
  BatchSizeSettings& settings = *spec.add_batch_size_settings();
  settings.set_batch_size(256);
  settings.set_max_steps(2000);
  settings.set_check_interval(20);
  EXPECT_TRUE(ValidateStudySpec(spec, "test").ok());
  return spec;
}

DataFingerprint Data() {
  DataFingerprint data;
  data.set_train_examples(54000);
  data.set_validation_examples(6000);
  data.add_mean(0.1307f);
  data.add_stddev(0.3081f);
  return data;
}

// The same trial at every batch size and sparsity: the same metaparameters and seed.
TEST(TrialTest, TheSamePointAtEveryBatchSizeAndSparsity) {
  const StudySpec spec = Spec("momentum");
  const std::vector<std::vector<double>> points = SobolPoints(spec.search_size(), spec.trials());
  for (int trial = 0; trial < spec.trials(); ++trial) {
    const Metaparameters parameters = TrialMetaparameters(spec, points[trial]);
    const TrialSpec reference = MakeTrialSpec(spec, Data(), 0, 16, trial, parameters);
    for (double sparsity : spec.sparsities()) {
      for (int64_t batch_size : spec.batch_sizes()) {
        const TrialSpec other = MakeTrialSpec(spec, Data(), sparsity, batch_size, trial, parameters);
        EXPECT_EQ(other.optimizer().SerializeAsString(), reference.optimizer().SerializeAsString());
        EXPECT_EQ(other.schedule().SerializeAsString(), reference.schedule().SerializeAsString());
        EXPECT_EQ(other.seed(), static_cast<uint64_t>(trial));
        EXPECT_EQ(other.trial(), trial);
        EXPECT_EQ(other.batch_size(), batch_size);
        EXPECT_EQ(other.max_steps(), batch_size == 256 ? 2000 : 40000);
        EXPECT_EQ(other.check_interval(), batch_size == 256 ? 20 : 100);
        EXPECT_EQ(other.pruning().scheme(), sparsity == 0 ? "none" : "snip");
      }
    }
  }
}

TEST(TrialTest, OnlyFieldsTheWorkloadReadsAreSet) {
  const StudySpec spec = Spec("sgd");
  const TrialSpec trial = MakeTrialSpec(spec, Data(), 0, 16, 2, TrialMetaparameters(spec, {0.25}));
  EXPECT_FALSE(trial.optimizer().has_momentum());
  EXPECT_FALSE(trial.optimizer().has_beta1());
  EXPECT_TRUE(trial.schedule().has_decay_steps());
  EXPECT_FALSE(trial.pruning().has_scope());
  EXPECT_NEAR(trial.schedule().learning_rate(), 1e-3, 1e-16);
}

TEST(TrialTest, FingerprintFollowsTheSpec) {
  const StudySpec spec = Spec("nesterov");
  const Metaparameters parameters = TrialMetaparameters(spec, {0.5});
  const TrialSpec trial = MakeTrialSpec(spec, Data(), 0.9, 16, 0, parameters);
  EXPECT_THAT(TrialFingerprint(trial), MatchesRegex("[0-9a-f]{16}"));
  EXPECT_EQ(TrialFingerprint(trial), TrialFingerprint(MakeTrialSpec(spec, Data(), 0.9, 16, 0, parameters)));
  StudySpec other_spec = spec;
  other_spec.set_goal_error(0.03);
  const TrialSpec other = MakeTrialSpec(other_spec, Data(), 0.9, 16, 0, parameters);
  EXPECT_NE(TrialFingerprint(trial), TrialFingerprint(other));
  EXPECT_THAT(TrialSpecDifferences(trial, other), HasSubstr("goal_error: 0.02 -> 0.03"));
  EXPECT_THAT(TrialSpecJson(trial), HasSubstr("\"goal_error\":0.02"));
}

TEST(TrialTest, TrainerAndPruningConfigs) {
  const StudySpec spec = Spec("nesterov");
  const TrialSpec trial = MakeTrialSpec(spec, Data(), 0.9, 256, 3, TrialMetaparameters(spec, {0.5}));
  const trainer::TrainerConfig config = TrainerConfigFor(trial);
  EXPECT_EQ(config.batch_size, 256);
  EXPECT_EQ(config.max_steps, 2000);
  EXPECT_EQ(config.check_interval, 20);
  EXPECT_DOUBLE_EQ(config.goal_error, 0.02);
  EXPECT_EQ(config.evaluator.threads, 1);
  EXPECT_EQ(config.optimizer.name, "nesterov");
  EXPECT_FLOAT_EQ(config.optimizer.momentum, 0.9f);
  EXPECT_EQ(config.schedule.name, "linear_decay");
  EXPECT_FLOAT_EQ(config.schedule.initial_learning_rate, 0.01f);
  EXPECT_EQ(config.schedule.decay_steps, 30000);
  EXPECT_FLOAT_EQ(config.schedule.end_factor, 0.01f);
  EXPECT_TRUE(trainer::ValidateTrainerConfig(config, 54000).ok());
  const pruning::PruningConfig pruning_config = PruningConfigFor(trial);
  EXPECT_EQ(pruning_config.scheme, "snip");
  EXPECT_DOUBLE_EQ(pruning_config.sparsity, 0.9);
  EXPECT_EQ(PruningConfigFor(MakeTrialSpec(spec, Data(), 0, 256, 3, TrialMetaparameters(spec, {0.5}))).scheme, "none");
}

// The exact gradient sum is part of a trial's identity when a study turns it on, and absent otherwise, so that the
// fingerprints of every float-sum trial stored before the field existed still match.
TEST(TrialTest, ExactGradientSumIsSetOnlyWhenTheStudyAsksForIt) {
  StudySpec spec = Spec("sgd");
  const Metaparameters parameters = TrialMetaparameters(spec, {0.5});
  const TrialSpec float_sums = MakeTrialSpec(spec, Data(), 0.9, 16, 0, parameters);
  EXPECT_FALSE(float_sums.has_exact_gradient_sum());
  EXPECT_FALSE(TrainerConfigFor(float_sums).exact_gradient_sum);
  spec.set_exact_gradient_sum(true);
  const TrialSpec exact = MakeTrialSpec(spec, Data(), 0.9, 16, 0, parameters);
  EXPECT_TRUE(exact.exact_gradient_sum());
  EXPECT_TRUE(TrainerConfigFor(exact).exact_gradient_sum);
  EXPECT_NE(TrialFingerprint(exact), TrialFingerprint(float_sums));
  EXPECT_THAT(TrialSpecDifferences(float_sums, exact), HasSubstr("exact_gradient_sum"));
}

}  // namespace
}  // namespace parsity::experiments
