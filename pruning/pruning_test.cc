// The contract every pruning scheme shares, run over the list of schemes (value-parameterized, like
// training/optimizers/optimizer_conformance_test.cc): exact kept counts for every scope, sparsity and bias setting;
// reproducibility from the seed; pruned entries that stay zero through training with every optimizer; errors.
// Each scheme's own math is checked in its own test (snip_test.cc, magnitude_test.cc, random_test.cc), the rule in
// selection_test.cc.
#include "pruning/pruning.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pruning/mask_report.h"
#include "training/data/synthetic_examples.h"
#include "pruning/selection.h"
#include "tools/base/status_matchers.h"
#include "training/nn/networks.h"
#include "training/nn/mask.h"
#include "training/trainer/trainer.h"

namespace parsity::pruning {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::HasSubstr;

// Every scheme that prunes, with SNIP both over the whole training set and over two sampled batches.
struct Scheme {
  std::string name;
  int64_t snip_batches = 0;
};

std::string SchemeLabel(const Scheme& scheme) {
  return scheme.snip_batches == 0 ? scheme.name : absl::StrCat(scheme.name, scheme.snip_batches, "batches");
}

void PrintTo(const Scheme& scheme, std::ostream* os) { *os << SchemeLabel(scheme); }

std::vector<Scheme> Schemes() { return {{"snip", 0}, {"snip", 2}, {"magnitude"}, {"random"}}; }

// Simple-CNN (62,346 parameters: conv and fully connected weights, 106 biases) and 300 synthetic MNIST-shaped
// examples (3 batches of 100), shared by every test.
class PruningFixture {
 public:
  static const nn::Network& network() {
    static const nn::Network* const network = nn::CreateNetwork("simple_cnn").value().release();
    return *network;
  }
  static const data::Dataset& dataset() {
    static const data::Dataset* const dataset = new data::Dataset(data::MakePatchDataset(300, 100));
    return *dataset;
  }
  static std::vector<float> Initialization(uint64_t seed) {
    std::vector<float> parameters(network().parameter_count());
    trainer::InitializeParameters(network(), seed, absl::MakeSpan(parameters));
    return parameters;
  }
  // Initializes from `seed` and prunes with the same seed, as a trial does.
  static absl::StatusOr<nn::Mask> TrialMask(const PruningConfig& config, uint64_t seed) {
    return ComputeMask(config, network(), Initialization(seed), dataset().train, seed, /*threads=*/1);
  }
};

using Case = std::tuple<Scheme, std::string, double, bool>;  // scheme, scope, sparsity, prune_biases

class PruningConformanceTest : public ::testing::TestWithParam<Case>, public PruningFixture {
 protected:
  PruningConfig Config() const {
    const auto& [scheme, scope, sparsity, prune_biases] = GetParam();
    PruningConfig config;
    config.scheme = scheme.name;
    config.snip_batches = scheme.snip_batches;
    config.scope = scope;
    config.sparsity = sparsity;
    config.prune_biases = prune_biases;
    return config;
  }
};

TEST_P(PruningConformanceTest, KeptCountsEqualTheTargetExactly) {
  const PruningConfig config = Config();
  ASSERT_OK_AND_ASSIGN(const nn::Mask mask, TrialMask(config, 1));
  ASSERT_EQ(mask.size(), network().parameter_count());
  int64_t prunable = 0, prunable_kept = 0, expected_kept = 0;
  for (const nn::ParameterView& view : network().views()) {
    int64_t kept = 0;
    for (int64_t j = view.offset; j < view.offset + view.size; ++j) kept += mask.is_kept(j) ? 1 : 0;
    const bool is_prunable = view.kind == nn::ParameterKind::kWeights || config.prune_biases;
    if (!is_prunable) {
      EXPECT_EQ(kept, view.size) << view.name << " is not prunable and must be kept whole";
      expected_kept += view.size;
      continue;
    }
    prunable += view.size;
    prunable_kept += kept;
    if (config.scope == "layer") {
      const int64_t target = static_cast<int64_t>(std::round(view.size * (1.0 - config.sparsity)));
      EXPECT_EQ(kept, target) << view.name;
      expected_kept += target;
    }
  }
  if (config.scope == "global") {
    const int64_t target = static_cast<int64_t>(std::round(prunable * (1.0 - config.sparsity)));
    EXPECT_EQ(prunable_kept, target);
    expected_kept += target;
  }
  EXPECT_EQ(mask.kept_count(), expected_kept);
  if (config.sparsity == 0.0) {
    EXPECT_EQ(mask.kept_count(), mask.size());
  }

  // The report counts the same, and its realized sparsity is the target up to rounding of the kept counts: at most
  // half an entry per prunable view.
  const MaskReport report = ReportMask(mask, network().layout(), config.sparsity, config.prune_biases);
  EXPECT_EQ(report.prunable, prunable);
  EXPECT_EQ(report.prunable_kept, prunable_kept);
  EXPECT_NEAR(report.sparsity_realized, config.sparsity, 0.5 * report.views.size() / prunable);
}

TEST_P(PruningConformanceTest, SameSeedGivesTheSameMask) {
  ASSERT_OK_AND_ASSIGN(const nn::Mask first, TrialMask(Config(), 3));
  ASSERT_OK_AND_ASSIGN(const nn::Mask second, TrialMask(Config(), 3));
  EXPECT_EQ(std::vector<float>(first.values().begin(), first.values().end()),
            std::vector<float>(second.values().begin(), second.values().end()));
}

// Another trial seed means another initialization (and, for random and sampled SNIP, other scores or examples),
// hence another mask; at sparsity 0 every mask keeps everything.
TEST_P(PruningConformanceTest, OtherSeedGivesAnotherMask) {
  const PruningConfig config = Config();
  ASSERT_OK_AND_ASSIGN(const nn::Mask first, TrialMask(config, 3));
  ASSERT_OK_AND_ASSIGN(const nn::Mask second, TrialMask(config, 4));
  const std::vector<float> a(first.values().begin(), first.values().end());
  const std::vector<float> b(second.values().begin(), second.values().end());
  if (config.sparsity == 0.0) {
    EXPECT_EQ(a, b);
  } else {
    EXPECT_NE(a, b);
  }
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  const auto& [scheme, scope, sparsity, prune_biases] = info.param;
  return absl::StrCat(SchemeLabel(scheme), "_", scope, "_sparsity", static_cast<int>(std::round(sparsity * 100)),
                      prune_biases ? "_biases" : "_weightsonly");
}

INSTANTIATE_TEST_SUITE_P(EveryScheme, PruningConformanceTest,
                         ::testing::Combine(::testing::ValuesIn(Schemes()), ::testing::Values("global", "layer"),
                                            ::testing::Values(0.0, 0.5, 0.7, 0.9, 0.99), ::testing::Bool()),
                         CaseName);

// Every scheme's mask, with every optimizer, through the trainer: 100 steps later the pruned parameters are still
// exactly +0.0 and the kept ones have moved.
class PrunedEntriesStayZeroTest : public ::testing::TestWithParam<std::tuple<Scheme, std::string>>,
                                  public PruningFixture {};

TEST_P(PrunedEntriesStayZeroTest, ThroughOneHundredTrainingSteps) {
  const auto& [scheme, optimizer] = GetParam();
  PruningConfig config;
  config.scheme = scheme.name;
  config.snip_batches = scheme.snip_batches;
  config.sparsity = 0.9;
  std::vector<float> parameters = Initialization(5);
  ASSERT_OK_AND_ASSIGN(const nn::Mask mask,
                       ComputeMask(config, network(), parameters, dataset().train, 5, /*threads=*/1));
  mask.Apply(absl::MakeSpan(parameters));
  const std::vector<float> initial = parameters;

  trainer::TrainerConfig trainer_config;
  trainer_config.batch_size = 16;
  trainer_config.max_steps = 100;
  trainer_config.check_interval = 100;
  trainer_config.goal_error = 0.001;
  trainer_config.optimizer.name = optimizer;
  trainer_config.schedule.initial_learning_rate = optimizer == "sgd" ? 0.05f : optimizer == "adam" ? 0.001f : 0.01f;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<trainer::Trainer> trainer,
                       trainer::Trainer::Create(trainer_config, &network(), &dataset(), &mask));
  const trainer::TrialResult result = trainer->Train(absl::MakeSpan(parameters));
  ASSERT_EQ(result.steps, 100);
  ASSERT_NE(result.status, trainer::TrialStatus::kInfeasible);

