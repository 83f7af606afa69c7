// Tests on the installed MNIST and Fashion-MNIST (see dataset.h): the loader, split, standardization and batch
// stream against facts known about the real files.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/data/batch_stream.h"
#include "training/data/dataset.h"
#include "training/data/idx_reader.h"

namespace parsity::data {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;

// Examples per class over `parts`.
std::vector<int64_t> LabelHistogram(const std::vector<const Examples*>& parts) {
  std::vector<int64_t> histogram(10, 0);
  for (const Examples* part : parts) {
    for (int32_t label : part->labels) ++histogram[label];
  }
  return histogram;
}

// Mean and population standard deviation of `values`.
void Moments(const float* values, size_t count, double* mean, double* stddev) {
  double sum = 0.0;
  for (size_t i = 0; i < count; ++i) sum += values[i];
  *mean = sum / count;
  double squares = 0.0;
  for (size_t i = 0; i < count; ++i) squares += (values[i] - *mean) * (values[i] - *mean);
  *stddev = std::sqrt(squares / count);
}

// FNV-1a of an example's pixels and label: identifies an example in a batch.
uint64_t ExampleHash(const float* pixels, int64_t size, int32_t label) {
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&hash](const void* data, size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < bytes; ++i) hash = (hash ^ p[i]) * 1099511628211ull;
  };
  mix(pixels, size * sizeof(float));
  mix(&label, sizeof(label));
  return hash;
}

class MnistTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto dataset = LoadDataset("mnist", "");
    ASSERT_TRUE(dataset.ok()) << dataset.status();
    mnist_ = new Dataset(*std::move(dataset));
  }
  static void TearDownTestSuite() {
    delete mnist_;
    mnist_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(mnist_, nullptr); }

  static Dataset* mnist_;
};

Dataset* MnistTest::mnist_ = nullptr;

TEST_F(MnistTest, HasTheKnownCountsAndShape) {
  EXPECT_EQ(mnist_->name, "mnist");
  EXPECT_EQ(mnist_->train.size(), 54000);
  EXPECT_EQ(mnist_->validation.size(), 6000);
  EXPECT_EQ(mnist_->test.size(), 10000);
  for (const Examples* part : {&mnist_->train, &mnist_->validation, &mnist_->test}) {
    EXPECT_EQ(part->shape, (ImageShape{28, 28, 1}));
    EXPECT_EQ(part->pixels.size(), part->size() * 784u);
    EXPECT_EQ(part->num_classes, 10);
  }
}

TEST_F(MnistTest, HasTheKnownLabelHistograms) {
  EXPECT_THAT(LabelHistogram({&mnist_->train, &mnist_->validation}),
              ElementsAre(5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949));
  EXPECT_THAT(LabelHistogram({&mnist_->test}), ElementsAre(980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009));
}

TEST_F(MnistTest, RawPixelStatisticsAreTheWellKnownOnes) {
  // Over all 60,000 training images: mean 0.1307, standard deviation 0.3081 (experiments/PROTOCOL.md).
  ASSERT_OK_AND_ASSIGN(const IdxImages images,
                       ReadIdxImages("/usr/local/share/datasets/mnist/train-images-idx3-ubyte"));
  std::vector<float> scaled(images.pixels.begin(), images.pixels.end());
  for (float& value : scaled) value /= 255.0f;
  double mean;
  double stddev;
  Moments(scaled.data(), scaled.size(), &mean, &stddev);
  EXPECT_NEAR(mean, 0.1307, 1e-4);
  EXPECT_NEAR(stddev, 0.3081, 1e-4);
}

TEST_F(MnistTest, StandardizesWithTheTrainingPartsStatistics) {
  // The stats of the 54,000-image training part are close to those of all 60,000.
  ASSERT_THAT(mnist_->mean, ElementsAre(::testing::FloatNear(0.1307f, 0.002f)));
  ASSERT_THAT(mnist_->stddev, ElementsAre(::testing::FloatNear(0.3081f, 0.002f)));
  double mean;
  double stddev;
  Moments(mnist_->train.pixels.data(), mnist_->train.pixels.size(), &mean, &stddev);
  EXPECT_NEAR(mean, 0.0, 1e-4);
  EXPECT_NEAR(stddev, 1.0, 1e-4);
  // Validation and test get the same shift and scale: close to, not exactly, standard.
  for (const Examples* part : {&mnist_->validation, &mnist_->test}) {
    Moments(part->pixels.data(), part->pixels.size(), &mean, &stddev);
    EXPECT_NEAR(mean, 0.0, 0.03);
    EXPECT_NEAR(stddev, 1.0, 0.03);
  }
  // Background pixels (0) map to -mean / stddev.
  EXPECT_FLOAT_EQ(mnist_->train.pixels[0], -mnist_->mean[0] / mnist_->stddev[0]);
}

