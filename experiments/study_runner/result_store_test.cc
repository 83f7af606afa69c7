// Over 450 lines: the store, the study records and the verification are tested on the same fixtures (a spec, fake
// runs, trials written to a fresh folder, damaged in every way a file can be); one file keeps them in one place.
#include "experiments/study_runner/result_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "experiments/study_runner/config.h"
#include "experiments/study_runner/search_space.h"
#include "experiments/study_runner/store_verification.h"
#include "experiments/study_runner/study_records.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/atomic_file.h"
#include "tools/base/sha256.h"
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

// A run as the trainer records it (batch size 8, checks every 10 steps, 60 validation examples, goal 0.05): every
// check but a COMPLETE trial's last is above the goal; the first exits early.
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
    check.validation_error = status == trainer::TrialStatus::kComplete && step == steps ? 0.05 : 0.5;
    check.validation_loss = 1.25;
    check.mean_training_loss = 1.5;
    check.examples_seen = step * 8;
    check.seconds = 0.01 * static_cast<double>(step);
    check.validation_examples = 60;
    check.validation_examples_evaluated = step == 10 ? 30 : 60;
    run.result.checks.push_back(check);
    run.result.final_validation_error = check.validation_error;
    run.result.validation_examples_evaluated += check.validation_examples_evaluated;
    if (step == 10) ++run.result.checks_exited_early;
  }
  return run;
}

// What WriteFile* left in `path`.
std::string Read(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  EXPECT_THAT(text, IsOk());
  return text.value_or("");
}

void Write(const std::string& path, const std::string& text) { ASSERT_THAT(WriteFileAtomically(path, text), IsOk()); }

// metadata.json as written before digests existed: the same record without its last member.
std::string WithoutDigest(const std::string& metadata) {
  const size_t digest = metadata.rfind(",\"digest\":");
  EXPECT_NE(digest, std::string::npos);
  return metadata.substr(0, digest) + "}\n";
}

// measurements.csv as written before validation_examples_evaluated existed: 6 columns.
std::string SixColumns(const std::string& csv) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(csv, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, line.substr(0, line.rfind(',')), "\n");
  }
  return out;
}

std::string ReplaceOnce(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

struct StoredFixture {
  TrialSpec trial;
  std::string directory;
};

// Trial 1 of the study (0.9, 8) written under `root` with the run given.
StoredFixture WriteFixture(const std::string& root, const TrialRun& run) {
  const StudySpec spec = Spec();
  const Metaparameters parameters = TrialMetaparameters(spec, {0.5});
  StoredFixture fixture{MakeTrialSpec(spec, Data(), 0.9, 8, 1, parameters),
                        TrialDirectory(StudyDirectory(root, spec, 0.9, 8), 1)};
  EXPECT_THAT(WriteTrial(fixture.directory, fixture.trial, parameters, {0.5}, run, std::nullopt), IsOk());
  return fixture;
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
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(directory + ": damaged trial: metadata.json cannot be parsed"),
                             ::testing::Not(HasSubstr("\n")))));
}

// Issue 13, hole 1: the digest in metadata.json covers the record's bytes and measurements.csv's.
TEST(ResultStoreTest, WrittenTrialsCarryADigestOfBothFiles) {
  const StoredFixture fixture =
      WriteFixture(FreshDirectory("digest"), FakeRun(trainer::TrialStatus::kComplete, 90, false));
  const std::string metadata = Read(fixture.directory + "/metadata.json");
  const std::string csv = Read(fixture.directory + "/measurements.csv");
  const size_t member = metadata.rfind(",\"digest\":\"sha256:");
  ASSERT_NE(member, std::string::npos);
  const std::string record = metadata.substr(0, member) + "}";
  EXPECT_EQ(metadata, absl::StrCat(record.substr(0, record.size() - 1),
                                   ",\"digest\":\"sha256:", TrialDigest(record, csv), "\"}\n"));
  EXPECT_THAT(record, HasSubstr("\"trial_spec\":{"));  // The TrialSpec is covered.
  // The digest is SHA-256 over a fixed framing of both files (result_store.h, "Integrity").
  EXPECT_EQ(TrialDigest(record, csv),
            Sha256Hex(absl::StrCat("parsity trial digest v1\nmetadata.json ", record.size(), "\n", record,
                                   "measurements.csv ", csv.size(), "\n", csv)));
  EXPECT_NE(TrialDigest(record, csv), TrialDigest(record, csv.substr(0, csv.size() - 1)));
  ASSERT_OK_AND_ASSIGN(const StoredTrial stored, CheckStoredTrial(fixture.directory, &fixture.trial, true));
  EXPECT_EQ(stored.state, StoredTrialState::kVerified);
  ASSERT_TRUE(stored.summary.has_value());
  EXPECT_EQ(stored.summary->steps_to_result, 90);
  EXPECT_EQ(Read(fixture.directory + "/metadata.json"), metadata);  // Verifying writes nothing.
}

