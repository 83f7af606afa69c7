#include "training/data/gzip_file.h"

#include <unistd.h>

#include <memory>
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
using test_files::GzipOfZeros;
using test_files::PeakResidentBytes;
using test_files::TestDirectory;
using test_files::WriteTestFile;
using ::testing::AllOf;
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
    ASSERT_OK_AND_ASSIGN(const std::string contents, ReadMaybeGzippedFile(directory + name, kNoSizeLimit));
    EXPECT_EQ(contents, data) << name;
  }
}

TEST(ReadMaybeGzippedFileTest, ReportsMissingAndTruncatedFilesByPath) {
  const std::string directory = TestDirectory("gzip_file_test_errors");
  EXPECT_THAT(ReadMaybeGzippedFile(directory + "/missing.gz", kNoSizeLimit),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(directory + "/missing.gz")));
  const std::string compressed = GzipBytes(SampleBytes(10000, false));
  WriteTestFile(directory + "/short.gz", compressed.substr(0, compressed.size() - 100));
  EXPECT_THAT(ReadMaybeGzippedFile(directory + "/short.gz", kNoSizeLimit),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(directory + "/short.gz")));
}

TEST(GunzipTest, StopsAtTheSizeLimit) {
  const std::string data = SampleBytes(100000, true);
  const std::string compressed = GzipBytes(data);
  ASSERT_OK_AND_ASSIGN(const std::string exact, Gunzip(compressed, "exact.gz", data.size()));
  EXPECT_EQ(exact, data);
  EXPECT_THAT(Gunzip(compressed, "over.gz", data.size() - 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'over.gz' decompresses to more than 99999 bytes, the most allowed (stopped after "
                                 "100000 bytes")));
}

// A reader over `bytes`, from memory or from a file written under `directory`.
std::unique_ptr<MaybeGzippedReader> ReaderOver(const std::string& bytes, bool from_file, const std::string& name) {
  if (!from_file) return MaybeGzippedReader::FromBytes(bytes, name);
  const std::string path = TestDirectory("gzip_reader_" + name) + "/" + name;
  WriteTestFile(path, bytes);
  absl::StatusOr<std::unique_ptr<MaybeGzippedReader>> reader = MaybeGzippedReader::Open(path);
  EXPECT_TRUE(reader.ok()) << reader.status();
  return reader.ok() ? std::move(*reader) : nullptr;
}

TEST(MaybeGzippedReaderTest, ReadsPrefixesOfRawAndGzippedData) {
  const std::string data = SampleBytes(3 << 20, false);
  for (bool from_file : {false, true}) {
    for (bool gzipped : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "from_file " << from_file << " gzipped " << gzipped);
      const std::string stored = gzipped ? GzipBytes(data) : data;
      std::unique_ptr<MaybeGzippedReader> reader = ReaderOver(stored, from_file, "prefixes");
      ASSERT_NE(reader, nullptr);
      ASSERT_OK_AND_ASSIGN(absl::string_view head, reader->ReadUpTo(16));
      EXPECT_EQ(head, data.substr(0, 16));
      EXPECT_EQ(reader->gzipped(), gzipped);
      // The input is read in chunks of 256 KiB, not whole.
      EXPECT_LE(reader->stored_bytes_read(), 1u << 18);
      ASSERT_OK_AND_ASSIGN(absl::string_view middle, reader->ReadUpTo(1 << 20));
      EXPECT_EQ(middle, data.substr(0, 1 << 20));
      ASSERT_OK_AND_ASSIGN(absl::string_view again, reader->ReadUpTo(10));
      EXPECT_EQ(again, data.substr(0, 10));
      ASSERT_OK_AND_ASSIGN(absl::string_view all, reader->ReadUpTo(kNoSizeLimit));
      EXPECT_EQ(all, data);
      EXPECT_EQ(reader->stored_bytes_read(), stored.size());
    }
  }
}

