#include "training/data/idx_reader.h"

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
using test_files::IdxBytes;
using test_files::TestDirectory;
using test_files::WriteTestFile;
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

}  // namespace
}  // namespace parsity::data
