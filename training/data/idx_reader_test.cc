#include "training/data/idx_reader.h"

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

using ::parsity::testing::StatusIs;
using test_files::GzipBytes;
using test_files::GzipOfZeros;
using test_files::IdxBytes;
using test_files::PeakResidentBytes;
using test_files::TestDirectory;
using test_files::WriteTestFile;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Two 2x3 images: image i's pixel (r, c) is 100 * i + 10 * r + c.
std::string TwoImages() { return IdxBytes(0x00000803, {2, 2, 3}, {0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112}); }

TEST(ParseIdxImagesTest, ReadsTheDimensionsAndPixels) {
  ASSERT_OK_AND_ASSIGN(const IdxImages images, ParseIdxImages(TwoImages(), "two"));
  EXPECT_EQ(images.count, 2);
  EXPECT_EQ(images.rows, 2);
  EXPECT_EQ(images.columns, 3);
  EXPECT_THAT(images.pixels, ElementsAre(0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112));
}

TEST(ParseIdxImagesTest, ReadsBigEndianDimensions) {
  // 256 images of 1x1: the count's second-lowest byte is set.
  const std::string bytes = IdxBytes(0x00000803, {256, 1, 1}, std::vector<uint8_t>(256, 7));
  ASSERT_OK_AND_ASSIGN(const IdxImages images, ParseIdxImages(bytes, "many"));
  EXPECT_EQ(images.count, 256);
  EXPECT_EQ(bytes[6], 1);
}

TEST(ParseIdxImagesTest, RejectsAWrongMagicNumber) {
  EXPECT_THAT(ParseIdxImages(IdxBytes(0x00000801, {2}, {1, 2}), "labels-as-images"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'labels-as-images' is not an IDX image file: magic number 0x00000801, "
                                 "expected 0x00000803")));
  EXPECT_THAT(ParseIdxImages("GIF89a", "picture.gif"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("magic number 0x47494638")));
}

TEST(ParseIdxImagesTest, RejectsTruncatedFiles) {
  const std::string bytes = TwoImages();
  EXPECT_THAT(ParseIdxImages(bytes.substr(0, 3), "tiny"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("'tiny' is truncated: 3 bytes, no magic number")));
  EXPECT_THAT(ParseIdxImages(bytes.substr(0, 12), "header"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("shorter than its 16-byte header")));
  EXPECT_THAT(ParseIdxImages(bytes.substr(0, bytes.size() - 1), "data"),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("'data' is truncated: its header announces 2 images x 2 rows x 3 columns = 12 data "
                                 "bytes, it holds 11")));
}

TEST(ParseIdxImagesTest, RejectsBytesBeyondTheData) {
  EXPECT_THAT(ParseIdxImages(TwoImages() + "xy", "long"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("'long' has 2 bytes beyond the 12")));
}

TEST(ParseIdxImagesTest, RejectsEmptyImages) {
  EXPECT_THAT(ParseIdxImages(IdxBytes(0x00000803, {5, 0, 28}, {}), "flat"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("implausible image dimensions")));
}

