#include "experiments/study/result_store.h"

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "experiments/study/config.h"
#include "experiments/study/search_space.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_matchers.h"

namespace parsity::experiments {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string FreshDirectory(const std::string& name) {
  const std::string directory = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::filesystem::remove_all(directory);
  return directory;
}

StudySpec Spec() {
  StudySpec spec;
  spec.set_dataset("mnist");
  spec.set_network("lenet_300_100");
  spec.mutable_optimizer()->set_name("sgd");
  SearchedMetaparameter& searched = *spec.add_search();
  searched.set_parameter(LEARNING_RATE);
  searched.set_min(0.01);
  searched.set_max(1);
  searched.set_scale(LOG);
  spec.set_trials(3);
  spec.set_max_steps(500);
  spec.set_check_interval(10);
  spec.set_goal_error(0.05);
  spec.add_batch_sizes(8);
  spec.add_sparsities(0.9);
  EXPECT_THAT(ValidateStudySpec(spec, "test"), IsOk());
  return spec;
}

DataFingerprint Data() {
  DataFingerprint data;
  data.set_train_examples(540);
  data.set_validation_examples(60);
  return data;
}

TrialRun FakeRun(trainer::TrialStatus status, int64_t steps, bool stopped_early) {
  TrialRun run;
  run.result.status = status;
  if (status == trainer::TrialStatus::kComplete) run.result.steps_to_result = steps;
  run.result.steps = steps;
  run.result.examples_seen = steps * 8;
  run.result.stopped_by_caller = stopped_early;
  run.stopped_early = stopped_early;
  for (int64_t step = 10; step <= steps; step += 10) {
    trainer::Check check;
    check.step = step;
    check.validation_error = 0.5;
    run.result.checks.push_back(check);
  }
  return run;
}

TEST(ResultStoreTest, Layout) {
  const StudySpec spec = Spec();
  EXPECT_EQ(SparsityDirectoryName(0), "sparsity_0");
  EXPECT_EQ(SparsityDirectoryName(0.9), "sparsity_0.9");
  EXPECT_EQ(StudyDirectory("/r", spec, 0.5, 128), "/r/mnist/lenet_300_100/sgd/sparsity_0.5/128");
  EXPECT_EQ(TrialDirectory("/r/s", 7), "/r/s/7");
  EXPECT_EQ(WorkloadName(spec), "mnist/lenet_300_100/sgd");
}

TEST(ResultStoreTest, TrialRoundTripsAndOnlyFinalFilesRemain) {
  const std::string root = FreshDirectory("round_trip");
  const StudySpec spec = Spec();
  const Metaparameters parameters = TrialMetaparameters(spec, {0.5});
  const TrialSpec trial = MakeTrialSpec(spec, Data(), 0.9, 8, 1, parameters);
  const std::string directory = TrialDirectory(StudyDirectory(root, spec, 0.9, 8), 1);
  ASSERT_OK_AND_ASSIGN(std::optional<TrialSummary> missing, ReadFinishedTrial(directory, trial));
  EXPECT_FALSE(missing.has_value());

  ASSERT_THAT(WriteTrial(directory, trial, parameters, {0.5}, FakeRun(trainer::TrialStatus::kIncomplete, 120, true),
                         std::nullopt),
              IsOk());
  std::set<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) files.insert(entry.path().filename());
  EXPECT_EQ(files, (std::set<std::string>{"measurements.csv", "metadata.json"}));  // No temporary files left.

  ASSERT_OK_AND_ASSIGN(std::optional<TrialSummary> stored, ReadFinishedTrial(directory, trial));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->trial, 1);
  EXPECT_EQ(stored->status, trainer::TrialStatus::kIncomplete);
  EXPECT_FALSE(stored->steps_to_result.has_value());
  EXPECT_EQ(stored->steps, 120);
  EXPECT_EQ(stored->examples_seen, 960);
  EXPECT_TRUE(stored->stopped_early);
  EXPECT_EQ(stored->examples_saved_at_most, (500 - 120) * 8);
  EXPECT_DOUBLE_EQ(stored->parameters.learning_rate(), 0.1);

  ASSERT_OK_AND_ASSIGN(const std::string metadata, ReadFile(directory + "/metadata.json"));
  EXPECT_THAT(metadata, AllOf(HasSubstr("\"status\":\"INCOMPLETE\""), HasSubstr("\"stopped_early\":true"),
                              HasSubstr("\"steps_to_result\":null"), HasSubstr("\"seed\":1"),
                              HasSubstr("\"parameters\":{\"learning_rate\":0.1}"), HasSubstr("\"mask\":null")));
  ASSERT_OK_AND_ASSIGN(const std::string csv, ReadFile(directory + "/measurements.csv"));
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(csv, '\n', absl::SkipEmpty())).size(), 1 + 12);

  // A complete trial keeps its steps_to_result.
  ASSERT_THAT(WriteTrial(directory, trial, parameters, {0.5}, FakeRun(trainer::TrialStatus::kComplete, 90, false),
                         std::nullopt),
              IsOk());
  ASSERT_OK_AND_ASSIGN(stored, ReadFinishedTrial(directory, trial));
  EXPECT_EQ(stored->status, trainer::TrialStatus::kComplete);
  EXPECT_EQ(stored->steps_to_result, 90);
  EXPECT_EQ(stored->examples_saved_at_most, 0);
}