// Issue 13, hole 1: a truncated or deleted measurements.csv, an edited or truncated metadata.json are damage, told in
// one line, not a result (and a truncated metadata.json is no longer an error that stops the study).
TEST(ResultStoreTest, EditedTruncatedOrMissingFilesAreDamaged) {
  const std::string root = FreshDirectory("damage");
  const TrialRun run = FakeRun(trainer::TrialStatus::kIncomplete, 120, true);
  struct Case {
    std::string name;
    std::function<void(const std::string& directory)> damage;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"measurements.csv truncated",
       [](const std::string& d) {
         const std::string csv = Read(d + "/measurements.csv");
         Write(d + "/measurements.csv", csv.substr(0, csv.size() / 2));
       },
       "changed after the trial was written"},
      {"measurements.csv lost its last rows",
       [](const std::string& d) {
         const std::string csv = Read(d + "/measurements.csv");
         Write(d + "/measurements.csv", csv.substr(0, csv.rfind("\n110,") + 1));
       },
       "measurements.csv has 10 rows but metadata.json counts 12 checks"},
      {"measurements.csv deleted", [](const std::string& d) { std::filesystem::remove(d + "/measurements.csv"); },
       "measurements.csv is missing"},
      {"metadata.json steps edited",
       [](const std::string& d) {
         Write(d + "/metadata.json", ReplaceOnce(Read(d + "/metadata.json"), "\"steps\":120,", "\"steps\":5,"));
       },
       "steps 5 but the last row of measurements.csv is at step 120"},
      {"metadata.json truncated",
       [](const std::string& d) { Write(d + "/metadata.json", Read(d + "/metadata.json").substr(0, 150)); },
       "metadata.json cannot be parsed (150 bytes; truncated or edited?)"},
      {"metadata.json digest removed in part",
       [](const std::string& d) {
         Write(d + "/metadata.json",
               ReplaceOnce(Read(d + "/metadata.json"), "\"digest\":\"sha256:", "\"digest\":\"sha1:"));
       },
       "is not its last member in the form"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::filesystem::remove_all(root);
    const StoredFixture fixture = WriteFixture(root, run);
    c.damage(fixture.directory);
    ASSERT_OK_AND_ASSIGN(const StoredTrial stored, CheckStoredTrial(fixture.directory, &fixture.trial, true));
    EXPECT_EQ(stored.state, StoredTrialState::kDamaged);
    EXPECT_FALSE(stored.summary.has_value());
    EXPECT_THAT(stored.problem, AllOf(HasSubstr(c.problem), ::testing::Not(HasSubstr("\n"))));
    // Today's reader of a resume: a damaged trial is not a result.
    EXPECT_THAT(ReadFinishedTrial(fixture.directory, fixture.trial),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr(fixture.directory + ": damaged trial: ")));
  }
}

