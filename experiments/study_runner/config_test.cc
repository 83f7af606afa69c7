#include "experiments/study_runner/config.h"

#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_matchers.h"
#include "training/data/dataset.h"

namespace parsity::experiments {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kSource[] = "experiments/configs/x.textproto";

constexpr char kValidText[] = R"pb(
  dataset: "mnist"
  network: "simple_cnn"
  optimizer { name: "nesterov" }
  schedule { name: "linear_decay" }
  search { parameter: LEARNING_RATE min: 1e-4 max: 1 scale: LOG }
  search { parameter: MOMENTUM min: 0.9 max: 0.9999 scale: REVERSE_LOG }
  search { parameter: DECAY_STEPS min: 30000 max: 60000 scale: INTEGER }
  search { parameter: END_FACTOR min: 1e-4 max: 0.1 scale: LOG }
  trials: 100
  max_steps: 40000
  goal_error: 0.02
  batch_sizes: [ 2, 4, 8, 16 ]
  sparsities: [ 0, 0.5, 0.9 ]
  batch_size_settings { batch_size: 16 max_steps: 1000 check_interval: 10 }
  theory {
    remeasure_batch_size: 8
    noise_batch_sizes: [ 8, 16 ]
  }
  profiles {
    name: "quick"
    overrides {
      trials: 4
      batch_sizes: [ 8, 16 ]
      pruning { prune_biases: false }
      theory { remeasure_batch_size: 16 }
    }
  }
  profiles { name: "paper" }
)pb";

StudySpec ValidSpec() {
  StudySpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kValidText, &spec));
  spec.clear_profiles();
  return spec;
}

TEST(ConfigTest, ValidSpecPasses) { EXPECT_THAT(ValidateStudySpec(ValidSpec(), kSource), IsOk()); }

struct BadField {
  std::string name;
  std::function<void(StudySpec*)> mutate;
  std::string expected;  // The whole "field: problem" part of the message, or its start.
};

