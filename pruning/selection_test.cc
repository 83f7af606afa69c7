#include "pruning/selection.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/nn/networks.h"

namespace parsity::pruning {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// a/weights (6), a/biases (2), b/weights (4), b/biases (2): 14 entries.
nn::ParameterLayout SmallLayout() {
  nn::ParameterLayout layout;
  layout.Append("a/weights", {3, 2}, 3, nn::ParameterKind::kWeights);
  layout.Append("a/biases", {2}, 1, nn::ParameterKind::kBiases);
  layout.Append("b/weights", {2, 2}, 2, nn::ParameterKind::kWeights);
  layout.Append("b/biases", {2}, 1, nn::ParameterKind::kBiases);
  return layout;
}

std::vector<float> Values(const nn::Mask& mask) {
  return std::vector<float>(mask.values().begin(), mask.values().end());
}

SelectionOptions Options(PruningScope scope, bool prune_biases) {
  SelectionOptions options;
  options.scope = scope;
  options.prune_biases = prune_biases;
  return options;
}

// The rule written the slow, obvious way: sort every candidate by (score descending, index ascending), keep a prefix.
std::vector<float> ReferenceSelection(const std::vector<double>& scores, const nn::ParameterLayout& layout,
                                      double sparsity, const SelectionOptions& options) {
  std::vector<float> mask(scores.size(), 1.0f);
  const auto keep_prefix = [&](std::vector<int64_t> candidates) {
    std::stable_sort(candidates.begin(), candidates.end(),
                     [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });  // stable: lower index first
    const int64_t kept = static_cast<int64_t>(std::round(candidates.size() * (1.0 - sparsity)));
    for (size_t i = kept; i < candidates.size(); ++i) mask[candidates[i]] = 0.0f;
  };
  std::vector<int64_t> all;
  for (const nn::ParameterView& view : layout.views()) {
    if (view.kind == nn::ParameterKind::kBiases && !options.prune_biases) continue;
    std::vector<int64_t> own;
    for (int64_t i = view.offset; i < view.offset + view.size; ++i) own.push_back(i);
    if (options.scope == PruningScope::kPerLayer) keep_prefix(own);
    all.insert(all.end(), own.begin(), own.end());
  }
  if (options.scope == PruningScope::kGlobal) keep_prefix(all);
  return mask;
}

TEST(SelectionTest, KeptCountRoundsHalvesAwayFromZero) {
  EXPECT_EQ(KeptCount(10, 0.0), 10);
  EXPECT_EQ(KeptCount(10, 0.7), 3);        // 10 * 0.30000000000000004
  EXPECT_EQ(KeptCount(5, 0.5), 3);         // 2.5 -> 3
  EXPECT_EQ(KeptCount(7, 0.5), 4);         // 3.5 -> 4
  EXPECT_EQ(KeptCount(62346, 0.9), 6235);  // 6234.6
  EXPECT_EQ(KeptCount(62346, 0.99), 623);  // 623.46
  EXPECT_EQ(KeptCount(49, 0.99), 0);       // 0.49: a tensor can lose everything
  EXPECT_EQ(KeptCount(0, 0.5), 0);
}

TEST(SelectionTest, KeepsTheTopScoresGlobally) {
  const nn::ParameterLayout layout = SmallLayout();
  //                                a/weights                  a/biases   b/weights              b/biases
  const std::vector<double> scores = {0.1, 0.9, 0.3, 0.8, 0.0, 0.2, 0.05, 0.4, 0.7, 0.6, 0.01, 0.5, 0.02, 0.03};
  // 14 prunable, sparsity 0.5 keeps 7: 0.9 0.8 0.7 0.6 0.5 0.4 0.3.
  ASSERT_OK_AND_ASSIGN(nn::Mask mask,
                       SelectTopScores(scores, layout, 0.5, Options(PruningScope::kGlobal, true)));
  EXPECT_THAT(Values(mask), ElementsAre(0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0));
  EXPECT_EQ(mask.kept_count(), 7);
}

TEST(SelectionTest, WeightsOnlyKeepsBiasesAndCountsOnlyWeights) {
  const nn::ParameterLayout layout = SmallLayout();
  const std::vector<double> scores = {0.1, 0.9, 0.3, 0.8, 0.0, 0.2, 0.05, 0.4, 0.7, 0.6, 0.01, 0.5, 0.02, 0.03};
  // 10 prunable weights, sparsity 0.5 keeps 5 of them (0.9 0.8 0.7 0.6 0.5); the 4 biases are kept, 0.4 among them.
  ASSERT_OK_AND_ASSIGN(nn::Mask mask,
                       SelectTopScores(scores, layout, 0.5, Options(PruningScope::kGlobal, false)));
  EXPECT_THAT(Values(mask), ElementsAre(0, 1, 0, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1));
  EXPECT_EQ(mask.kept_count(), 9);
}

TEST(SelectionTest, PerLayerKeepsTheSameFractionOfEveryTensor) {
  const nn::ParameterLayout layout = SmallLayout();
  const std::vector<double> scores = {0.1, 0.9, 0.3, 0.8, 0.0, 0.2, 0.05, 0.4, 0.7, 0.6, 0.01, 0.5, 0.02, 0.03};
  // Sparsity 0.5: a/weights keeps 3 of 6, a/biases 1 of 2, b/weights 2 of 4, b/biases 1 of 2.
  ASSERT_OK_AND_ASSIGN(nn::Mask mask,
                       SelectTopScores(scores, layout, 0.5, Options(PruningScope::kPerLayer, true)));
  EXPECT_THAT(Values(mask), ElementsAre(0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1));
  EXPECT_EQ(mask.kept_count(), 7);
}

TEST(SelectionTest, TiesGoToTheLowerIndex) {
  const nn::ParameterLayout layout = SmallLayout();
  const std::vector<double> equal(14, 0.25);
  ASSERT_OK_AND_ASSIGN(nn::Mask global,
                       SelectTopScores(equal, layout, 0.5, Options(PruningScope::kGlobal, true)));
  EXPECT_THAT(Values(global), ElementsAre(1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0));
  ASSERT_OK_AND_ASSIGN(nn::Mask per_layer,
                       SelectTopScores(equal, layout, 0.5, Options(PruningScope::kPerLayer, true)));
  EXPECT_THAT(Values(per_layer), ElementsAre(1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0));
  // -0.0 ties with +0.0: the lower index wins whatever the sign bit.
  std::vector<double> zeros(14, -1.0);
  zeros[2] = -0.0;
  zeros[3] = 0.0;
  ASSERT_OK_AND_ASSIGN(nn::Mask signed_zero,
                       SelectTopScores(zeros, layout, 13.0 / 14.0, Options(PruningScope::kGlobal, true)));
  EXPECT_EQ(signed_zero.kept_count(), 1);
  EXPECT_TRUE(signed_zero.is_kept(2));
}

TEST(SelectionTest, MatchesTheSortingReferenceWithManyTies) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<nn::Network> network, nn::CreateNetwork("simple_cnn"));
  const nn::ParameterLayout& layout = network->layout();
  std::mt19937_64 engine(3);
  std::vector<double> scores(layout.size());
  for (double& score : scores) score = static_cast<double>(engine() % 50);  // About 1,250 entries per value.
  for (const PruningScope scope : {PruningScope::kGlobal, PruningScope::kPerLayer}) {
    for (const bool prune_biases : {true, false}) {
      for (const double sparsity : {0.0, 0.5, 0.7, 0.9, 0.99}) {
        SCOPED_TRACE(::testing::Message()
                     << PruningScopeName(scope) << " biases " << prune_biases << " sparsity " << sparsity);
        const SelectionOptions options = Options(scope, prune_biases);
        ASSERT_OK_AND_ASSIGN(nn::Mask mask, SelectTopScores(scores, layout, sparsity, options));
        EXPECT_EQ(Values(mask), ReferenceSelection(scores, layout, sparsity, options));
      }
    }
  }
}