// Issue 13, legacy rule: a trial written before digests (no digest member; 6 or 7 columns) whose files agree is
// adopted: its digest is appended, its other bytes kept.
TEST(ResultStoreTest, LegacyTrialsThatAgreeAreAdopted) {
  const std::string root = FreshDirectory("legacy");
  const std::vector<std::pair<trainer::TrialStatus, int64_t>> runs = {{trainer::TrialStatus::kComplete, 90},
                                                                      {trainer::TrialStatus::kIncomplete, 500},
                                                                      {trainer::TrialStatus::kIncomplete, 0}};
  for (const auto& [status, steps] : runs) {
    for (bool six_columns : {false, true}) {
      SCOPED_TRACE(absl::StrCat(trainer::TrialStatusName(status), " ", steps, six_columns ? " 6 columns" : ""));
      std::filesystem::remove_all(root);
      const StoredFixture fixture = WriteFixture(root, FakeRun(status, steps, false));
      const std::string legacy = WithoutDigest(Read(fixture.directory + "/metadata.json"));
      Write(fixture.directory + "/metadata.json", legacy);
      if (six_columns)
        Write(fixture.directory + "/measurements.csv", SixColumns(Read(fixture.directory + "/measurements.csv")));
      ASSERT_OK_AND_ASSIGN(const std::optional<TrialSummary> read, ReadFinishedTrial(fixture.directory, fixture.trial));
      ASSERT_TRUE(read.has_value());
      EXPECT_EQ(read->steps, steps);
      ASSERT_OK_AND_ASSIGN(StoredTrial stored, CheckStoredTrial(fixture.directory, &fixture.trial, false));
      EXPECT_EQ(stored.state, StoredTrialState::kLegacy) << stored.problem;
      EXPECT_EQ(Read(fixture.directory + "/metadata.json"), legacy);
      ASSERT_OK_AND_ASSIGN(stored, CheckStoredTrial(fixture.directory, &fixture.trial, true));
      EXPECT_EQ(stored.state, StoredTrialState::kAdopted) << stored.problem;
      const std::string adopted = Read(fixture.directory + "/metadata.json");
      EXPECT_EQ(adopted.substr(0, legacy.size() - 2), legacy.substr(0, legacy.size() - 2));
      EXPECT_THAT(adopted.substr(legacy.size() - 2),
                  ::testing::MatchesRegex(",\"digest\":\"sha256:[0-9a-f]{64}\"\\}\n"));
      ASSERT_OK_AND_ASSIGN(stored, CheckStoredTrial(fixture.directory, &fixture.trial, true));
      EXPECT_EQ(stored.state, StoredTrialState::kVerified);
    }
  }
}

// A legacy INFEASIBLE trial that diverged in a training step: steps past its last check, within one interval.
TEST(ResultStoreTest, LegacyInfeasibleTrialsMayEndBetweenChecks) {
  const std::string root = FreshDirectory("legacy_infeasible");
  TrialRun run = FakeRun(trainer::TrialStatus::kInfeasible, 40, false);
  run.result.steps = 47;
  run.result.examples_seen = 47 * 8;
  const StoredFixture fixture = WriteFixture(root, run);
  Write(fixture.directory + "/metadata.json", WithoutDigest(Read(fixture.directory + "/metadata.json")));
  ASSERT_OK_AND_ASSIGN(StoredTrial stored, CheckStoredTrial(fixture.directory, &fixture.trial, false));
  EXPECT_EQ(stored.state, StoredTrialState::kLegacy) << stored.problem;
  Write(fixture.directory + "/metadata.json",
        ReplaceOnce(Read(fixture.directory + "/metadata.json"), "\"steps\":47,", "\"steps\":57,"));
  Write(fixture.directory + "/metadata.json",
        ReplaceOnce(Read(fixture.directory + "/metadata.json"), "\"examples_seen\":376,", "\"examples_seen\":456,"));
  ASSERT_OK_AND_ASSIGN(stored, CheckStoredTrial(fixture.directory, &fixture.trial, false));
  EXPECT_EQ(stored.state, StoredTrialState::kDamaged);
  EXPECT_THAT(stored.problem, HasSubstr("steps 57 of an INFEASIBLE trial whose last row is at step 40"));
}