TEST(ResultStoreTest, RefusesTrialsOfAnotherConfiguration) {
  const std::string root = FreshDirectory("mismatch");
  const StudySpec spec = Spec();
  const Metaparameters parameters = TrialMetaparameters(spec, {0.5});
  const std::string directory = TrialDirectory(StudyDirectory(root, spec, 0.9, 8), 0);
  ASSERT_THAT(WriteTrial(directory, MakeTrialSpec(spec, Data(), 0.9, 8, 0, parameters), parameters, {0.5},
                         FakeRun(trainer::TrialStatus::kComplete, 90, false), std::nullopt),
              IsOk());
  StudySpec other = spec;
  other.set_goal_error(0.02);
  EXPECT_THAT(ReadFinishedTrial(directory, MakeTrialSpec(other, Data(), 0.9, 8, 0, parameters)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr(directory + "/metadata.json was written by another configuration"),
                             HasSubstr("goal_error: 0.05 -> 0.02"), HasSubstr("--output_dir"))));
  ASSERT_THAT(WriteFileAtomically(directory + "/metadata.json", "{not json"), IsOk());
  EXPECT_THAT(ReadFinishedTrial(directory, MakeTrialSpec(spec, Data(), 0.9, 8, 0, parameters)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("metadata.json: cannot be parsed")));
}

TEST(ResultStoreTest, StudyJsonAndTheTable) {
  const std::string root = FreshDirectory("table");
  StudySpec spec = Spec();
  StudyResult solved;
  solved.steps_to_result = 120;
  solved.best_trial = 2;
  solved.best_parameters.set_learning_rate(0.25);
  solved.trials = 3;
  solved.complete = 1;
  solved.incomplete = 2;
  solved.stopped_early = 1;
  StudyResult unsolved;
  unsolved.trials = 3;
  unsolved.incomplete = 3;
  const std::string json = StudyJson(spec, 0.9, 8, solved);
  EXPECT_THAT(json, AllOf(HasSubstr("{\"dataset\":\"mnist\",\"model\":\"lenet_300_100\",\"optimizer\":\"sgd\","
                                    "\"sparsity\":0.9,\"batch_size\":8,"),
                          HasSubstr("\"parameter_configs\":[{\"parameter\":\"learning_rate\",\"type\":\"DOUBLE\","
                                    "\"min\":0.01,\"max\":1,\"scale\":\"LOG_SCALE\"}]"),
                          HasSubstr("\"steps_to_result\":120,\"best_trial\":2"),
                          HasSubstr("\"pruning\":{\"scheme\":\"snip\",\"scope\":\"global\"")));
  ASSERT_THAT(WriteFileAtomically(StudyDirectory(root, spec, 0.9, 8) + "/study.json", json), IsOk());
  ASSERT_THAT(
      WriteFileAtomically(StudyDirectory(root, spec, 0.9, 64) + "/study.json", StudyJson(spec, 0.9, 64, unsolved)),
      IsOk());
  ASSERT_THAT(WriteFileAtomically(StudyDirectory(root, spec, 0, 16) + "/study.json", StudyJson(spec, 0, 16, solved)),
              IsOk());
  // Trial folders hold no study.json; files elsewhere are ignored.
  ASSERT_THAT(WriteFileAtomically(root + "/mnist/study.json", "{}"), IsOk());
  ASSERT_THAT(WriteStepsToResultCsv(root), IsOk());
  ASSERT_OK_AND_ASSIGN(const std::string csv, ReadFile(root + "/steps_to_result.csv"));
  EXPECT_THAT(std::vector<std::string>(absl::StrSplit(csv, '\n', absl::SkipEmpty())),
              ElementsAre("workload,sparsity,batch_size,steps_to_result,best_trial,learning_rate,momentum,decay_steps,"
                          "end_factor,trials,complete,incomplete,infeasible,stopped_early",
                          "mnist/lenet_300_100/sgd,0,16,120,2,0.25,,,,3,1,2,0,1",
                          "mnist/lenet_300_100/sgd,0.9,8,120,2,0.25,,,,3,1,2,0,1",
                          "mnist/lenet_300_100/sgd,0.9,64,,,,,,,3,0,3,0,0"));
}

TEST(ResultStoreTest, ResolvedSpecIsWritten) {
  const std::string root = FreshDirectory("spec");
  ASSERT_THAT(WriteResolvedSpec(root, Spec(), "configs/x.textproto --profile=quick"), IsOk());
  ASSERT_OK_AND_ASSIGN(const std::string text, ReadFile(root + "/mnist/lenet_300_100/sgd/study_spec.textproto"));
  EXPECT_THAT(text, AllOf(HasSubstr("# Resolved from configs/x.textproto --profile=quick"), HasSubstr("trials: 3")));
}

}  // namespace
}  // namespace parsity::experiments