TEST(ConfigTest, EachBadFieldIsNamedWithTheFile) {
  const std::vector<BadField> cases = {
      {"no dataset", [](StudySpec* s) { s->clear_dataset(); }, "dataset: is required"},
      {"unknown dataset", [](StudySpec* s) { s->set_dataset("imagenet"); }, "dataset: 'imagenet' is not a known"},
      {"unknown network", [](StudySpec* s) { s->set_network("vgg"); }, "network: 'vgg' is not a known network"},
      {"network of another shape", [](StudySpec* s) { s->set_network("resnet8"); },
       "network: 'resnet8' takes 32x32x3 inputs, data set 'mnist' has 28x28x1"},
      {"unknown optimizer", [](StudySpec* s) { s->mutable_optimizer()->set_name("rmsprop"); },
       "optimizer.name: 'rmsprop' is unknown"},
      {"no optimizer", [](StudySpec* s) { s->clear_optimizer(); }, "optimizer.name: is required"},
      {"unknown schedule", [](StudySpec* s) { s->mutable_schedule()->set_name("cosine"); },
       "schedule.name: 'cosine' is unknown"},
      {"fixed momentum of 1",
       [](StudySpec* s) {
         s->mutable_search()->DeleteSubrange(1, 1);
         s->mutable_optimizer()->set_momentum(1.0);
       },
       "optimizer.momentum: 1 is not in [0, 1)"},
      {"learning rate neither searched nor fixed", [](StudySpec* s) { s->mutable_search()->DeleteSubrange(0, 1); },
       "schedule.learning_rate: is required when LEARNING_RATE is not searched"},
      {"searched twice", [](StudySpec* s) { *s->add_search() = s->search(0); },
       "search[4].parameter: LEARNING_RATE is searched twice (also search[0])"},
      {"searched but unused", [](StudySpec* s) { s->mutable_optimizer()->set_name("sgd"); },
       "search[1].parameter: MOMENTUM is not used by optimizer 'sgd'"},
      {"decay searched with a constant schedule", [](StudySpec* s) { s->mutable_schedule()->set_name("constant"); },
       "search[2].parameter: DECAY_STEPS is not used by schedule 'constant'"},
      {"no scale", [](StudySpec* s) { s->mutable_search(0)->clear_scale(); }, "search[0].scale: is required"},
      {"no min", [](StudySpec* s) { s->mutable_search(0)->clear_min(); }, "search[0].min: is required"},
      {"min above max", [](StudySpec* s) { s->mutable_search(0)->set_min(2); },
       "search[0].max: 1 is not larger than min (2)"},
      {"log scale from 0", [](StudySpec* s) { s->mutable_search(3)->set_min(0); },
       "search[3].min: 0 must be positive on a LOG scale"},
      {"reverse log up to 1", [](StudySpec* s) { s->mutable_search(1)->set_max(1); },
       "search[1].max: 1 must be below 1 on a REVERSE_LOG scale"},
      {"integer learning rate", [](StudySpec* s) { s->mutable_search(0)->set_scale(INTEGER); },
       "search[0].scale: INTEGER is for DECAY_STEPS only, not LEARNING_RATE"},
      {"fractional decay steps", [](StudySpec* s) { s->mutable_search(2)->set_max(60000.5); },
       "search[2].max: 60000.5 is not an integer"},
      {"decay steps on a log scale", [](StudySpec* s) { s->mutable_search(2)->set_scale(LOG); },
       "search[2].scale: must be INTEGER for DECAY_STEPS"},
      {"end factor above 1", [](StudySpec* s) { s->mutable_search(3)->set_max(2); },
       "search[3].max: 2 is not an end factor in (0, 1]"},
      // Ranges whose values the trials could not hold (found by tools/fuzz's study_config_fuzzer).
      {"decay steps beyond int64", [](StudySpec* s) { s->mutable_search(2)->set_max(1e300); },
       "search[2].max: 1e+300 is more than 1000000000 decay steps"},
      {"a log range whose ratio overflows", [](StudySpec* s) { s->mutable_search(3)->set_min(1e-320); },
       "search[3].max: / min = 0.1 / 9.99989e-321 overflows on a LOG scale"},
      {"learning rates beyond float", [](StudySpec* s) { s->mutable_search(0)->set_min(1e-300); },
       "search[0].min: 1e-300 is not a learning rate in [1.17549e-38, 3.40282e+38] (a normal float)"},
      {"no trials", [](StudySpec* s) { s->set_trials(0); }, "trials: 0 must be >= 1"},
      {"no budget", [](StudySpec* s) { s->clear_max_steps(); }, "max_steps: is required"},
      {"zero check interval", [](StudySpec* s) { s->set_check_interval(0); }, "check_interval: 0 must be >= 1"},
      {"goal error of 1", [](StudySpec* s) { s->set_goal_error(1); }, "goal_error: 1 is not in (0, 1)"},
      {"zero batch size", [](StudySpec* s) { s->set_batch_sizes(3, 0); },
       "batch_sizes[3]: 0 is not a positive batch size"},
      {"repeated batch size", [](StudySpec* s) { s->set_batch_sizes(2, 2); },
       "batch_sizes[2]: 2 is listed twice (also batch_sizes[0])"},
      {"no batch sizes", [](StudySpec* s) { s->clear_batch_sizes(); }, "batch_sizes: is empty"},
      {"sparsity 1", [](StudySpec* s) { s->set_sparsities(2, 1.0); }, "sparsities[2]: 1 is not in [0, 1)"},
      {"sparsities equal to 6 digits", [](StudySpec* s) { s->set_sparsities(2, 0.5000001); },
       "sparsities[2]: 0.5 is listed twice (also sparsities[1], to 6 significant digits)"},
      {"no pruning for a sparse level", [](StudySpec* s) { s->mutable_pruning()->set_scheme("none"); },
       "pruning.scheme: 'none' cannot reach sparsities[1] = 0.5"},
      {"unknown pruning scheme", [](StudySpec* s) { s->mutable_pruning()->set_scheme("lottery"); },
       "pruning.scheme: 'lottery' is not one of"},
      {"unknown pruning scope", [](StudySpec* s) { s->mutable_pruning()->set_scope("network"); },
       "pruning.scope: 'network' is not one of"},
      {"settings of an unlisted batch size",
       [](StudySpec* s) { s->mutable_batch_size_settings(0)->set_batch_size(32); },
       "batch_size_settings[0].batch_size: 32 is not one of batch_sizes"},
      {"zero budget for one batch size", [](StudySpec* s) { s->mutable_batch_size_settings(0)->set_max_steps(0); },
       "batch_size_settings[0].max_steps: 0 is not in [1, 1000000000]"},
      // Limits, checked before anything is allocated for them (2e9 trials ended in std::bad_alloc).
      {"two billion trials", [](StudySpec* s) { s->set_trials(2000000000); },
       "trials: 2000000000 is more than 100000 trials per study"},
      {"a budget of 1e12 steps", [](StudySpec* s) { s->set_max_steps(1000000000000); },
       "max_steps: 1000000000000 is more than 1000000000 steps"},
      {"a check every step of 1e9", [](StudySpec* s) { s->set_max_steps(1000000000); s->set_check_interval(1); },
       "check_interval: 1 gives 1000000000 checks in max_steps 1000000000: more than 1000000 checks per trial"},
      {"a batch of 2^40", [](StudySpec* s) { s->set_batch_sizes(3, int64_t{1} << 40); },
       "batch_sizes[3]: 1099511627776 is more than 16777216 examples"},
      {"a thousand sparsities", [](StudySpec* s) { for (int i = 1; i < 1000; ++i) s->add_sparsities(0.0005 * i); },
       "sparsities: has 1002 entries, more than 64"},
      // -0.0 names the folder "sparsity_-0": it must be the same level as 0.
      {"0 and -0", [](StudySpec* s) { s->set_sparsities(1, -0.0); },
       "sparsities[1]: 0 is listed twice (also sparsities[0], to 6 significant digits)"},
      {"remeasure an unlisted batch size", [](StudySpec* s) { s->mutable_theory()->set_remeasure_batch_size(5); },
       "theory.remeasure_batch_size: 5 is not one of batch_sizes"},
      {"noise batch sizes in the wrong order", [](StudySpec* s) { s->mutable_theory()->set_noise_batch_sizes(0, 32); },
       "theory.noise_batch_sizes: [32, 16] is not 1 <= B_small < B_big"},
  };
  for (const BadField& bad : cases) {
    SCOPED_TRACE(bad.name);
    StudySpec spec = ValidSpec();
    bad.mutate(&spec);
    EXPECT_THAT(ValidateStudySpec(spec, kSource),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(std::string(kSource) + ": " + bad.expected)));
  }
}