TEST(MaybeGzippedReaderTest, ReadsEmptyAndTinyData) {
  // A 1-byte file once made the reader move its input buffer under the byte it kept (found by gzip_reader_fuzzer;
  // AddressSanitizer sees it: `bazel test --config=fuzz`, tools/fuzz/README.md).
  for (const std::string& data : {std::string(), std::string("x"), std::string("\x1f")}) {
    for (bool from_file : {false, true}) {
      std::unique_ptr<MaybeGzippedReader> reader = ReaderOver(data, from_file, "tiny");
      ASSERT_NE(reader, nullptr);
      ASSERT_OK_AND_ASSIGN(absl::string_view all, reader->ReadUpTo(100));
      EXPECT_EQ(all, data);
      EXPECT_FALSE(reader->gzipped());
    }
  }
  const std::string empty_gzip = GzipBytes("");
  std::unique_ptr<MaybeGzippedReader> reader = MaybeGzippedReader::FromBytes(empty_gzip, "empty.gz");
  ASSERT_OK_AND_ASSIGN(absl::string_view all, reader->ReadUpTo(1));
  EXPECT_EQ(all, "");
  EXPECT_TRUE(reader->gzipped());
}

TEST(MaybeGzippedReaderTest, NeverDecompressesMoreThanAsked) {
  // 2 GiB of zeros in about 2 MB: the old reader inflated it whole (9 s, 2.1 GB) before any size check.
  const std::string bomb = GzipOfZeros(uint64_t{2} << 30);
  ASSERT_LT(bomb.size(), 4u << 20);
  std::unique_ptr<MaybeGzippedReader> reader = ReaderOver(bomb, /*from_file=*/true, "bomb.gz");
  ASSERT_NE(reader, nullptr);
  ASSERT_OK_AND_ASSIGN(absl::string_view contents, reader->ReadUpTo(1001));
  EXPECT_EQ(contents, std::string(1001, '\0'));
  EXPECT_LE(reader->stored_bytes_read(), 1u << 18);
  EXPECT_THAT(ReadMaybeGzippedFile(reader->source(), 1 << 20),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("'" + reader->source() + "' holds more than 1048576 bytes decompressed"),
                             HasSubstr("stopped after 1048577 bytes"))));
  // Nothing near the inflated size was ever held.
  EXPECT_LT(PeakResidentBytes(), int64_t{1} << 30);
}

TEST(MaybeGzippedReaderTest, FindsTheNextMemberAcrossAReadBoundary) {
  // A first member of exactly 2^18 - 1 stored bytes (the file is read 2^18 bytes at a time), so that the first
  // read ends one byte into the second member's magic number.
  constexpr size_t kChunk = size_t{1} << 18;
  std::string first_data;
  std::string first;
  size_t size = kChunk - 100;
  for (int attempt = 0; attempt < 10 && first.size() != kChunk - 1; ++attempt) {
    first_data = SampleBytes(size, false);
    first = GzipBytes(first_data, /*level=*/0);  // Stored blocks: one more input byte, one more stored byte.
    size += kChunk - 1 - first.size();           // Modulo 2^64: may go down.
  }
  ASSERT_EQ(first.size(), kChunk - 1);
  const std::string bytes = first + GzipBytes("second member");
  std::unique_ptr<MaybeGzippedReader> reader = ReaderOver(bytes, /*from_file=*/true, "members.gz");
  ASSERT_NE(reader, nullptr);
  ASSERT_OK_AND_ASSIGN(absl::string_view all, reader->ReadUpTo(kNoSizeLimit));
  EXPECT_EQ(all, first_data + "second member");
  // A lone byte 1f after the first member is trailing garbage, not a member.
  std::unique_ptr<MaybeGzippedReader> lone = ReaderOver(first + "\x1f", /*from_file=*/true, "lone.gz");
  ASSERT_NE(lone, nullptr);
  EXPECT_THAT(lone->ReadUpTo(kNoSizeLimit),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("1 trailing bytes after the gzip stream")));
}