TEST_F(MnistTest, SplitIsTheSeedZeroChoice) {
  ASSERT_OK_AND_ASSIGN(const std::vector<uint8_t> labels,
                       ReadIdxLabels("/usr/local/share/datasets/mnist/train-labels-idx1-ubyte"));
  ASSERT_OK_AND_ASSIGN(const TrainValidationIndices split, ChooseValidationExamples(60000, 0.1, 0));
  std::vector<int32_t> expected_validation_labels;
  for (int64_t index : split.validation) expected_validation_labels.push_back(labels[index]);
  EXPECT_EQ(mnist_->validation.labels, expected_validation_labels);
  std::vector<int32_t> expected_train_labels;
  for (int64_t index : split.train) expected_train_labels.push_back(labels[index]);
  EXPECT_EQ(mnist_->train.labels, expected_train_labels);
  // Another seed holds out other examples.
  ASSERT_OK_AND_ASSIGN(const TrainValidationIndices other, ChooseValidationExamples(60000, 0.1, 1));
  EXPECT_NE(other.validation, split.validation);
}

TEST_F(MnistTest, LoadingIsDeterministic) {
  ASSERT_OK_AND_ASSIGN(const Dataset again, LoadDataset("mnist", "/usr/local/share/datasets/mnist"));
  EXPECT_EQ(again.train.labels, mnist_->train.labels);
  EXPECT_TRUE(again.train.pixels == mnist_->train.pixels);
  EXPECT_TRUE(again.validation.pixels == mnist_->validation.pixels);
  EXPECT_TRUE(again.test.pixels == mnist_->test.pixels);
  EXPECT_EQ(again.mean, mnist_->mean);
  EXPECT_EQ(again.stddev, mnist_->stddev);
}

TEST_F(MnistTest, StreamDeliversEveryTrainingExampleOncePerEpoch) {
  const Examples& train = mnist_->train;
  std::map<uint64_t, int64_t> expected;
  for (int64_t i = 0; i < train.size(); ++i) ++expected[ExampleHash(train.example(i), 784, train.labels[i])];
  // 54,000 = 421 * 128 + 112: the epoch's last batch straddles into the next epoch.
  ASSERT_OK_AND_ASSIGN(BatchStream stream, BatchStream::Create(&train, 128, 0));
  Batch batch;
  std::map<uint64_t, int64_t> first_epoch;
  int64_t drawn = 0;
  while (drawn < train.size()) {
    stream.Next(&batch);
    for (int64_t i = 0; i < batch.size() && drawn < train.size(); ++i, ++drawn) {
      ++first_epoch[ExampleHash(batch.pixels.data() + i * 784, 784, batch.labels[i])];
    }
  }
  EXPECT_EQ(stream.epoch(), 1);
  EXPECT_TRUE(first_epoch == expected);
}

TEST_F(MnistTest, StreamOrderIsFixedBySeed) {
  ASSERT_OK_AND_ASSIGN(BatchStream a, BatchStream::Create(&mnist_->train, 256, 0));
  ASSERT_OK_AND_ASSIGN(BatchStream b, BatchStream::Create(&mnist_->train, 256, 0));
  ASSERT_OK_AND_ASSIGN(BatchStream c, BatchStream::Create(&mnist_->train, 256, 1));
  Batch batch_a;
  Batch batch_b;
  Batch batch_c;
  for (int step = 0; step < 10; ++step) {
    a.Next(&batch_a);
    b.Next(&batch_b);
    c.Next(&batch_c);
    ASSERT_EQ(batch_a.labels, batch_b.labels);
    ASSERT_TRUE(batch_a.pixels == batch_b.pixels);
  }
  EXPECT_FALSE(batch_a.pixels == batch_c.pixels);
  EXPECT_THAT(BatchStream::Create(&mnist_->train, 54001, 0),
              parsity::testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FashionMnistTest, HasBalancedClassesAndTheKnownStatistics) {
  ASSERT_OK_AND_ASSIGN(const Dataset fashion, LoadDataset("fashion_mnist", ""));
  EXPECT_EQ(fashion.train.size(), 54000);
  EXPECT_EQ(fashion.validation.size(), 6000);
  EXPECT_EQ(fashion.test.size(), 10000);
  EXPECT_EQ(fashion.train.shape, (ImageShape{28, 28, 1}));
  EXPECT_THAT(LabelHistogram({&fashion.train, &fashion.validation}), Each(6000));
  EXPECT_THAT(LabelHistogram({&fashion.test}), Each(1000));
  // experiments/PROTOCOL.md: about 0.2860 / 0.3530 over all 60,000 training images.
  ASSERT_THAT(fashion.mean, ElementsAre(::testing::FloatNear(0.2860f, 0.002f)));
  ASSERT_THAT(fashion.stddev, ElementsAre(::testing::FloatNear(0.3530f, 0.002f)));
  double mean;
  double stddev;
  Moments(fashion.train.pixels.data(), fashion.train.pixels.size(), &mean, &stddev);
  EXPECT_NEAR(mean, 0.0, 1e-4);
  EXPECT_NEAR(stddev, 1.0, 1e-4);
}

}  // namespace
}  // namespace parsity::data