  int64_t pruned = 0, moved = 0;
  for (int64_t j = 0; j < mask.size(); ++j) {
    if (!mask.is_kept(j)) {
      ++pruned;
      ASSERT_EQ(parameters[j], 0.0f) << "pruned entry " << j;
      ASSERT_FALSE(std::signbit(parameters[j])) << "pruned entry " << j;
    } else {
      moved += parameters[j] != initial[j] ? 1 : 0;
    }
  }
  EXPECT_EQ(pruned, mask.pruned_count());
  // Training did something: most kept entries changed (a few sit behind dead ReLUs).
  EXPECT_GT(moved, mask.kept_count() / 2);
}

INSTANTIATE_TEST_SUITE_P(EverySchemeAndOptimizer, PrunedEntriesStayZeroTest,
                         ::testing::Combine(::testing::ValuesIn(Schemes()),
                                            ::testing::Values("sgd", "momentum", "nesterov", "adam")),
                         [](const ::testing::TestParamInfo<std::tuple<Scheme, std::string>>& info) {
                           return absl::StrCat(SchemeLabel(std::get<0>(info.param)), "_", std::get<1>(info.param));
                         });

class PruningTest : public ::testing::Test, public PruningFixture {};

TEST_F(PruningTest, SchemeNoneKeepsEverythingAndReadsNoData) {
  PruningConfig config;
  EXPECT_EQ(config.scheme, "none");
  ASSERT_OK_AND_ASSIGN(const nn::Mask mask,
                       ComputeMask(config, network(), Initialization(0), data::Examples{}, 0, 1));
  EXPECT_EQ(mask.kept_count(), network().parameter_count());
}

