#include "training/data/gzip_file.h"

#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/data/test_files.h"

namespace parsity::data {
namespace {

using ::parsity::testing::StatusIs;
using test_files::GzipBytes;
using test_files::TestDirectory;
using test_files::WriteTestFile;
using ::testing::HasSubstr;

// `size` bytes that compress poorly (random) or well (repeating), fixed by the seed.
std::string SampleBytes(size_t size, bool compressible) {
  std::mt19937_64 engine(42);
  std::string bytes(size, '\0');
  for (size_t i = 0; i < size; ++i) bytes[i] = compressible ? static_cast<char>(i % 13) : static_cast<char>(engine());
  return bytes;
}

TEST(IsGzippedTest, LooksAtTheMagicBytes) {
  EXPECT_TRUE(IsGzipped(GzipBytes("abc")));
  EXPECT_TRUE(IsGzipped("\x1f\x8b"));
  EXPECT_FALSE(IsGzipped("\x1f"));
  EXPECT_FALSE(IsGzipped(std::string("\x00\x00\x08\x03", 4)));
  EXPECT_FALSE(IsGzipped(""));
}

TEST(GunzipTest, RoundTrips) {
  for (const std::string& data :
       {std::string(), std::string("hello"), SampleBytes(1 << 20, false), SampleBytes(3 << 20, true)}) {
    ASSERT_OK_AND_ASSIGN(const std::string decompressed, Gunzip(GzipBytes(data), "sample"));
    EXPECT_EQ(decompressed, data);
  }
}

TEST(GunzipTest, DecompressesConcatenatedMembers) {
  // The trailer of the last member records only its own small size: the output buffer must grow.
  const std::string first = SampleBytes(5 << 20, true);
  const std::string second = "tail";
  ASSERT_OK_AND_ASSIGN(const std::string decompressed, Gunzip(GzipBytes(first) + GzipBytes(second), "members"));
  EXPECT_EQ(decompressed, first + second);
}

TEST(GunzipTest, RejectsATruncatedStream) {
  const std::string compressed = GzipBytes(SampleBytes(100000, false));
  for (size_t length : {size_t{2}, size_t{10}, compressed.size() / 2, compressed.size() - 1}) {
    EXPECT_THAT(Gunzip(compressed.substr(0, length), "short.gz"),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("'short.gz' is a truncated gzip stream")))
        << length;
  }
}

TEST(GunzipTest, RejectsCorruptData) {
  std::string compressed = GzipBytes(SampleBytes(100000, true));
  // A flipped byte in the deflate data breaks either the deflate stream or the CRC-32 in the trailer.
  compressed[compressed.size() / 2] ^= 0x55;
  EXPECT_THAT(Gunzip(compressed, "corrupt.gz"), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("corrupt.gz")));
  std::string bad_length = GzipBytes("some text");
  bad_length[bad_length.size() - 1] ^= 1;  // ISIZE
  EXPECT_THAT(Gunzip(bad_length, "length.gz"), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("length.gz")));
  std::string bad_method = GzipBytes("some text");
  bad_method[2] = 7;  // Compression method must be 8 (deflate).
  EXPECT_THAT(Gunzip(bad_method, "method.gz"), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("method.gz")));
}

TEST(GunzipTest, RejectsTrailingGarbage) {
  EXPECT_THAT(Gunzip(GzipBytes("text") + "junk", "trailing.gz"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("4 trailing bytes")));
}

TEST(GunzipTest, RejectsDataWithoutTheMagic) {
  EXPECT_THAT(Gunzip("plain", "plain.txt"), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not gzip")));
}

TEST(ReadMaybeGzippedFileTest, ReadsRawAndGzippedFilesByContent) {
  const std::string directory = TestDirectory("gzip_file_test");
  const std::string data = SampleBytes(70000, false);
  WriteTestFile(directory + "/raw", data);
  WriteTestFile(directory + "/gzipped_without_suffix", GzipBytes(data));
  WriteTestFile(directory + "/raw_with_suffix.gz", data);
  for (const char* name : {"/raw", "/gzipped_without_suffix", "/raw_with_suffix.gz"}) {
    ASSERT_OK_AND_ASSIGN(const std::string contents, ReadMaybeGzippedFile(directory + name));
    EXPECT_EQ(contents, data) << name;
  }
}

TEST(ReadMaybeGzippedFileTest, ReportsMissingAndTruncatedFilesByPath) {
  const std::string directory = TestDirectory("gzip_file_test_errors");
  EXPECT_THAT(ReadMaybeGzippedFile(directory + "/missing.gz"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(directory + "/missing.gz")));
  const std::string compressed = GzipBytes(SampleBytes(10000, false));
  WriteTestFile(directory + "/short.gz", compressed.substr(0, compressed.size() - 100));
  EXPECT_THAT(ReadMaybeGzippedFile(directory + "/short.gz"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(directory + "/short.gz")));
}

}  // namespace
}  // namespace parsity::data