TEST(ConfigTest, MinusZeroSparsityIsZero) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/minus_zero.textproto";
  StudySpec spec = ValidSpec();
  spec.clear_sparsities();
  spec.add_sparsities(-0.0);
  spec.add_sparsities(0.9);
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(spec, &text));
  ASSERT_THAT(WriteFileAtomically(path, text), IsOk());
  ASSERT_OK_AND_ASSIGN(const StudySpec loaded, LoadStudySpec(path, "", kSource));
  EXPECT_FALSE(std::signbit(loaded.sparsities(0)));
  EXPECT_EQ(absl::StrCat(loaded.sparsities(0)), "0");
}

TEST(ConfigTest, DataOfAnotherShapeIsRefusedBeforeAnyTrial) {
  data::Dataset cifar_shaped;
  cifar_shaped.name = "cifar10";
  cifar_shaped.train.shape = {32, 32, 3};
  cifar_shaped.validation.shape = {32, 32, 3};
  cifar_shaped.train.labels.assign(100, 0);
  cifar_shaped.validation.labels.assign(10, 0);
  EXPECT_THAT(ValidateStudySpecForData(ValidSpec(), cifar_shaped, kSource),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("x.textproto: dataset: data set 'cifar10' has examples of shape 32x32x3, network "
                                 "'simple_cnn' takes 28x28x1")));
  data::Dataset mnist_shaped = cifar_shaped;
  mnist_shaped.train.shape = {28, 28, 1};
  mnist_shaped.validation.shape = {28, 28, 1};
  EXPECT_THAT(ValidateStudySpecForData(ValidSpec(), mnist_shaped, kSource), IsOk());
  mnist_shaped.train.labels.assign(10, 0);
  EXPECT_THAT(ValidateStudySpecForData(ValidSpec(), mnist_shaped, kSource),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("16 is larger than the training set")));
}

TEST(ConfigTest, BatchSizeLargerThanTheTrainingSet) {
  EXPECT_THAT(ValidateStudySpecForData(ValidSpec(), /*training_examples=*/100, kSource), IsOk());
  EXPECT_THAT(ValidateStudySpecForData(ValidSpec(), /*training_examples=*/10, kSource),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("x.textproto: batch_sizes[3]: 16 is larger than the training set (10 examples)")));
}

TEST(ConfigTest, ParseErrorsHaveLineAndColumn) {
  EXPECT_THAT(ParseStudySpec("dataset: \"mnist\"\ntrials: many\n", kSource),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("experiments/configs/x.textproto:2:9: ")));
  EXPECT_THAT(ParseStudySpec("dataset: \"mnist\"\n  batch_size: 3\n", kSource),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("x.textproto:2:"), HasSubstr("no field named \"batch_size\""))));
  EXPECT_THAT(
      ParseStudySpec("search { parameter: WEIGHT_DECAY }", kSource),
      StatusIs(absl::StatusCode::kInvalidArgument, AllOf(HasSubstr("x.textproto:1:"), HasSubstr("WEIGHT_DECAY"))));
}