TEST(MaybeGzippedReaderTest, ReadsInSmallChunksAsFromAFile) {
  // Every chunk size splits members, magic numbers and trailers somewhere.
  const std::string data = SampleBytes(5000, true);
  const std::string members = GzipBytes(data) + GzipBytes("") + GzipBytes("end");
  for (size_t chunk : {1, 2, 3, 5, 8, 13, 40, 100}) {
    for (bool gzipped : {true, false}) {
      std::unique_ptr<MaybeGzippedReader> reader =
          MaybeGzippedReader::FromBytesInChunks(gzipped ? members : data, "chunks", chunk);
      ASSERT_OK_AND_ASSIGN(absl::string_view head, reader->ReadUpTo(3));
      EXPECT_EQ(head, data.substr(0, 3));
      ASSERT_OK_AND_ASSIGN(absl::string_view all, reader->ReadUpTo(kNoSizeLimit));
      EXPECT_EQ(all, gzipped ? data + "end" : data) << chunk;
    }
    const std::string trailing_bytes = members + "\x1f";
    std::unique_ptr<MaybeGzippedReader> trailing =
        MaybeGzippedReader::FromBytesInChunks(trailing_bytes, "trailing", chunk);
    EXPECT_THAT(trailing->ReadUpTo(kNoSizeLimit), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("1 trailing bytes")))
        << chunk;
    const std::string truncated_bytes = members.substr(0, members.size() - 1);
    std::unique_ptr<MaybeGzippedReader> truncated =
        MaybeGzippedReader::FromBytesInChunks(truncated_bytes, "truncated", chunk);
    EXPECT_THAT(truncated->ReadUpTo(kNoSizeLimit), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("truncated")))
        << chunk;
  }
}

TEST(MaybeGzippedReaderTest, ChecksTheWholeStreamOnlyWhenReadToTheEnd) {
  std::string compressed = GzipBytes(SampleBytes(100000, false));
  compressed[compressed.size() - 6] ^= 1;  // CRC-32.
  std::unique_ptr<MaybeGzippedReader> reader = MaybeGzippedReader::FromBytes(compressed, "crc.gz");
  ASSERT_OK_AND_ASSIGN(absl::string_view head, reader->ReadUpTo(50000));
  EXPECT_EQ(head.size(), 50000u);
  EXPECT_THAT(reader->ReadUpTo(100001), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("'crc.gz' is corrupt")));
}

TEST(MaybeGzippedReaderTest, SaysWhatAPathIsWhenItIsNoFile) {
  const std::string directory = TestDirectory("gzip_reader_paths");
  EXPECT_THAT(
      MaybeGzippedReader::Open(directory),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("'" + directory + "' is a directory, not a file")));
  const std::string loop = directory + "/loop";
  ASSERT_EQ(symlink("loop", loop.c_str()), 0);
  EXPECT_THAT(MaybeGzippedReader::Open(loop),
              StatusIs(absl::StatusCode::kFailedPrecondition, AllOf(HasSubstr(loop), HasSubstr("symlink loop"))));
  const std::string dangling = directory + "/dangling";
  ASSERT_EQ(symlink("nowhere", dangling.c_str()), 0);
  EXPECT_THAT(MaybeGzippedReader::Open(dangling),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("'" + dangling + "': it is a symlink to 'nowhere', which does not exist")));
  EXPECT_THAT(ReadMaybeGzippedFile(directory, kNoSizeLimit),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is a directory")));
}

TEST(MaybeGzippedReaderTest, ReportsTrailingBytesOfAFile) {
  std::unique_ptr<MaybeGzippedReader> reader = ReaderOver(GzipBytes("text") + "junk", true, "trailing.gz");
  ASSERT_NE(reader, nullptr);
  EXPECT_THAT(reader->ReadUpTo(kNoSizeLimit), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("4 trailing bytes")));
}

}  // namespace
}  // namespace parsity::data
