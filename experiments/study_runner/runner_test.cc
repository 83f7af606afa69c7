// Over 450 lines: every test runs small real studies on the same tiny data set and spec fixtures (early termination,
// resumes, parallel trials, early exit); one file keeps those fixtures in one place.
#include "experiments/study_runner/runner.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "experiments/study_runner/config.h"
#include "experiments/study_runner/result_store.h"
#include "experiments/study_runner/store_verification.h"
#include "experiments/study_runner/tiny_mnist.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/atomic_file.h"
#include "tools/base/file_lock.h"
#include "tools/base/status_matchers.h"
#include "training/data/dataset.h"

namespace parsity::experiments {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// LeNet-300-100 on the tiny data set: 4 studies of 8 trials, about a second each without early termination. The
// learning rates span divergence (3) to too slow (0.001), so the studies have all three statuses.
constexpr char kSpec[] = R"pb(
  dataset: "mnist"
  network: "lenet_300_100"
  optimizer { name: "sgd" }
  search { parameter: LEARNING_RATE min: 0.001 max: 3 scale: LOG }
  trials: 8
  max_steps: 300
  check_interval: 10
  goal_error: 0.05
  batch_sizes: [ 32, 8 ]
  sparsities: [ 0.8, 0 ]
)pb";

std::string TestDirectory(const std::string& name) {
  const std::string directory = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  std::filesystem::remove_all(directory);
  return directory;
}

// The columns of steps_to_result.csv that must not depend on how the studies were run (result_store.h).
std::string ResultColumns(const std::string& root) {
  const absl::StatusOr<std::string> csv = ReadFile(root + "/steps_to_result.csv");
  EXPECT_THAT(csv, IsOk());
  std::vector<std::string> rows;
  for (absl::string_view line : absl::StrSplit(csv.value_or(""), '\n', absl::SkipEmpty())) {
    const std::vector<absl::string_view> cells = absl::StrSplit(line, ',');
    rows.push_back(absl::StrJoin(cells.begin(), cells.begin() + 10, ","));
  }
  return absl::StrJoin(rows, "\n");
}

RunOptions Options(const std::string& output_dir, int parallel_trials, bool early_termination = true,
                   bool check_early_exit = true) {
  RunOptions options;
  options.output_dir = output_dir;
  options.parallel_trials = parallel_trials;
  options.early_termination = early_termination;
  options.check_early_exit = check_early_exit;
  options.progress = false;
  options.source = "runner_test";
  return options;
}

class RunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string data_dir = TestDirectory("data");
    ASSERT_THAT(WriteTinyMnist(data_dir, 600, 100), IsOk());
    absl::StatusOr<data::Dataset> loaded = data::LoadDataset("mnist", data_dir);
    ASSERT_THAT(loaded, IsOk());
    dataset_ = new data::Dataset(*std::move(loaded));
    absl::StatusOr<StudySpec> spec = ParseStudySpec(kSpec, "runner_test");
    ASSERT_THAT(spec, IsOk());
    spec_ = new StudySpec(*spec);
    ASSERT_THAT(ValidateStudySpec(*spec_, "runner_test"), IsOk());

    full_dir_ = new std::string(TestDirectory("full"));
    absl::StatusOr<RunSummary> full =
        RunStudies(*spec_, *dataset_, Options(*full_dir_, 1, /*early_termination=*/false, /*check_early_exit=*/false));
    ASSERT_THAT(full, IsOk());
    full_ = new RunSummary(*full);
    shortcut_dir_ = new std::string(TestDirectory("shortcut"));
    absl::StatusOr<RunSummary> shortcut = RunStudies(*spec_, *dataset_, Options(*shortcut_dir_, 2));
    ASSERT_THAT(shortcut, IsOk());
    shortcut_ = new RunSummary(*shortcut);
    early_exit_dir_ = new std::string(TestDirectory("early_exit"));
    absl::StatusOr<RunSummary> early_exit =
        RunStudies(*spec_, *dataset_, Options(*early_exit_dir_, 2, /*early_termination=*/false));
    ASSERT_THAT(early_exit, IsOk());
    early_exit_ = new RunSummary(*early_exit);
  }

  static const data::Dataset* dataset_;
  static const StudySpec* spec_;
  static const std::string* full_dir_;
  static const RunSummary* full_;
  static const std::string* shortcut_dir_;
  static const RunSummary* shortcut_;
  static const std::string* early_exit_dir_;  // Every trial run to its end, checks exiting early.
  static const RunSummary* early_exit_;
};

