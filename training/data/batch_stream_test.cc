#include "training/data/batch_stream.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/data/shuffle.h"

namespace parsity::data {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::HasSubstr;

// `count` 1x1x2 examples; example i has pixels (i * scale, i * scale + 0.5) and label i % 10, so that a batch
// entry tells which example it is.
Examples IndexedExamples(int count, float scale = 1.0f) {
  Examples examples;
  examples.shape = ImageShape{1, 1, 2};
  for (int i = 0; i < count; ++i) {
    examples.pixels.push_back(i * scale);
    examples.pixels.push_back(i * scale + 0.5f);
    examples.labels.push_back(i % 10);
  }
  return examples;
}

// The example indices of the first `count` examples the stream delivers, checking each entry's consistency.
std::vector<int64_t> DrawIndices(BatchStream& stream, int64_t count, float scale = 1.0f) {
  std::vector<int64_t> indices;
  Batch batch;
  while (static_cast<int64_t>(indices.size()) < count) {
    stream.Next(&batch);
    EXPECT_EQ(batch.size(), stream.batch_size());
    EXPECT_EQ(batch.shape, (ImageShape{1, 1, 2}));
    for (int64_t i = 0; i < batch.size(); ++i) {
      const int64_t index = std::lround(batch.pixels[2 * i] / scale);
      EXPECT_EQ(batch.pixels[2 * i + 1], index * scale + 0.5f);
      EXPECT_EQ(batch.labels[i], index % 10);
      indices.push_back(index);
    }
  }
  indices.resize(count);
  return indices;
}

TEST(BatchStreamTest, RejectsBadArguments) {
  const Examples examples = IndexedExamples(10);
  EXPECT_THAT(BatchStream::Create(nullptr, 1, 0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("null")));
  EXPECT_THAT(BatchStream::Create(&examples, 0, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_size is 0")));
  EXPECT_THAT(BatchStream::Create(&examples, -3, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_size is -3")));
  EXPECT_THAT(BatchStream::Create(&examples, 11, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_size 11 is larger than the 10")));
  Examples broken = IndexedExamples(10);
  broken.labels[4] = 10;
  EXPECT_THAT(BatchStream::Create(&broken, 2, 0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("label")));
}

TEST(BatchStreamTest, DeliversEveryExampleOncePerEpoch) {
  const Examples examples = IndexedExamples(10);
  ASSERT_OK_AND_ASSIGN(BatchStream stream, BatchStream::Create(&examples, 3, 0));
  const std::vector<int64_t> indices = DrawIndices(stream, 60);
  std::vector<std::vector<int64_t>> epochs;
  for (int epoch = 0; epoch < 6; ++epoch) {
    std::vector<int64_t> order(indices.begin() + 10 * epoch, indices.begin() + 10 * (epoch + 1));
    epochs.push_back(order);
    std::sort(order.begin(), order.end());
    std::vector<int64_t> identity(10);
    std::iota(identity.begin(), identity.end(), 0);
    EXPECT_EQ(order, identity) << "epoch " << epoch;
  }
  // Reshuffled every epoch.
  EXPECT_NE(epochs[0], epochs[1]);
  EXPECT_NE(epochs[1], epochs[2]);
}

TEST(BatchStreamTest, FirstEpochIsTheShuffleOfTheSeed) {
  const Examples examples = IndexedExamples(10);
  ASSERT_OK_AND_ASSIGN(BatchStream stream, BatchStream::Create(&examples, 5, 0));
  std::mt19937_64 engine(0);
  EXPECT_EQ(DrawIndices(stream, 10), ShuffledIndices(10, engine));
}

TEST(BatchStreamTest, CountsEpochsAndSteps) {
  const Examples examples = IndexedExamples(10);
  ASSERT_OK_AND_ASSIGN(BatchStream stream, BatchStream::Create(&examples, 4, 0));
  Batch batch;
  EXPECT_EQ(stream.epoch(), 0);
  stream.Next(&batch);  // 4 examples
  stream.Next(&batch);  // 8
  EXPECT_EQ(stream.epoch(), 0);
  stream.Next(&batch);  // 12: straddles the first epoch's end
  EXPECT_EQ(stream.epoch(), 1);
  stream.Next(&batch);  // 16
  stream.Next(&batch);  // 20: ends exactly at the second epoch's end
  EXPECT_EQ(stream.epoch(), 2);
  EXPECT_EQ(stream.step(), 5);
}

TEST(BatchStreamTest, WholeSetBatchesArePermutations) {
  const Examples examples = IndexedExamples(7);
  ASSERT_OK_AND_ASSIGN(BatchStream stream, BatchStream::Create(&examples, 7, 11));
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> indices = DrawIndices(stream, 7);
    std::sort(indices.begin(), indices.end());
    EXPECT_EQ(indices, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  }
  EXPECT_EQ(stream.epoch(), 3);
}

TEST(BatchStreamTest, OrderDependsOnlyOnSeedAndSize) {
  const Examples examples = IndexedExamples(50);
  const Examples other_pixels = IndexedExamples(50, /*scale=*/3.0f);
  ASSERT_OK_AND_ASSIGN(BatchStream reference, BatchStream::Create(&examples, 8, 123));
  ASSERT_OK_AND_ASSIGN(BatchStream same_seed, BatchStream::Create(&examples, 8, 123));
  ASSERT_OK_AND_ASSIGN(BatchStream other_batch_size, BatchStream::Create(&examples, 13, 123));
  ASSERT_OK_AND_ASSIGN(BatchStream other_data, BatchStream::Create(&other_pixels, 8, 123));
  ASSERT_OK_AND_ASSIGN(BatchStream other_seed, BatchStream::Create(&examples, 8, 124));
  const std::vector<int64_t> expected = DrawIndices(reference, 200);
  EXPECT_EQ(DrawIndices(same_seed, 200), expected);
  EXPECT_EQ(DrawIndices(other_batch_size, 200), expected);
  EXPECT_EQ(DrawIndices(other_data, 200, 3.0f), expected);
  EXPECT_NE(DrawIndices(other_seed, 200), expected);
}

TEST(BatchStreamTest, ReusesTheCallersBuffers) {
  const Examples examples = IndexedExamples(100);
  ASSERT_OK_AND_ASSIGN(BatchStream stream, BatchStream::Create(&examples, 32, 0));
  Batch batch;
  stream.Next(&batch);
  const float* pixels = batch.pixels.data();
  const int32_t* labels = batch.labels.data();
  for (int step = 0; step < 20; ++step) {
    stream.Next(&batch);
    ASSERT_EQ(batch.pixels.data(), pixels);
    ASSERT_EQ(batch.labels.data(), labels);
  }
}

TEST(BatchStreamTest, SurvivesAMove) {
  const Examples examples = IndexedExamples(20);
  ASSERT_OK_AND_ASSIGN(BatchStream original, BatchStream::Create(&examples, 6, 9));
  ASSERT_OK_AND_ASSIGN(BatchStream reference, BatchStream::Create(&examples, 6, 9));
  const std::vector<int64_t> first = DrawIndices(original, 12);
  BatchStream moved = std::move(original);
  std::vector<int64_t> indices = first;
  const std::vector<int64_t> rest = DrawIndices(moved, 30);
  indices.insert(indices.end(), rest.begin(), rest.end());
  EXPECT_EQ(indices, DrawIndices(reference, 42));
}

}  // namespace
}  // namespace parsity::data
