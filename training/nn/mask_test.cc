#include "training/nn/mask.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace parsity::nn {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(MaskTest, CountsKeptAndPrunedEntries) {
  ASSERT_OK_AND_ASSIGN(Mask mask, Mask::Create({1.0f, 0.0f, 1.0f, 0.0f, 0.0f}));
  EXPECT_EQ(mask.size(), 5);
  EXPECT_EQ(mask.kept_count(), 2);
  EXPECT_EQ(mask.pruned_count(), 3);
  EXPECT_DOUBLE_EQ(mask.sparsity(), 0.6);
  EXPECT_TRUE(mask.is_kept(0));
  EXPECT_FALSE(mask.is_kept(1));
  EXPECT_THAT(mask.values(), ElementsAre(1.0f, 0.0f, 1.0f, 0.0f, 0.0f));
  EXPECT_THAT(mask.KeptIndices(), ElementsAre(0, 2));
  EXPECT_THAT(Mask::AllKept(3).KeptIndices(), ElementsAre(0, 1, 2));
}

TEST(MaskTest, KeptBitsHoldSixteenEntriesPerWord) {
  std::vector<float> values(35, 0.0f);
  for (const int kept : {0, 3, 15, 33}) values[kept] = 1.0f;
  ASSERT_OK_AND_ASSIGN(Mask mask, Mask::Create(values));
  EXPECT_THAT(mask.KeptBits(), ElementsAre(0x8009, 0x0000, 0x0002));
  EXPECT_THAT(Mask::AllKept(17).KeptBits(), ElementsAre(0xFFFF, 0x0001));
  EXPECT_TRUE(Mask::AllKept(0).KeptBits().empty());
}

// Lines 0, 2-3 and 5 hold kept entries, line 1 and 4 do not; the partial line 6, which holds one, lies outside the
// range asked for (the full lines), and a range that starts inside a run cuts it.
TEST(MaskTest, KeptLineRunsJoinConsecutiveKeptLinesWithinTheRange) {
  std::vector<float> values(16 * 6 + 5, 0.0f);
  for (const int kept : {7, 16 * 2 + 15, 16 * 3, 16 * 5 + 1, 16 * 6 + 2}) values[kept] = 1.0f;
  ASSERT_OK_AND_ASSIGN(Mask mask, Mask::Create(values));
  const std::vector<LineRun> runs = KeptLineRuns(mask.KeptBits(), 0, mask.size() / 16);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].first_line, 0);
  EXPECT_EQ(runs[0].end_line, 1);
  EXPECT_EQ(runs[1].first_line, 2);
  EXPECT_EQ(runs[1].end_line, 4);
  EXPECT_EQ(runs[2].first_line, 5);
  EXPECT_EQ(runs[2].end_line, 6);
  const Mask all = Mask::AllKept(40);
  const std::vector<LineRun> whole = KeptLineRuns(all.KeptBits(), 0, all.size() / 16);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0].first_line, 0);
  EXPECT_EQ(whole[0].end_line, 2);
  const std::vector<LineRun> cut = KeptLineRuns(mask.KeptBits(), 3, 7);  // The partial line 6 joins line 5.
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_EQ(cut[0].first_line, 3);
  EXPECT_EQ(cut[0].end_line, 4);
  EXPECT_EQ(cut[1].first_line, 5);
  EXPECT_EQ(cut[1].end_line, 7);
  EXPECT_TRUE(KeptLineRuns({}, 0, 0).empty());
}

TEST(MaskTest, AllKeptPrunesNothing) {
  const Mask mask = Mask::AllKept(4);
  EXPECT_EQ(mask.kept_count(), 4);
  EXPECT_EQ(mask.sparsity(), 0.0);
  EXPECT_EQ(Mask::AllKept(0).sparsity(), 0.0);
}

TEST(MaskTest, NegativeZeroCountsAsPruned) {
  ASSERT_OK_AND_ASSIGN(Mask mask, Mask::Create({-0.0f, 1.0f}));
  EXPECT_EQ(mask.kept_count(), 1);
  EXPECT_FALSE(mask.is_kept(0));
}

TEST(MaskTest, CreateRejectsValuesOtherThanZeroAndOneNamingTheIndex) {
  EXPECT_THAT(Mask::Create({1.0f, 0.0f, 0.5f}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("values[2] is 0.5")));
  EXPECT_THAT(Mask::Create({2.0f}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("values[0] is 2")));
  EXPECT_THAT(Mask::Create({1.0f, std::nanf("")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("values[1] is nan")));
  EXPECT_THAT(Mask::Create({1.0f, 0.999999f}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(MaskTest, CheckCoversComparesSizes) {
  const Mask mask = Mask::AllKept(3);
  EXPECT_THAT(mask.CheckCovers(3), IsOk());
  EXPECT_THAT(mask.CheckCovers(4), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("Mask size 3 does not match the parameter buffer size 4")));
}

TEST(MaskTest, ApplyZeroesPrunedEntriesAndKeepsTheOthersBitForBit) {
  ASSERT_OK_AND_ASSIGN(Mask mask, Mask::Create({1.0f, 0.0f, 0.0f, 1.0f, 0.0f}));
  std::vector<float> buffer = {-0.0f, -3.0f, std::nanf(""), 1.0f / 3.0f, std::numeric_limits<float>::infinity()};
  mask.Apply(absl::MakeSpan(buffer));
  EXPECT_THAT(buffer, ElementsAre(0.0f, 0.0f, 0.0f, 1.0f / 3.0f, 0.0f));
  EXPECT_TRUE(std::signbit(buffer[0])) << "a kept -0.0f stays -0.0f";
  EXPECT_FALSE(std::signbit(buffer[1])) << "a pruned entry becomes +0.0f";
}

TEST(MaskDeathTest, ApplyAbortsOnSizeMismatch) {
  const Mask mask = Mask::AllKept(2);
  std::vector<float> buffer(3, 1.0f);
  EXPECT_DEATH(mask.Apply(absl::MakeSpan(buffer)), "check failed");
}

}  // namespace
}  // namespace parsity::nn