const data::Dataset* RunnerTest::dataset_ = nullptr;
const StudySpec* RunnerTest::spec_ = nullptr;
const std::string* RunnerTest::full_dir_ = nullptr;
const RunSummary* RunnerTest::full_ = nullptr;
const std::string* RunnerTest::shortcut_dir_ = nullptr;
const RunSummary* RunnerTest::shortcut_ = nullptr;
const std::string* RunnerTest::early_exit_dir_ = nullptr;
const RunSummary* RunnerTest::early_exit_ = nullptr;

void ExpectSameResults(const RunSummary& a, const RunSummary& b) {
  ASSERT_EQ(a.studies.size(), b.studies.size());
  for (size_t i = 0; i < a.studies.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("sparsity ", a.studies[i].sparsity, " batch ", a.studies[i].batch_size));
    EXPECT_EQ(a.studies[i].sparsity, b.studies[i].sparsity);
    EXPECT_EQ(a.studies[i].batch_size, b.studies[i].batch_size);
    EXPECT_EQ(a.studies[i].result.steps_to_result, b.studies[i].result.steps_to_result);
    EXPECT_EQ(a.studies[i].result.best_trial, b.studies[i].result.best_trial);
    EXPECT_EQ(a.studies[i].result.best_parameters.SerializeAsString(),
              b.studies[i].result.best_parameters.SerializeAsString());
  }
}

TEST_F(RunnerTest, TheStudiesHaveAllOutcomes) {
  ASSERT_NE(full_, nullptr);
  EXPECT_EQ(full_->trials, 32);
  EXPECT_EQ(full_->trials_run, 32);
  int complete = 0, incomplete = 0, infeasible = 0;
  for (const StudyOutcome& study : full_->studies) {
    EXPECT_TRUE(study.result.steps_to_result.has_value());
    complete += study.result.complete;
    incomplete += study.result.incomplete;
    infeasible += study.result.infeasible;
    EXPECT_EQ(study.result.stopped_early, 0);
  }
  EXPECT_GT(complete, 0);
  EXPECT_GT(incomplete, 0);
  EXPECT_GT(infeasible, 0);
}

// Exact early termination: the same table as running every trial to its end, for fewer examples; the saving it
// reports is an upper bound of the real one.
TEST_F(RunnerTest, EarlyTerminationChangesNoResult) {
  ASSERT_NE(shortcut_, nullptr);
  ExpectSameResults(*full_, *shortcut_);
  EXPECT_EQ(ResultColumns(*full_dir_), ResultColumns(*shortcut_dir_));
  int stopped = 0;
  for (const StudyOutcome& study : shortcut_->studies) stopped += study.result.stopped_early;
  EXPECT_GT(stopped, 0);
  const int64_t saved = full_->examples_trained - shortcut_->examples_trained;
  EXPECT_GT(saved, 0);
  EXPECT_LE(saved, shortcut_->examples_saved_at_most);
  std::printf("early termination trained %lld examples instead of %lld (saved %lld; reported at most %lld)\n",
              static_cast<long long>(shortcut_->examples_trained), static_cast<long long>(full_->examples_trained),
              static_cast<long long>(saved), static_cast<long long>(shortcut_->examples_saved_at_most));
}