TEST(ConfigTest, ProfilesReplaceListsAndMergeMessages) {
  ASSERT_OK_AND_ASSIGN(const StudySpec spec, ParseStudySpec(kValidText, kSource));
  EXPECT_THAT(ProfileNames(spec), ElementsAre("quick", "paper"));
  ASSERT_OK_AND_ASSIGN(const StudySpec quick, ApplyProfile(spec, "quick", kSource));
  EXPECT_EQ(quick.profiles_size(), 0);
  EXPECT_EQ(quick.trials(), 4);
  EXPECT_THAT(quick.batch_sizes(), ElementsAre(8, 16));                 // Replaced, not appended.
  EXPECT_THAT(quick.sparsities(), ElementsAre(0, 0.5, 0.9));            // Untouched.
  EXPECT_FALSE(quick.pruning().prune_biases());                         // A false override takes effect.
  EXPECT_EQ(quick.pruning().scheme(), "snip");                          // Its default stays.
  EXPECT_EQ(quick.theory().remeasure_batch_size(), 16);                 // Nested message merged field by field...
  EXPECT_THAT(quick.theory().noise_batch_sizes(), ElementsAre(8, 16));  // ...keeping what the profile leaves.
  EXPECT_EQ(quick.search_size(), 4);
  EXPECT_THAT(ValidateStudySpec(quick, kSource), IsOk());

  ASSERT_OK_AND_ASSIGN(const StudySpec paper, ApplyProfile(spec, "paper", kSource));
  ASSERT_OK_AND_ASSIGN(const StudySpec base, ApplyProfile(spec, "", kSource));
  EXPECT_EQ(paper.SerializeAsString(), base.SerializeAsString());
}

TEST(ConfigTest, NestedListsAreReplacedToo) {
  StudySpec base = ValidSpec();
  StudySpec overrides;
  overrides.mutable_theory()->add_noise_batch_sizes(2);
  overrides.mutable_theory()->add_noise_batch_sizes(4);
  MergeOverrides(overrides, &base);
  EXPECT_THAT(base.theory().noise_batch_sizes(), ElementsAre(2, 4));
  EXPECT_EQ(base.theory().remeasure_batch_size(), 8);
}

TEST(ConfigTest, UnknownProfileListsTheKnownOnes) {
  ASSERT_OK_AND_ASSIGN(const StudySpec spec, ParseStudySpec(kValidText, kSource));
  EXPECT_THAT(ApplyProfile(spec, "fast", kSource),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("experiments/configs/x.textproto: no profile 'fast'; known profiles: quick, paper")));
}

TEST(ConfigTest, BadProfilesAreNamed) {
  ASSERT_OK_AND_ASSIGN(StudySpec spec, ParseStudySpec(kValidText, kSource));
  spec.mutable_profiles(1)->set_name("quick");
  EXPECT_THAT(ApplyProfile(spec, "quick", kSource),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("x.textproto: profiles[1].name: 'quick' is used twice (also profiles[0])")));
  spec.mutable_profiles(1)->set_name("nested");
  spec.mutable_profiles(1)->mutable_overrides()->add_profiles()->set_name("inner");
  EXPECT_THAT(ApplyProfile(spec, "quick", kSource),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("profiles[1].overrides.profiles")));
}

TEST(ConfigTest, LoadNamesTheProfileInErrors) {
  EXPECT_THAT(LoadStudySpec("/nonexistent/x.textproto", "", "x.textproto"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("x.textproto: cannot read the config")));
}

TEST(ConfigTest, PerBatchSizeSettings) {
  const StudySpec spec = ValidSpec();
  EXPECT_EQ(MaxStepsFor(spec, 8), 40000);
  EXPECT_EQ(MaxStepsFor(spec, 16), 1000);
  EXPECT_EQ(CheckIntervalFor(spec, 8), 100);
  EXPECT_EQ(CheckIntervalFor(spec, 16), 10);
}

// Every shipped config is valid as is and with each of its profiles; each has "paper" and "quick".
TEST(ConfigTest, ShippedConfigsAreValid) {
  const std::vector<std::string> configs = {
      "mnist_simple_cnn_sgd",         "mnist_simple_cnn_momentum",         "mnist_simple_cnn_nesterov",
      "fashion_mnist_simple_cnn_sgd", "fashion_mnist_simple_cnn_momentum", "fashion_mnist_simple_cnn_nesterov",
      "cifar10_resnet8_nesterov",     "mnist_lenet_300_100_sgd",           "mnist_lenet_300_100_adam"};
  for (const std::string& name : configs) {
    const std::string path = "experiments/configs/" + name + ".textproto";
    SCOPED_TRACE(path);
    EXPECT_THAT(LoadStudySpec(path, "", path), IsOk());
    EXPECT_THAT(LoadStudySpec(path, "paper", path), IsOk());
    ASSERT_OK_AND_ASSIGN(const StudySpec quick, LoadStudySpec(path, "quick", path));
    EXPECT_LT(quick.trials(), 100);
  }
}

}  // namespace
}  // namespace parsity::experiments