TEST(SelectionTest, SimpleCnnCountsByHand) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<nn::Network> network, nn::CreateNetwork("simple_cnn"));
  const std::vector<double> scores(network->parameter_count(), 1.0);
  EXPECT_EQ(PrunableCount(network->layout(), true), 62346);
  EXPECT_EQ(PrunableCount(network->layout(), false), 62240);
  // Global, weights and biases: round(62346 * 0.1) = 6235.
  ASSERT_OK_AND_ASSIGN(nn::Mask both,
                       SelectTopScores(scores, network->layout(), 0.9, Options(PruningScope::kGlobal, true)));
  EXPECT_EQ(both.kept_count(), 6235);
  // Global, weights only: round(62240 * 0.1) = 6224 weights + 106 biases.
  ASSERT_OK_AND_ASSIGN(nn::Mask weights,
                       SelectTopScores(scores, network->layout(), 0.9, Options(PruningScope::kGlobal, false)));
  EXPECT_EQ(weights.kept_count(), 6224 + 106);
  // Per layer, weights and biases: conv1 800 -> 80, 32 -> 3 (3.2); conv2 51200 -> 5120, 64 -> 6 (6.4);
  // fc 10240 -> 1024, 10 -> 1.
  ASSERT_OK_AND_ASSIGN(nn::Mask per_layer,
                       SelectTopScores(scores, network->layout(), 0.9, Options(PruningScope::kPerLayer, true)));
  EXPECT_EQ(per_layer.kept_count(), 80 + 3 + 5120 + 6 + 1024 + 1);
}

TEST(SelectionTest, SparsityZeroKeepsEverythingWhateverTheScores) {
  const nn::ParameterLayout layout = SmallLayout();
  const std::vector<double> nans(14, std::numeric_limits<double>::quiet_NaN());
  ASSERT_OK_AND_ASSIGN(nn::Mask mask, SelectTopScores(nans, layout, 0.0, Options(PruningScope::kGlobal, true)));
  EXPECT_EQ(mask.kept_count(), 14);
}

TEST(SelectionTest, RejectsBadSparsityScoresAndSizes) {
  const nn::ParameterLayout layout = SmallLayout();
  const std::vector<double> scores(14, 1.0);
  const SelectionOptions options;
  EXPECT_THAT(SelectTopScores(scores, layout, -0.1, options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sparsity: -0.1")));
  EXPECT_THAT(SelectTopScores(scores, layout, 1.0, options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sparsity: 1 ")));
  EXPECT_THAT(SelectTopScores(scores, layout, std::nan(""), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sparsity: nan")));
  EXPECT_THAT(SelectTopScores(scores, layout, std::numeric_limits<double>::infinity(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sparsity: inf")));
  EXPECT_THAT(ValidateSparsity(0.0), IsOk());
  EXPECT_THAT(ValidateSparsity(0.99), IsOk());
  EXPECT_THAT(SelectTopScores(std::vector<double>(13, 1.0), layout, 0.5, options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("13")));
  std::vector<double> with_nan = scores;
  with_nan[9] = std::nan("");
  EXPECT_THAT(SelectTopScores(with_nan, layout, 0.5, options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("score 9 (in view 'b/weights')")));
  // A NaN in a view that is not prunable is ignored.
  with_nan[9] = 1.0;
  with_nan[13] = std::nan("");
  EXPECT_THAT(SelectTopScores(with_nan, layout, 0.5, Options(PruningScope::kGlobal, false)), IsOk());
}

}  // namespace
}  // namespace parsity::pruning
