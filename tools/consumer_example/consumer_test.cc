// A project outside parsity loads MNIST and draws batches with parsity's data library.
#include <set>

#include "gtest/gtest.h"
#include "training/data/batch_stream.h"
#include "training/data/dataset.h"
#include "training/data/validation_split.h"

namespace {

TEST(ConsumerTest, LoadsMnistAndStreamsBatches) {
  absl::StatusOr<parsity::data::Dataset> mnist = parsity::data::LoadDataset("mnist", "");
  ASSERT_TRUE(mnist.ok()) << mnist.status();
  EXPECT_EQ(mnist->train.size(), 54000);
  EXPECT_EQ(mnist->validation.size(), 6000);
  absl::StatusOr<parsity::data::BatchStream> stream = parsity::data::BatchStream::Create(&mnist->train, 128, 0);
  ASSERT_TRUE(stream.ok()) << stream.status();
  parsity::data::Batch batch;
  stream->Next(&batch);
  ASSERT_EQ(batch.size(), 128);
  EXPECT_EQ(batch.pixels.size(), 128u * 784u);
  EXPECT_GT(std::set<int>(batch.labels.begin(), batch.labels.end()).size(), 5u);
}

TEST(ConsumerTest, BadInputIsAStatusNotACrash) {
  EXPECT_EQ(parsity::data::LoadDataset("imagenet", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(parsity::data::ChooseValidationExamples(10, 2.0, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