// Early exit of validation checks: the same table, and trial by trial the same outcome (so the same COMPLETE trials
// and the same examples trained), for fewer validation examples evaluated.
TEST_F(RunnerTest, EarlyExitChangesNoResult) {
  ASSERT_NE(early_exit_, nullptr);
  ExpectSameResults(*full_, *early_exit_);
  EXPECT_EQ(ResultColumns(*full_dir_), ResultColumns(*early_exit_dir_));
  EXPECT_EQ(early_exit_->examples_trained, full_->examples_trained);
  for (size_t i = 0; i < full_->studies.size(); ++i) {
    EXPECT_EQ(early_exit_->studies[i].result.complete, full_->studies[i].result.complete);
    EXPECT_EQ(early_exit_->studies[i].result.incomplete, full_->studies[i].result.incomplete);
    EXPECT_EQ(early_exit_->studies[i].result.infeasible, full_->studies[i].result.infeasible);
    EXPECT_EQ(early_exit_->studies[i].result.examples_trained, full_->studies[i].result.examples_trained);
  }
  for (const char* study : {"sparsity_0/32", "sparsity_0/8", "sparsity_0.8/32", "sparsity_0.8/8"}) {
    for (int trial = 0; trial < 8; ++trial) {
      SCOPED_TRACE(absl::StrCat(study, " trial ", trial));
      const std::string path = absl::StrCat("/mnist/lenet_300_100/sgd/", study, "/", trial, "/metadata.json");
      const absl::StatusOr<std::string> full = ReadFile(*full_dir_ + path);
      const absl::StatusOr<std::string> early = ReadFile(*early_exit_dir_ + path);
      ASSERT_THAT(full, IsOk());
      ASSERT_THAT(early, IsOk());
      for (const char* key : {"\"status\":", "\"steps_to_result\":", "\"steps\":"}) {
        const size_t a = full->find(key), b = early->find(key);
        ASSERT_NE(a, std::string::npos);
        ASSERT_NE(b, std::string::npos);
        EXPECT_EQ(full->substr(a, full->find(',', a) - a), early->substr(b, early->find(',', b) - b));
      }
    }
  }
  EXPECT_EQ(full_->validation_examples_evaluated, full_->validation_examples_in_full_checks);
  EXPECT_EQ(early_exit_->validation_examples_in_full_checks, full_->validation_examples_in_full_checks);
  EXPECT_LT(early_exit_->validation_examples_evaluated, early_exit_->validation_examples_in_full_checks);
  std::printf("early exit evaluated %lld validation examples instead of %lld\n",
              static_cast<long long>(early_exit_->validation_examples_evaluated),
              static_cast<long long>(early_exit_->validation_examples_in_full_checks));
}

// The summary's study order follows the spec; the result tree holds every file of the layout.
TEST_F(RunnerTest, Layout) {
  ASSERT_EQ(full_->studies.size(), 4u);
  EXPECT_EQ(full_->studies[0].sparsity, 0.8);
  EXPECT_EQ(full_->studies[0].batch_size, 32);
  EXPECT_EQ(full_->studies[1].batch_size, 8);
  EXPECT_EQ(full_->studies[2].sparsity, 0);
  for (const StudyOutcome& study : full_->studies) {
    const std::string directory = StudyDirectory(*full_dir_, *spec_, study.sparsity, study.batch_size);
    ASSERT_OK_AND_ASSIGN(const std::string json, ReadFile(directory + "/study.json"));
    EXPECT_THAT(json, AllOf(HasSubstr("\"model\":\"lenet_300_100\""), HasSubstr("\"scale\":\"LOG_SCALE\""),
                            HasSubstr(absl::StrCat("\"steps_to_result\":", *study.result.steps_to_result))));
    for (int trial = 0; trial < spec_->trials(); ++trial) {
      const std::string trial_directory = TrialDirectory(directory, trial);
      ASSERT_OK_AND_ASSIGN(const std::string metadata, ReadFile(trial_directory + "/metadata.json"));
      EXPECT_THAT(metadata, HasSubstr(absl::StrCat("\"trial\":", trial, ",\"seed\":", trial, ",")));
      EXPECT_THAT(metadata, HasSubstr(study.sparsity > 0 ? "\"mask\":{\"sparsity_target\":0.8" : "\"mask\":null"));
      ASSERT_OK_AND_ASSIGN(const std::string measurements, ReadFile(trial_directory + "/measurements.csv"));
      EXPECT_THAT(measurements, HasSubstr("step,validation_error,"));
    }
  }
  EXPECT_TRUE(PathExists(*full_dir_ + "/mnist/lenet_300_100/sgd/study_spec.textproto"));
  EXPECT_EQ(RunSummaryJson(*full_).ToString().substr(0, 60),
            absl::StrCat("{\"workload\":\"mnist/lenet_300_100/sgd\",\"goal_error\":0.05,\"steps_to_result\":{")
                .substr(0, 60));
}

// A run that lost some trials (as if killed) redoes only those, with the same results.
TEST_F(RunnerTest, ResumeRedoesOnlyMissingTrials) {
  const std::string root = TestDirectory("resume");
  std::filesystem::copy(*shortcut_dir_, root, std::filesystem::copy_options::recursive);
  int removed = 0;
  for (const StudyOutcome& study : shortcut_->studies) {
    const std::string directory = StudyDirectory(root, *spec_, study.sparsity, study.batch_size);
    std::filesystem::remove(directory + "/study.json");
    for (int trial = study.batch_size == 8 ? 0 : 1; trial < spec_->trials(); trial += 2) {
      std::filesystem::remove(TrialDirectory(directory, trial) + "/metadata.json");
      ++removed;
    }
  }
  std::filesystem::remove(root + "/steps_to_result.csv");
  ASSERT_OK_AND_ASSIGN(const RunSummary resumed, RunStudies(*spec_, *dataset_, Options(root, 2)));
  EXPECT_EQ(resumed.trials_run, removed);
  EXPECT_EQ(resumed.trials_resumed, 32 - removed);
  ExpectSameResults(*full_, resumed);
  EXPECT_EQ(ResultColumns(*full_dir_), ResultColumns(root));

  // Everything finished: a second resume trains nothing.
  ASSERT_OK_AND_ASSIGN(const RunSummary again, RunStudies(*spec_, *dataset_, Options(root, 2)));
  EXPECT_EQ(again.trials_run, 0);
  ExpectSameResults(*full_, again);
}

