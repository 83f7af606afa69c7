#include "training/data/cifar_reader.h"

#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/data/test_files.h"

namespace parsity::data {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using test_files::CifarBytes;
using test_files::GzipBytes;
using test_files::GzipOfZeros;
using test_files::PeakResidentBytes;
using test_files::TestDirectory;
using test_files::WriteTestFile;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A CHW image whose value at (channel, y, x) is (channel * 80 + y * 2 + x) mod 256, plus `shift`.
std::vector<uint8_t> PlanarImage(int shift) {
  std::vector<uint8_t> planes(kCifarImageBytes);
  for (int channel = 0; channel < 3; ++channel) {
    for (int y = 0; y < 32; ++y) {
      for (int x = 0; x < 32; ++x) planes[channel * 1024 + y * 32 + x] = (channel * 80 + y * 2 + x + shift) % 256;
    }
  }
  return planes;
}

TEST(ParseCifarRecordsTest, ConvertsPlanesToHwc) {
  CifarImages images;
  ASSERT_THAT(ParseCifarRecords(CifarBytes({3, 9}, {PlanarImage(0), PlanarImage(5)}), "two", &images), IsOk());
  EXPECT_EQ(images.count, 2);
  EXPECT_THAT(images.labels, ElementsAre(3, 9));
  ASSERT_EQ(images.pixels.size(), 2u * 3072);
  for (int image = 0; image < 2; ++image) {
    for (int y = 0; y < 32; ++y) {
      for (int x = 0; x < 32; ++x) {
        for (int channel = 0; channel < 3; ++channel) {
          ASSERT_EQ(images.pixels[image * 3072 + (y * 32 + x) * 3 + channel],
                    (channel * 80 + y * 2 + x + 5 * image) % 256)
              << image << " " << y << " " << x << " " << channel;
        }
      }
    }
  }
}

TEST(ParseCifarRecordsTest, RejectsSizesThatAreNotWholeRecords) {
  const std::string bytes = CifarBytes({1, 2}, {PlanarImage(0), PlanarImage(1)});
  CifarImages images;
  EXPECT_THAT(ParseCifarRecords(bytes.substr(0, 3073 + 100), "cut", &images),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("'cut' has 3173 bytes, not a positive multiple of the 3073-byte record")));
  EXPECT_THAT(ParseCifarRecords("", "empty", &images), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("0 bytes")));
  EXPECT_EQ(images.count, 0);
  EXPECT_TRUE(images.pixels.empty());
}

TEST(ParseCifarRecordsTest, RejectsLabelsOutsideTheTenClasses) {
  CifarImages images;
  EXPECT_THAT(ParseCifarRecords(CifarBytes({1, 10}, {PlanarImage(0), PlanarImage(1)}), "labels", &images),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'labels': record 1 has label 10")));
  EXPECT_EQ(images.count, 0);
  EXPECT_TRUE(images.labels.empty());
}

TEST(ReadCifarFilesTest, ConcatenatesFilesInOrder) {
  const std::string directory = TestDirectory("cifar_reader_test");
  WriteTestFile(directory + "/a.bin", CifarBytes({1, 2}, {PlanarImage(0), PlanarImage(1)}));
  WriteTestFile(directory + "/b.bin", CifarBytes({7}, {PlanarImage(2)}));
  ASSERT_OK_AND_ASSIGN(const CifarImages images, ReadCifarFiles({directory + "/b.bin", directory + "/a.bin"}));
  EXPECT_EQ(images.count, 3);
  EXPECT_THAT(images.labels, ElementsAre(7, 1, 2));
  // Pixel (0, 0), channel 0 of each image is its shift.
  EXPECT_EQ(images.pixels[0 * 3072], 2);
  EXPECT_EQ(images.pixels[1 * 3072], 0);
  EXPECT_EQ(images.pixels[2 * 3072], 1);
}

TEST(ReadCifarFilesTest, ReportsBadFilesByPath) {
  const std::string directory = TestDirectory("cifar_reader_test_errors");
  EXPECT_THAT(ReadCifarFiles({directory + "/data_batch_1.bin"}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(directory + "/data_batch_1.bin")));
  WriteTestFile(directory + "/short.bin", CifarBytes({1}, {PlanarImage(0)}).substr(0, 3000));
  EXPECT_THAT(ReadCifarFiles({directory + "/short.bin"}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(directory + "/short.bin")));
}

TEST(ReadCifarFilesTest, ReadsGzippedFiles) {
  const std::string directory = TestDirectory("cifar_reader_test_gzip");
  WriteTestFile(directory + "/a.bin.gz", GzipBytes(CifarBytes({4, 5}, {PlanarImage(0), PlanarImage(1)})));
  ASSERT_OK_AND_ASSIGN(const CifarImages images, ReadCifarFiles({directory + "/a.bin.gz"}));
  EXPECT_THAT(images.labels, ElementsAre(4, 5));
}

TEST(ReadCifarFilesTest, StopsAtTheRecordLimit) {
  // Zeros are valid records (label 0, black images): 2 GiB of them in 2 MB is read up to the limit only.
  const std::string directory = TestDirectory("cifar_reader_test_bomb");
  const std::string path = directory + "/data_batch_1.bin";
  WriteTestFile(path, GzipOfZeros(uint64_t{2} << 30));
  EXPECT_THAT(ReadCifarFiles({path}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("CIFAR-10 file '" + path +
                                 "' holds more than 60000 records (184380000 bytes), the "
                                 "most the reader accepts from one file; stopped decompressing at 184380001 bytes")));
  EXPECT_LT(PeakResidentBytes(), int64_t{1} << 30);
  // Exactly the limit is accepted.
  const std::string full = GzipOfZeros(kMaxCifarRecordsPerFile * kCifarRecordBytes);
  std::unique_ptr<MaybeGzippedReader> reader = MaybeGzippedReader::FromBytes(full, "full");
  CifarImages images;
  ASSERT_THAT(ReadCifarRecords(reader.get(), &images), IsOk());
  EXPECT_EQ(images.count, kMaxCifarRecordsPerFile);
}

TEST(ReadCifarFilesTest, SaysWhatAPathIsWhenItIsNoFile) {
  const std::string directory = TestDirectory("cifar_reader_test_paths");
  EXPECT_THAT(ReadCifarFiles({directory}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("'" + directory + "' is a directory")));
  const std::string loop = directory + "/loop";
  ASSERT_EQ(symlink("loop", loop.c_str()), 0);
  EXPECT_THAT(ReadCifarFiles({loop}),
              StatusIs(absl::StatusCode::kFailedPrecondition, AllOf(HasSubstr(loop), HasSubstr("symlink loop"))));
}

}  // namespace
}  // namespace parsity::data
