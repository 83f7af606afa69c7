#include "training/data/examples.h"

#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/aligned_vector.h"
#include "tools/base/status_matchers.h"

namespace parsity::data {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Three 2x1x2 examples whose pixel values encode (example, position): 10 * example + position.
Examples ThreeExamples() {
  Examples examples;
  examples.shape = ImageShape{2, 1, 2};
  examples.num_classes = 3;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) examples.pixels.push_back(10.0f * i + j);
    examples.labels.push_back(2 - i);
  }
  return examples;
}

TEST(ImageShapeTest, SizeIsTheProductOfTheDimensions) {
  EXPECT_EQ((ImageShape{28, 28, 1}.Size()), 784);
  EXPECT_EQ((ImageShape{32, 32, 3}.Size()), 3072);
  EXPECT_EQ((ImageShape{32, 32, 3}.ToString()), "32x32x3");
  EXPECT_EQ((ImageShape{1, 2, 3}), (ImageShape{1, 2, 3}));
  EXPECT_NE((ImageShape{1, 2, 3}), (ImageShape{2, 1, 3}));
}

TEST(ExamplesTest, ExamplePointsAtTheExamplesPixels) {
  const Examples examples = ThreeExamples();
  EXPECT_EQ(examples.size(), 3);
  EXPECT_EQ(examples.example(0)[0], 0.0f);
  EXPECT_EQ(examples.example(2)[0], 20.0f);
  EXPECT_EQ(examples.example(2)[3], 23.0f);
}

TEST(ValidateExamplesTest, AcceptsConsistentExamples) { EXPECT_THAT(ValidateExamples(ThreeExamples(), "x"), IsOk()); }

TEST(ValidateExamplesTest, RejectsAPixelCountThatDoesNotMatchTheLabels) {
  Examples examples = ThreeExamples();
  examples.pixels.pop_back();
  EXPECT_THAT(ValidateExamples(examples, "small train"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("small train: 11 pixel values for 3 labels")));
}

TEST(ValidateExamplesTest, RejectsLabelsOutsideTheClasses) {
  Examples examples = ThreeExamples();
  examples.labels[1] = 3;
  EXPECT_THAT(ValidateExamples(examples, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("label of example 1 is 3")));
  examples.labels[1] = -1;
  EXPECT_THAT(ValidateExamples(examples, "x"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is -1")));
}

TEST(ValidateExamplesTest, RejectsEmptyDimensionsAndClasses) {
  Examples examples = ThreeExamples();
  examples.shape.channels = 0;
  EXPECT_THAT(ValidateExamples(examples, "x"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2x1x0")));
  examples = ThreeExamples();
  examples.num_classes = 0;
  EXPECT_THAT(ValidateExamples(examples, "x"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FillBatchTest, CopiesTheRangeAndTheShape) {
  const Examples examples = ThreeExamples();
  Batch batch;
  FillBatch(examples, 1, 2, &batch);
  EXPECT_EQ(batch.size(), 2);
  EXPECT_EQ(batch.shape, examples.shape);
  EXPECT_THAT(batch.pixels, ElementsAre(10, 11, 12, 13, 20, 21, 22, 23));
  EXPECT_THAT(batch.labels, ElementsAre(1, 0));
  FillBatch(examples, 0, 1, &batch);
  EXPECT_THAT(batch.pixels, ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(batch.labels, ElementsAre(2));
}

// The kernels read example rows with 64-byte loads, which cost twice as much when they cross a cache line: batches
// start on a cache line whatever their size (std::vector<float> data starts 16 bytes past one from 128 KiB on).
TEST(FillBatchTest, BatchesStartOnACacheLine) {
  Examples examples;
  examples.shape = ImageShape{28, 28, 1};
  examples.pixels.assign(300 * 784, 0.5f);
  examples.labels.assign(300, 0);
  EXPECT_TRUE(IsCacheLineAligned(examples.pixels.data()));
  Batch batch;
  for (const int64_t count : {1, 2, 7, 32, 64, 256, 300}) {
    FillBatch(examples, 0, count, &batch);
    EXPECT_TRUE(IsCacheLineAligned(batch.pixels.data())) << count;
    std::vector<int64_t> indices(count, 3);
    EXPECT_TRUE(IsCacheLineAligned(GatherExamples(examples, indices).pixels.data())) << count;
  }
}

TEST(GatherExamplesTest, TakesTheIndicesInOrderWithRepeats) {
  const Examples gathered = GatherExamples(ThreeExamples(), {2, 0, 2});
  EXPECT_EQ(gathered.shape, (ImageShape{2, 1, 2}));
  EXPECT_EQ(gathered.num_classes, 3);
  EXPECT_THAT(gathered.labels, ElementsAre(0, 2, 0));
  EXPECT_THAT(gathered.pixels, ElementsAre(20, 21, 22, 23, 0, 1, 2, 3, 20, 21, 22, 23));
}

}  // namespace
}  // namespace parsity::data