// Issue 13, legacy rule: a legacy trial whose files disagree is damaged, never adopted.
TEST(ResultStoreTest, LegacyTrialsThatDisagreeAreDamaged) {
  const std::string root = FreshDirectory("legacy_damage");
  struct Case {
    trainer::TrialStatus status;
    int64_t steps;
    std::string file, from, to, problem;
  };
  const std::vector<Case> cases = {
      {trainer::TrialStatus::kIncomplete, 120, "metadata.json", "\"steps\":120,", "\"steps\":5,",
       "steps 5 but the last row of measurements.csv is at step 120"},
      {trainer::TrialStatus::kIncomplete, 120, "metadata.json", "\"checks\":12,", "\"checks\":11,",
       "measurements.csv has 12 rows but metadata.json counts 11 checks"},
      {trainer::TrialStatus::kIncomplete, 120, "measurements.csv", "\n120,", "\n",
       "measurements.csv:13: cannot be parsed"},
      {trainer::TrialStatus::kComplete, 90, "metadata.json", "\"steps_to_result\":90,", "\"steps_to_result\":80,",
       "steps_to_result 80 but the first row within the goal 0.05 is at step 90"},
      {trainer::TrialStatus::kComplete, 90, "measurements.csv", "\n50,0.5,", "\n50,0.01,",
       "measurements.csv:6: validation_error 0.01 is within the goal 0.05 at step 50, but the trial went on"},
      {trainer::TrialStatus::kComplete, 90, "metadata.json", "\"final_validation_error\":0.05,",
       "\"final_validation_error\":0.01,", "final_validation_error 0.01 but the last row"},
      {trainer::TrialStatus::kIncomplete, 120, "metadata.json", "\"goal_error\":0.05,", "\"goal_error\":0.5,",
       "its trial_spec hashes to"},
      {trainer::TrialStatus::kIncomplete, 120, "metadata.json", "\"validation_examples_evaluated\":690,",
       "\"validation_examples_evaluated\":720,", "validation_examples_evaluated 720 but the rows"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.problem);
    std::filesystem::remove_all(root);
    const StoredFixture fixture = WriteFixture(root, FakeRun(c.status, c.steps, false));
    Write(fixture.directory + "/metadata.json", WithoutDigest(Read(fixture.directory + "/metadata.json")));
    const std::string path = fixture.directory + "/" + c.file;
    Write(path, ReplaceOnce(Read(path), c.from, c.to));
    const std::string before = Read(fixture.directory + "/metadata.json");
    ASSERT_OK_AND_ASSIGN(const StoredTrial stored, CheckStoredTrial(fixture.directory, nullptr, true));
    EXPECT_EQ(stored.state, StoredTrialState::kDamaged);
    EXPECT_THAT(stored.problem,
                AllOf(HasSubstr("written before digests, and its files disagree: "), HasSubstr(c.problem)));
    EXPECT_EQ(Read(fixture.directory + "/metadata.json"), before);  // Not adopted.
  }
}

// A damaged trial is renamed aside, never deleted; a trial folder's record must be its own.
TEST(ResultStoreTest, DamagedTrialsAreMovedAsideWhole) {
  const std::string root = FreshDirectory("aside");
  const StoredFixture fixture = WriteFixture(root, FakeRun(trainer::TrialStatus::kIncomplete, 120, true));
  const std::string study = StudyDirectory(root, Spec(), 0.9, 8);
  std::filesystem::copy(fixture.directory, study + "/2", std::filesystem::copy_options::recursive);
  ASSERT_OK_AND_ASSIGN(const StoredTrial moved_record, CheckStoredTrial(study + "/2", nullptr, false));
  EXPECT_EQ(moved_record.state, StoredTrialState::kDamaged);
  EXPECT_EQ(moved_record.problem, "metadata.json is the record of trial 1, not of trial 2");

  const std::string metadata = Read(fixture.directory + "/metadata.json");
  ASSERT_OK_AND_ASSIGN(const std::string first, MoveDamagedTrialAside(fixture.directory));
  EXPECT_THAT(first, ::testing::MatchesRegex(".*/1\\.damaged\\.[0-9]{8}T[0-9]{6}Z"));
  EXPECT_FALSE(PathExists(fixture.directory));
  EXPECT_EQ(Read(first + "/metadata.json"), metadata);
  EXPECT_TRUE(PathExists(first + "/measurements.csv"));
  std::filesystem::copy(first, fixture.directory, std::filesystem::copy_options::recursive);
  ASSERT_OK_AND_ASSIGN(const std::string second, MoveDamagedTrialAside(fixture.directory));
  EXPECT_NE(second, first);
  EXPECT_TRUE(PathExists(first) && PathExists(second));
  EXPECT_EQ(CountDamagedTrials(study), 2);
  EXPECT_EQ(CountDamagedTrials(root + "/missing"), 0);
  EXPECT_THAT(MoveDamagedTrialAside(root + "/missing/3"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("cannot move the damaged trial")));
}

