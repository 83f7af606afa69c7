#include "pruning/mask_report.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/nn/networks.h"
#include "training/nn/mask.h"

namespace parsity::pruning {
namespace {

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

// a/weights all pruned, a/biases half, b/weights 3 of 4, b/biases all kept.
nn::Mask SmallMask() {
  absl::StatusOr<nn::Mask> mask = nn::Mask::Create({0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1});
  EXPECT_TRUE(mask.ok());
  return *std::move(mask);
}

TEST(MaskReportTest, CountsEveryViewAndWarnsAboutEmptiedWeights) {
  const MaskReport report = ReportMask(SmallMask(), SmallLayout(), 0.5, /*prune_biases=*/true);
  EXPECT_EQ(report.sparsity_target, 0.5);
  EXPECT_EQ(report.prunable, 14);
  EXPECT_EQ(report.prunable_kept, 6);
  EXPECT_EQ(report.kept, 6);
  EXPECT_EQ(report.total, 14);
  EXPECT_DOUBLE_EQ(report.sparsity_realized, 8.0 / 14.0);
  EXPECT_DOUBLE_EQ(report.sparsity_all, 8.0 / 14.0);
  ASSERT_EQ(report.views.size(), 4);
  EXPECT_EQ(report.views[0].name, "a/weights");
  EXPECT_EQ(report.views[0].kept, 0);
  EXPECT_EQ(report.views[1].kept, 1);
  EXPECT_EQ(report.views[2].kept, 3);
  EXPECT_EQ(report.views[2].total, 4);
  EXPECT_EQ(report.views[3].kind, nn::ParameterKind::kBiases);
  // Only weights tensors warn (biases going is SNIP's normal outcome); a/weights is the only emptied one.
  EXPECT_THAT(report.warnings, ElementsAre(HasSubstr("a/weights: all 6 weights pruned")));
}

TEST(MaskReportTest, WeightsOnlyReportsSparsityOverWeights) {
  const MaskReport report = ReportMask(SmallMask(), SmallLayout(), 0.7, /*prune_biases=*/false);
  EXPECT_EQ(report.prunable, 10);
  EXPECT_EQ(report.prunable_kept, 3);
  EXPECT_DOUBLE_EQ(report.sparsity_realized, 0.7);
  EXPECT_DOUBLE_EQ(report.sparsity_all, 8.0 / 14.0);
  EXPECT_FALSE(report.views[1].prunable);
  EXPECT_TRUE(report.views[2].prunable);
}

TEST(MaskReportTest, RendersJson) {
  const MaskReport report = ReportMask(SmallMask(), SmallLayout(), 0.5, /*prune_biases=*/true);
  EXPECT_EQ(MaskReportJson(report).ToString(),
            "{\"sparsity_target\":0.5,\"sparsity_realized\":0.5714285714285714,\"sparsity_all\":0.5714285714285714,"
            "\"prunable_kept\":6,\"prunable\":14,\"kept\":6,\"total\":14,\"layers\":{\"a/weights\":{\"kept\":0,"
            "\"total\":6},\"a/biases\":{\"kept\":1,\"total\":2},\"b/weights\":{\"kept\":3,\"total\":4},\"b/biases\":"
            "{\"kept\":2,\"total\":2}},\"warnings\":[\"a/weights: all 6 weights pruned; the layer's output no longer "
            "depends on its input\"]}");
}

TEST(MaskReportTest, RendersTextLineByLine) {
  const MaskReport report = ReportMask(SmallMask(), SmallLayout(), 0.5, /*prune_biases=*/false);
  const std::string text = MaskReportText(report);
  EXPECT_THAT(text, HasSubstr("mask: sparsity 0.7000 realized (target 0.5000): 3 of 10 prunable entries kept; "
                              "6 of 14 parameters kept\n"));
  EXPECT_THAT(text, HasSubstr("  a/weights         0 / 6         100.00% pruned\n"));
  EXPECT_THAT(text, HasSubstr("  a/biases          1 / 2          50.00% pruned (not prunable)\n"));
  EXPECT_THAT(text, HasSubstr("  b/weights         3 / 4          25.00% pruned\n"));
  EXPECT_THAT(text, HasSubstr("warning: a/weights: all 6 weights pruned"));
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1 + 4 + 1);
}

TEST(MaskReportTest, DenseSimpleCnnHasNoWarnings) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<nn::Network> network, nn::CreateNetwork("simple_cnn"));
  const MaskReport report =
      ReportMask(nn::Mask::AllKept(network->parameter_count()), network->layout(), 0.0, true);
  EXPECT_EQ(report.sparsity_realized, 0.0);
  EXPECT_EQ(report.kept, 62346);
  EXPECT_EQ(report.views.size(), 6);
  EXPECT_TRUE(report.warnings.empty());
}

}  // namespace
}  // namespace parsity::pruning