TEST_F(RunnerTest, AnotherConfigurationIsRefusedBeforeTraining) {
  const std::string root = TestDirectory("refuse");
  std::filesystem::copy(*full_dir_, root, std::filesystem::copy_options::recursive);
  StudySpec other = *spec_;
  other.set_goal_error(0.1);
  EXPECT_THAT(RunStudies(other, *dataset_, Options(root, 1)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("metadata.json was written by another configuration"),
                             HasSubstr("goal_error: 0.05 -> 0.1"))));
  EXPECT_EQ(ResultColumns(*full_dir_), ResultColumns(root));
}

std::string Read(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  EXPECT_THAT(text, IsOk()) << path;
  return text.value_or("");
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from << " in " << text.substr(0, 200);
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// The value of `key` in a metadata.json, as written ("\"steps\":" -> "950").
std::string Field(const std::string& metadata, const std::string& key) {
  const size_t at = metadata.find(key);
  EXPECT_NE(at, std::string::npos) << key;
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return metadata.substr(start, metadata.find(',', start) - start);
}

// The names in `directory` that start with `prefix`.
std::vector<std::string> EntriesStartingWith(const std::string& directory, const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  return names;
}

// Issue 13, hole 1: a resume verifies every stored trial. A truncated or deleted measurements.csv, an edited
// metadata.json (its steps) and a truncated one are damage: each trial is moved aside whole and trained again, and the
// results equal an undamaged run's. Before digests the first two were reused silently, the edit changed the table,
// and the truncated metadata.json stopped the study.
TEST_F(RunnerTest, DamagedTrialsAreMovedAsideAndTrainedAgain) {
  const std::string root = TestDirectory("damaged");
  std::filesystem::copy(*full_dir_, root, std::filesystem::copy_options::recursive);
  const std::string study = StudyDirectory(root, *spec_, 0, 8);
  const std::string csv0 = TrialDirectory(study, 0) + "/measurements.csv";
  const std::string truncated_csv = Read(csv0).substr(0, Read(csv0).size() / 2);
  ASSERT_THAT(WriteFileAtomically(csv0, truncated_csv), IsOk());
  std::filesystem::remove(TrialDirectory(study, 1) + "/measurements.csv");
  const std::string metadata2 = Read(TrialDirectory(study, 2) + "/metadata.json");
  const std::string steps2 = Field(metadata2, "\"steps\":");
  ASSERT_THAT(WriteFileAtomically(TrialDirectory(study, 2) + "/metadata.json",
                                  Replace(metadata2, "\"steps\":" + steps2 + ",", "\"steps\":5,")),
              IsOk());
  ASSERT_THAT(WriteFileAtomically(TrialDirectory(study, 3) + "/metadata.json",
                                  Read(TrialDirectory(study, 3) + "/metadata.json").substr(0, 100)),
              IsOk());

  ASSERT_OK_AND_ASSIGN(const RunSummary resumed,
                       RunStudies(*spec_, *dataset_, Options(root, 2, /*early_termination=*/false, false)));
  EXPECT_EQ(resumed.trials_damaged, 4);
  EXPECT_EQ(resumed.trials_run, 4);
  EXPECT_EQ(resumed.trials_resumed, 28);
  ExpectSameResults(*full_, resumed);
  EXPECT_EQ(ResultColumns(*full_dir_), ResultColumns(root));
  EXPECT_THAT(RunSummaryJson(resumed).ToString(), HasSubstr("\"trials_damaged\":4,"));
  EXPECT_THAT(Read(study + "/study.json"), HasSubstr("\"trials_damaged\":4"));
  EXPECT_THAT(Read(StudyDirectory(root, *spec_, 0, 32) + "/study.json"), HasSubstr("\"trials_damaged\":0"));
  // Retrained: the same record as the undamaged run's (up to wall times).
  const std::string full_study = StudyDirectory(*full_dir_, *spec_, 0, 8);
  for (int trial = 0; trial < 4; ++trial) {
    SCOPED_TRACE(trial);
    EXPECT_EQ(Field(Read(TrialDirectory(study, trial) + "/metadata.json"), "\"steps\":"),
              Field(Read(TrialDirectory(full_study, trial) + "/metadata.json"), "\"steps\":"));
    // Kept, whole, beside it.
    const std::vector<std::string> aside = EntriesStartingWith(study, absl::StrCat(trial, ".damaged."));
    ASSERT_EQ(aside.size(), 1u);
    EXPECT_TRUE(PathExists(absl::StrCat(study, "/", aside[0], "/metadata.json")));
  }
  EXPECT_EQ(Read(absl::StrCat(study, "/", EntriesStartingWith(study, "0.damaged.")[0], "/measurements.csv")),
            truncated_csv);

  // Everything verified now: nothing is damaged or trained.
  ASSERT_OK_AND_ASSIGN(const RunSummary again, RunStudies(*spec_, *dataset_, Options(root, 2)));
  EXPECT_EQ(again.trials_damaged, 0);
  EXPECT_EQ(again.trials_run, 0);
  ASSERT_OK_AND_ASSIGN(const StoreVerification verification, VerifyStore(root));
  EXPECT_EQ(verification.verified, 32);
  EXPECT_EQ(verification.damaged_moved_aside, 4);
}

// Issue 13, legacy rule: trials written before digests (no digest member; measurements.csv with 6 or 7 columns) are
// verified by the agreement of their files and adopted, not trained again; a legacy trial whose files disagree is
// damaged.
TEST_F(RunnerTest, LegacyTrialsAreAdoptedNotTrainedAgain) {
  const std::string root = TestDirectory("legacy");
  std::filesystem::copy(*shortcut_dir_, root, std::filesystem::copy_options::recursive);
  std::map<std::string, std::string> legacy;  // metadata.json path -> its legacy text.
  int six_columns = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.path().filename() != "metadata.json") continue;
    const std::string path = entry.path().string();
    const std::string metadata = Read(path);
    const size_t digest = metadata.rfind(",\"digest\":");
    ASSERT_NE(digest, std::string::npos) << path;
    legacy[path] = metadata.substr(0, digest) + "}\n";
    ASSERT_THAT(WriteFileAtomically(path, legacy[path]), IsOk());
    if (legacy.size() % 2 == 0) {  // Every other trial: measurements.csv before validation_examples_evaluated.
      const std::string csv_path = entry.path().parent_path().string() + "/measurements.csv";
      std::string csv;
      for (absl::string_view line : absl::StrSplit(Read(csv_path), '\n', absl::SkipEmpty())) {
        absl::StrAppend(&csv, line.substr(0, line.rfind(',')), "\n");
      }
      ASSERT_THAT(WriteFileAtomically(csv_path, csv), IsOk());
      ++six_columns;
    }
  }
  ASSERT_EQ(legacy.size(), 32u);
  ASSERT_EQ(six_columns, 16);
  // One legacy trial that disagrees: its steps edited (a trial that trained: with early termination on 2 workers,
  // which trials were skipped at step 0 varies from run to run).
  std::string edited, edited_steps;
  for (int trial = 0; trial < 8 && edited.empty(); ++trial) {
    const std::string path = TrialDirectory(StudyDirectory(root, *spec_, 0.8, 32), trial) + "/metadata.json";
    const std::string steps = Field(legacy[path], "\"steps\":");
    if (steps != "0" && steps != "5") edited = path, edited_steps = steps;
  }
  ASSERT_FALSE(edited.empty()) << "no trial of sparsity 0.8, B = 32 trained";
  ASSERT_THAT(WriteFileAtomically(edited, Replace(legacy[edited], "\"steps\":" + edited_steps + ",", "\"steps\":5,")),
              IsOk());

  ASSERT_OK_AND_ASSIGN(const RunSummary resumed, RunStudies(*spec_, *dataset_, Options(root, 2)));
  EXPECT_EQ(resumed.trials_adopted, 31);
  EXPECT_EQ(resumed.trials_damaged, 1);
  EXPECT_EQ(resumed.trials_run, 1);
  ExpectSameResults(*full_, resumed);
  EXPECT_EQ(ResultColumns(*full_dir_), ResultColumns(root));
  for (const auto& [path, text] : legacy) {
    if (path == edited) continue;
    const std::string adopted = Read(path);
    EXPECT_EQ(adopted.substr(0, text.size() - 2), text.substr(0, text.size() - 2)) << path;
    EXPECT_THAT(adopted.substr(text.size() - 2), ::testing::StartsWith(",\"digest\":\"sha256:")) << path;
  }
  ASSERT_OK_AND_ASSIGN(const RunSummary again, RunStudies(*spec_, *dataset_, Options(root, 2)));
  EXPECT_EQ(again.trials_adopted, 0);
  EXPECT_EQ(again.trials_run, 0);
}