// Issue 13, hole 3: temporary files of killed writers are removed from the tree; a live writer's and those kept in a
// damaged trial's folder stay.
TEST(ResultStoreTest, RemovesTemporaryFilesOfDeadWriters) {
  const std::string root = FreshDirectory("temporary");
  const StoredFixture fixture = WriteFixture(root, FakeRun(trainer::TrialStatus::kIncomplete, 120, true));
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  const std::string study = StudyDirectory(root, Spec(), 0.9, 8);
  const std::vector<std::string> dead = {absl::StrCat(fixture.directory, "/measurements.csv.tmp.", child),
                                         absl::StrCat(study, "/study.json.tmp.", child),
                                         absl::StrCat(root, "/steps_to_result.csv.tmp.", child)};
  for (const std::string& path : dead) Write(path, "partial");
  const std::string live = absl::StrCat(fixture.directory, "/metadata.json.tmp.", getpid());
  const std::string kept = absl::StrCat(study, "/0.damaged.20261201T000000Z/measurements.csv.tmp.", child);
  Write(live, "being written");
  Write(kept, "evidence");
  ASSERT_OK_AND_ASSIGN(const int removed, RemoveStaleTemporaryFiles(root));
  EXPECT_EQ(removed, 3);
  for (const std::string& path : dead) EXPECT_FALSE(PathExists(path)) << path;
  EXPECT_TRUE(PathExists(live));
  EXPECT_TRUE(PathExists(kept));
  EXPECT_TRUE(PathExists(fixture.directory + "/metadata.json"));
  ASSERT_OK_AND_ASSIGN(const int none, RemoveStaleTemporaryFiles(root + "/missing"));
  EXPECT_EQ(none, 0);
}

// Issue 13, hole 1: the report's check of a whole tree: damaged trials and a study.json that disagrees with its
// trials are named; a tree without trial folders is taken as is.
TEST(ResultStoreTest, VerifyStoreNamesDamagedTrialsAndStaleStudies) {
  const std::string root = FreshDirectory("verify");
  const StudySpec spec = Spec();
  const std::string study = StudyDirectory(root, spec, 0.9, 8);
  std::vector<TrialSummary> summaries;
  for (int trial = 0; trial < 3; ++trial) {
    const Metaparameters parameters = TrialMetaparameters(spec, {0.25 * (trial + 1)});
    const TrialRun run = FakeRun(trial == 1 ? trainer::TrialStatus::kComplete : trainer::TrialStatus::kIncomplete,
                                 trial == 1 ? 90 : 120, false);
    ASSERT_THAT(WriteTrial(TrialDirectory(study, trial), MakeTrialSpec(spec, Data(), 0.9, 8, trial, parameters),
                           parameters, {0.25 * (trial + 1)}, run, std::nullopt),
                IsOk());
    summaries.push_back(SummarizeRun(MakeTrialSpec(spec, Data(), 0.9, 8, trial, parameters), parameters, run));
  }
  Write(study + "/study.json", StudyJson(spec, 0.9, 8, AggregateStudy(summaries)));
  // Legacy trial 2: verified by its consistency.
  Write(TrialDirectory(study, 2) + "/metadata.json", WithoutDigest(Read(TrialDirectory(study, 2) + "/metadata.json")));
  // A study.json without trial folders (a hand-written fixture).
  StudyResult fixture_result;
  fixture_result.trials = 3;
  Write(StudyDirectory(root, spec, 0, 8) + "/study.json", StudyJson(spec, 0, 8, fixture_result));
  ASSERT_OK_AND_ASSIGN(const StoreVerification verification, VerifyStore(root));
  EXPECT_EQ(verification.studies, 2);
  EXPECT_EQ(verification.trials, 3);
  EXPECT_EQ(verification.verified, 2);
  EXPECT_EQ(verification.legacy, 1);

  const std::string good = Read(study + "/study.json");
  Write(study + "/study.json", ReplaceOnce(good, "\"steps_to_result\":90,", "\"steps_to_result\":50,"));
  EXPECT_THAT(VerifyStore(root), StatusIs(absl::StatusCode::kDataLoss,
                                          AllOf(HasSubstr(study + "/study.json says steps_to_result 50, best_trial 1"),
                                                HasSubstr("but its trials give steps_to_result 90, best_trial 1"))));
  Write(study + "/study.json", good);
  const std::string csv = TrialDirectory(study, 0) + "/measurements.csv";
  Write(csv, Read(csv).substr(0, 40));
  EXPECT_THAT(VerifyStore(root),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("damaged results, not aggregated (1 damaged trial or stale study.json)"),
                             HasSubstr(TrialDirectory(study, 0) + ": metadata.json or measurements.csv changed"),
                             HasSubstr("Run the study again"))));
  ASSERT_OK_AND_ASSIGN(const std::string aside, MoveDamagedTrialAside(TrialDirectory(study, 0)));
  EXPECT_THAT(VerifyStore(root), StatusIs(absl::StatusCode::kDataLoss,
                                          HasSubstr(study + "/study.json counts 3 trials but trial 0 is not stored")));
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
                          HasSubstr("\"steps_to_result\":120,\"best_trial\":2"), HasSubstr("\"trials_damaged\":0}"),
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