TEST_F(PruningTest, NamesTheChoices) {
  EXPECT_THAT(PruningSchemeNames(), ::testing::ElementsAre("none", "snip", "magnitude", "random"));
  EXPECT_THAT(PruningScopeNames(), ::testing::ElementsAre("global", "layer"));
}

TEST_F(PruningTest, RejectsBadSparsityForEveryScheme) {
  for (const Scheme& scheme : Schemes()) {
    SCOPED_TRACE(SchemeLabel(scheme));
    PruningConfig config;
    config.scheme = scheme.name;
    config.snip_batches = scheme.snip_batches;
    config.sparsity = -0.1;
    EXPECT_THAT(TrialMask(config, 0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sparsity: -0.1")));
    config.sparsity = 1.0;
    EXPECT_THAT(TrialMask(config, 0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sparsity: 1 ")));
    config.sparsity = std::nan("");
    EXPECT_THAT(TrialMask(config, 0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sparsity: nan")));
    config.sparsity = 0.99;
    EXPECT_THAT(ValidatePruningConfig(config), IsOk());
  }
}

TEST_F(PruningTest, RejectsUnknownNamesListingTheChoices) {
  PruningConfig config;
  config.scheme = "snap";
  EXPECT_THAT(ValidatePruningConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("scheme: 'snap' is not one of none, snip, magnitude, random")));
  config.scheme = "snip";
  config.scope = "local";
  EXPECT_THAT(TrialMask(config, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("scope: 'local' is not one of global, layer")));
  config.scope = "";
  EXPECT_THAT(ValidatePruningConfig(config), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("scope: ''")));
}

TEST_F(PruningTest, RejectsASparsityWithoutAScheme) {
  PruningConfig config;
  config.sparsity = 0.5;
  EXPECT_THAT(ValidatePruningConfig(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sparsity: 0.5 needs a pruning scheme")));
}

TEST_F(PruningTest, RejectsSnipSamplesTheTrainingSetCannotHold) {
  PruningConfig config;
  config.scheme = "snip";
  config.sparsity = 0.9;
  config.snip_batches = -1;
  EXPECT_THAT(TrialMask(config, 0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("snip_batches: -1")));
  // 300 training examples hold 3 batches of 100; the check runs even at sparsity 0, where no score is needed.
  config.snip_batches = 4;
  EXPECT_THAT(TrialMask(config, 0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("snip_batches: 4")));
  config.sparsity = 0.0;
  EXPECT_THAT(TrialMask(config, 0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("snip_batches: 4")));
  config.snip_batches = 3;
  config.sparsity = 0.9;
  EXPECT_THAT(TrialMask(config, 0), IsOk());
  // Other schemes do not read snip_batches.
  config.scheme = "magnitude";
  config.snip_batches = 4;
  EXPECT_THAT(TrialMask(config, 0), IsOk());
}

TEST_F(PruningTest, RejectsBadCallArguments) {
  PruningConfig config;
  config.scheme = "random";
  config.sparsity = 0.5;
  const std::vector<float> parameters = Initialization(0);
  EXPECT_THAT(ComputeMask(config, network(), parameters, dataset().train, 0, /*threads=*/0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("threads: 0")));
  EXPECT_THAT(ComputeMask(config, network(), absl::MakeConstSpan(parameters).subspan(1), dataset().train, 0, 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("initial_parameters: 62345 entries")));
}

}  // namespace
}  // namespace parsity::pruning