// Issue 13, hole 2: one owner per output directory. While a process holds DIR/study.lock, a run is refused at once
// naming the holder; the lock file a dead holder left blocks nothing.
TEST_F(RunnerTest, ASecondOwnerOfTheOutputDirectoryIsRefused) {
  const std::string root = TestDirectory("locked");
  std::filesystem::copy(*full_dir_, root, std::filesystem::copy_options::recursive);
  {
    ASSERT_OK_AND_ASSIGN(const std::unique_ptr<FileLock> held, LockOutputDirectory(root));
    EXPECT_THAT(RunStudies(*spec_, *dataset_, Options(root, 1)),
                StatusIs(absl::StatusCode::kUnavailable,
                         AllOf(HasSubstr(absl::StrCat("output directory ", root, " is in use: ", root,
                                                      "/study.lock is held by host ", HostName(), ", PID ", getpid())),
                               HasSubstr("use another --output_dir"))));
    // The caller's own lock is what RunStudies then uses.
    RunOptions options = Options(root, 1);
    options.lock = held.get();
    ASSERT_OK_AND_ASSIGN(const RunSummary with_lock, RunStudies(*spec_, *dataset_, options));
    EXPECT_EQ(with_lock.trials_run, 0);
    options.output_dir = TestDirectory("elsewhere");
    EXPECT_THAT(RunStudies(*spec_, *dataset_, options),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not the output directory's")));
  }
  // A leftover line of a process that has ended (as a killed run leaves it).
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  ASSERT_THAT(WriteFileAtomically(root + "/study.lock",
                                  absl::StrCat("host=", HostName(), " pid=", child, " since=2026-12-01T00:00:00Z\n")),
              IsOk());
  ASSERT_OK_AND_ASSIGN(const RunSummary resumed, RunStudies(*spec_, *dataset_, Options(root, 1)));
  EXPECT_EQ(resumed.trials_run, 0);
  EXPECT_EQ(Read(root + "/study.lock"), "");  // Released on return.
}

// Issue 13, hole 3: temporary files left by killed writers are removed on resume and counted.
TEST_F(RunnerTest, TemporaryFilesOfKilledWritersAreRemoved) {
  const std::string root = TestDirectory("temporary");
  std::filesystem::copy(*full_dir_, root, std::filesystem::copy_options::recursive);
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  const std::string study = StudyDirectory(root, *spec_, 0.8, 8);
  const std::string trial_temporary = absl::StrCat(TrialDirectory(study, 4), "/measurements.csv.tmp.", child);
  const std::string study_temporary = absl::StrCat(study, "/study.json.tmp.", child);
  ASSERT_THAT(WriteFileAtomically(trial_temporary, "step,valid"), IsOk());
  ASSERT_THAT(WriteFileAtomically(study_temporary, "{\"data"), IsOk());
  ASSERT_OK_AND_ASSIGN(const RunSummary resumed, RunStudies(*spec_, *dataset_, Options(root, 1)));
  EXPECT_EQ(resumed.temporary_files_removed, 2);
  EXPECT_FALSE(PathExists(trial_temporary));
  EXPECT_FALSE(PathExists(study_temporary));
  EXPECT_THAT(RunSummaryJson(resumed).ToString(), HasSubstr("\"temporary_files_removed\":2,"));
}

RunOptions HugeOptions() {
  RunOptions options = Options(TestDirectory("bad"), 1);
  options.source = "huge.textproto";
  return options;
}

TEST_F(RunnerTest, BadOptions) {
  EXPECT_THAT(RunStudies(*spec_, *dataset_, Options(TestDirectory("bad"), 0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parallel_trials")));
  StudySpec huge = *spec_;
  huge.add_batch_sizes(100000);
  EXPECT_THAT(RunStudies(huge, *dataset_, HugeOptions()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("huge.textproto: batch_sizes[2]: 100000 is larger than the training set")));
}

}  // namespace
}  // namespace parsity::experiments