// records.proto is the one definition of the JSON files: every key the writers emit is a field of its message (a
// strict parse fails on any other key), and the values read back are the ones written.
absl::Status ParseStrictly(const std::string& json, google::protobuf::Message* message) {
  return ParseJson(json, message, "written", /*strict=*/true);
}

TEST(ResultStoreTest, WrittenJsonHasOnlyTheKeysOfItsSchema) {
  StudySpec spec = Spec();
  spec.set_exact_gradient_sum(true);
  StudyResult solved;
  solved.steps_to_result = 120;
  solved.best_trial = 2;
  solved.best_parameters.set_learning_rate(0.25);
  solved.trials = 3;
  solved.trial_seconds = 1.5;
  for (const double sparsity : {0.0, 0.9}) {
    for (const StudyResult& result : {solved, StudyResult{}}) {
      StudyRecord record;
      ASSERT_THAT(ParseStrictly(StudyJson(spec, sparsity, 8, result), &record), IsOk()) << sparsity;
      EXPECT_EQ(record.pruning().scheme(), sparsity == 0 ? "none" : "snip");
      EXPECT_EQ(record.has_steps_to_result(), result.steps_to_result.has_value());
      ASSERT_EQ(record.parameter_configs_size(), 1);
      EXPECT_EQ(record.parameter_configs(0).scale(), "LOG_SCALE");
      EXPECT_TRUE(record.exact_gradient_sum());
      EXPECT_EQ(record.trial_seconds(), result.trial_seconds);
    }
  }
  pruning::MaskReport mask;
  mask.sparsity_target = 0.9;
  mask.total = 10;
  mask.kept = 1;
  mask.views.push_back({.name = "fc/weights", .kept = 1, .total = 10});
  mask.warnings.push_back("a warning");
  const std::string root = FreshDirectory("schema");
  const StudySpec plain = Spec();
  const Metaparameters parameters = TrialMetaparameters(plain, {0.5});
  const std::string directory = TrialDirectory(StudyDirectory(root, plain, 0.9, 8), 1);
  ASSERT_THAT(WriteTrial(directory, MakeTrialSpec(plain, Data(), 0.9, 8, 1, parameters), parameters, {0.5},
                         FakeRun(trainer::TrialStatus::kComplete, 90, false), mask),
              IsOk());
  TrialRecord record;
  ASSERT_THAT(ParseStrictly(Read(directory + "/metadata.json"), &record), IsOk());
  EXPECT_EQ(record.sobol_point_size(), 1);
  EXPECT_EQ(record.mask().layers().at("fc/weights").kept(), 1);
  EXPECT_EQ(record.mask().warnings_size(), 1);
  EXPECT_EQ(record.trial_spec().batch_size(), 8);
}

TEST(ResultStoreTest, ResolvedSpecIsWritten) {
  const std::string root = FreshDirectory("spec");
  ASSERT_THAT(WriteResolvedSpec(root, Spec(), "configs/x.textproto --profile=quick"), IsOk());
  ASSERT_OK_AND_ASSIGN(const std::string text, ReadFile(root + "/mnist/lenet_300_100/sgd/study_spec.textproto"));
  EXPECT_THAT(text, AllOf(HasSubstr("# Resolved from configs/x.textproto --profile=quick"), HasSubstr("trials: 3")));
}

}  // namespace
}  // namespace parsity::experiments