TEST(ParseIdxImagesTest, SurvivesHugeDimensionsWithoutAllocating) {
  // 2^32 - 1 images of 65536 x 65536 would overflow a 32-bit product; the file is just short.
  EXPECT_THAT(ParseIdxImages(IdxBytes(0x00000803, {0xffffffff, 65536, 65536}, {1, 2, 3}), "huge"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")));
}

TEST(ParseIdxLabelsTest, ReadsLabels) {
  ASSERT_OK_AND_ASSIGN(const std::vector<uint8_t> labels, ParseIdxLabels(IdxBytes(0x00000801, {3}, {7, 0, 9}), "l"));
  EXPECT_THAT(labels, ElementsAre(7, 0, 9));
}

TEST(ParseIdxLabelsTest, RejectsBadFiles) {
  EXPECT_THAT(ParseIdxLabels(TwoImages(), "images-as-labels"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an IDX label file")));
  EXPECT_THAT(ParseIdxLabels(IdxBytes(0x00000801, {3}, {7, 0}), "short"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("'short' is truncated")));
  EXPECT_THAT(ParseIdxLabels(IdxBytes(0x00000801, {3}, {7, 0, 1, 2}), "long"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("1 bytes beyond")));
}

TEST(ReadIdxTest, ReadsRawAndGzippedFiles) {
  const std::string directory = TestDirectory("idx_reader_test");
  WriteTestFile(directory + "/images", TwoImages());
  WriteTestFile(directory + "/images.gz", GzipBytes(TwoImages()));
  WriteTestFile(directory + "/labels.gz", GzipBytes(IdxBytes(0x00000801, {2}, {4, 5})));
  for (const char* name : {"/images", "/images.gz"}) {
    ASSERT_OK_AND_ASSIGN(const IdxImages images, ReadIdxImages(directory + name));
    EXPECT_EQ(images.count, 2);
    EXPECT_EQ(images.pixels[11], 112);
  }
  ASSERT_OK_AND_ASSIGN(const std::vector<uint8_t> labels, ReadIdxLabels(directory + "/labels.gz"));
  EXPECT_THAT(labels, ElementsAre(4, 5));
}

TEST(ReadIdxTest, ReportsBadFilesByPath) {
  const std::string directory = TestDirectory("idx_reader_test_errors");
  EXPECT_THAT(ReadIdxImages(directory + "/missing"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(directory + "/missing")));
  const std::string compressed = GzipBytes(TwoImages());
  WriteTestFile(directory + "/short.gz", compressed.substr(0, compressed.size() - 5));
  EXPECT_THAT(ReadIdxImages(directory + "/short.gz"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(directory + "/short.gz")));
  std::string corrupt = GzipBytes(std::string(5000, 'x'));
  corrupt[12] ^= 0xff;
  WriteTestFile(directory + "/corrupt.gz", corrupt);
  EXPECT_THAT(ReadIdxLabels(directory + "/corrupt.gz"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(directory + "/corrupt.gz")));
  // A gzipped file whose content is truncated IDX data.
  WriteTestFile(directory + "/truncated_content.gz", GzipBytes(TwoImages().substr(0, 20)));
  EXPECT_THAT(ReadIdxImages(directory + "/truncated_content.gz"),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("IDX file '" + directory + "/truncated_content.gz' is truncated")));
}

TEST(ReadIdxTest, StopsReadingAtTheSizeTheHeaderAnnounces) {
  const std::string directory = TestDirectory("idx_reader_test_bomb");
  // A valid header announcing 2 images of 2x3 (12 data bytes, 28 bytes in all), then 2 GiB of zeros: 2 MB on disk.
  const std::string header = IdxBytes(0x00000803, {2, 2, 3}, {});
  const std::string bomb_path = directory + "/train-images-idx3-ubyte.gz";
  WriteTestFile(bomb_path, GzipBytes(header) + GzipOfZeros(uint64_t{2} << 30));
  EXPECT_THAT(ReadIdxImages(bomb_path),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr("IDX file '" + bomb_path +
                                       "' holds more than the 28 bytes its header "
                                       "announces (16-byte header + 2 images x 2 rows x 3 columns = 12 data bytes)"),
                             HasSubstr("stopped decompressing at 29 bytes"))));
  // The same for labels, and for a gzip bomb with nothing but zeros (no IDX magic number).
  const std::string labels_path = directory + "/labels.gz";
  WriteTestFile(labels_path, GzipBytes(IdxBytes(0x00000801, {5}, {})) + GzipOfZeros(uint64_t{2} << 30));
  EXPECT_THAT(ReadIdxLabels(labels_path),
              StatusIs(absl::StatusCode::kDataLoss,
                       AllOf(HasSubstr(labels_path), HasSubstr("more than the 13 bytes its header announces"))));
  const std::string zeros_path = directory + "/zeros.gz";
  WriteTestFile(zeros_path, GzipOfZeros(uint64_t{2} << 30));
  EXPECT_THAT(ReadIdxImages(zeros_path), StatusIs(absl::StatusCode::kInvalidArgument,
                                                  AllOf(HasSubstr(zeros_path), HasSubstr("magic number 0x00000000"))));
  // The old reader inflated each of them whole (2 GiB) before looking at the header.
  EXPECT_LT(PeakResidentBytes(), int64_t{1} << 30);
  // Raw files stop alike.
  const std::string raw_path = directory + "/long";
  WriteTestFile(raw_path, header + std::string(1 << 20, '\7'));
  EXPECT_THAT(ReadIdxImages(raw_path), StatusIs(absl::StatusCode::kDataLoss,
                                                AllOf(HasSubstr(raw_path), HasSubstr("stopped reading at 29 bytes"))));
}

TEST(ReadIdxTest, RejectsHeadersAnnouncingMoreThanTheLimit) {
  // 2^32 - 1 images of 65536 x 65536: the reader refuses before reading any data.
  const std::string bytes = IdxBytes(0x00000803, {0xffffffff, 65536, 65536}, {1, 2, 3});
  std::unique_ptr<MaybeGzippedReader> reader = MaybeGzippedReader::FromBytes(bytes, "huge");
  EXPECT_THAT(ReadIdxImages(reader.get()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'huge' announces 4294967295 images x 65536 rows x 65536 columns = "
                                 "18446744069414584320 data bytes, more than the reader's limit of 4294967296")));
  // 2^32 - 1 labels are within the limit: the file is just short.
  const std::string labels = IdxBytes(0x00000801, {0xffffffff}, {1});
  reader = MaybeGzippedReader::FromBytes(labels, "labels");
  EXPECT_THAT(ReadIdxLabels(reader.get()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("announces 4294967295 labels = 4294967295 data bytes, "
                                                              "it holds 1")));
}

TEST(ReadIdxTest, ReadsFromMemory) {
  const std::string compressed = GzipBytes(TwoImages());
  std::unique_ptr<MaybeGzippedReader> reader = MaybeGzippedReader::FromBytes(compressed, "memory");
  ASSERT_OK_AND_ASSIGN(const IdxImages images, ReadIdxImages(reader.get()));
  EXPECT_EQ(images.count, 2);
  EXPECT_EQ(images.pixels[11], 112);
}

TEST(ReadIdxTest, SaysWhatAPathIsWhenItIsNoFile) {
  const std::string directory = TestDirectory("idx_reader_test_paths");
  EXPECT_THAT(ReadIdxImages(directory),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("'" + directory + "' is a directory")));
  const std::string loop = directory + "/loop";
  ASSERT_EQ(symlink("loop", loop.c_str()), 0);
  EXPECT_THAT(ReadIdxLabels(loop),
              StatusIs(absl::StatusCode::kFailedPrecondition, AllOf(HasSubstr(loop), HasSubstr("symlink loop"))));
}

}  // namespace
}  // namespace parsity::data
