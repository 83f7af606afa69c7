#include "training/data/validation_split.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace parsity::data {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Checks that the two lists are ascending and together hold 0..count-1 exactly once.
void ExpectPartition(const TrainValidationIndices& indices, int64_t count) {
  EXPECT_TRUE(std::is_sorted(indices.train.begin(), indices.train.end()));
  EXPECT_TRUE(std::is_sorted(indices.validation.begin(), indices.validation.end()));
  std::vector<int64_t> all = indices.train;
  all.insert(all.end(), indices.validation.begin(), indices.validation.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> identity(count);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(all, identity);
}

TEST(ChooseValidationExamplesTest, HoldsOutTheFractionOfThePaper) {
  ASSERT_OK_AND_ASSIGN(const TrainValidationIndices mnist,
                       ChooseValidationExamples(60000, kValidationFraction, kValidationSplitSeed));
  EXPECT_EQ(mnist.train.size(), 54000u);
  EXPECT_EQ(mnist.validation.size(), 6000u);
  ExpectPartition(mnist, 60000);
  ASSERT_OK_AND_ASSIGN(const TrainValidationIndices cifar,
                       ChooseValidationExamples(50000, kValidationFraction, kValidationSplitSeed));
  EXPECT_EQ(cifar.train.size(), 45000u);
  EXPECT_EQ(cifar.validation.size(), 5000u);
  ExpectPartition(cifar, 50000);
}

TEST(ChooseValidationExamplesTest, IsRandomButFixedBySeed) {
  ASSERT_OK_AND_ASSIGN(const TrainValidationIndices first, ChooseValidationExamples(60000, 0.1, 0));
  ASSERT_OK_AND_ASSIGN(const TrainValidationIndices again, ChooseValidationExamples(60000, 0.1, 0));
  ASSERT_OK_AND_ASSIGN(const TrainValidationIndices other_seed, ChooseValidationExamples(60000, 0.1, 1));
  EXPECT_EQ(first.validation, again.validation);
  EXPECT_NE(first.validation, other_seed.validation);
  // Not a block of the file: the held-out examples are spread over it (each tenth holds about 600).
  for (int64_t tenth = 0; tenth < 10; ++tenth) {
    const int64_t in_tenth =
        std::count_if(first.validation.begin(), first.validation.end(), [&](int64_t i) { return i / 6000 == tenth; });
    EXPECT_GT(in_tenth, 500) << tenth;
    EXPECT_LT(in_tenth, 700) << tenth;
  }
}

TEST(ChooseValidationExamplesTest, IsFrozenForSeedZero) {
  // Frozen: the paper's split must not change silently.
  ASSERT_OK_AND_ASSIGN(const TrainValidationIndices indices, ChooseValidationExamples(30, 0.1, 0));
  EXPECT_THAT(indices.validation, ElementsAre(10, 13, 25));
}

TEST(ChooseValidationExamplesTest, RoundsTheValidationCount) {
  ASSERT_OK_AND_ASSIGN(const TrainValidationIndices indices, ChooseValidationExamples(16, 0.1, 0));
  EXPECT_EQ(indices.validation.size(), 2u);  // round(1.6)
  ASSERT_OK_AND_ASSIGN(const TrainValidationIndices none, ChooseValidationExamples(16, 0.0, 0));
  EXPECT_TRUE(none.validation.empty());
  EXPECT_EQ(none.train.size(), 16u);
}

TEST(ChooseValidationExamplesTest, RejectsBadArguments) {
  EXPECT_THAT(ChooseValidationExamples(100, 1.0, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("validation_fraction is 1")));
  EXPECT_THAT(ChooseValidationExamples(100, -0.1, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ChooseValidationExamples(0, 0.1, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("0 examples")));
  EXPECT_THAT(ChooseValidationExamples(1, 0.6, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("leaves no training example")));
}

TEST(SplitTrainValidationTest, MovesWholeExamplesToTheChosenParts) {
  // 40 examples of 1x2x1; example i has pixels (i, -i) and label i % 10.
  Examples examples;
  examples.shape = ImageShape{1, 2, 1};
  for (int i = 0; i < 40; ++i) {
    examples.pixels.push_back(i);
    examples.pixels.push_back(-i);
    examples.labels.push_back(i % 10);
  }
  ASSERT_OK_AND_ASSIGN(const TrainValidationSplit split, SplitTrainValidation(examples, 0.1, 5));
  ASSERT_OK_AND_ASSIGN(const TrainValidationIndices indices, ChooseValidationExamples(40, 0.1, 5));
  ASSERT_EQ(split.validation.size(), 4);
  ASSERT_EQ(split.train.size(), 36);
  EXPECT_EQ(split.train.shape, examples.shape);
  for (const auto& [part, part_indices] :
       {std::make_pair(&split.train, &indices.train), std::make_pair(&split.validation, &indices.validation)}) {
    for (int64_t i = 0; i < part->size(); ++i) {
      const int64_t original = (*part_indices)[i];
      EXPECT_EQ(part->example(i)[0], original);
      EXPECT_EQ(part->example(i)[1], -original);
      EXPECT_EQ(part->labels[i], original % 10);
    }
  }
}

TEST(SplitTrainValidationTest, RejectsInvalidExamples) {
  Examples examples;
  examples.shape = ImageShape{1, 1, 1};
  examples.labels = {1, 2};
  examples.pixels = {0.5f};
  EXPECT_THAT(SplitTrainValidation(examples, 0.1, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1 pixel values for 2 labels")));
}

}  // namespace
}  // namespace parsity::data
