// Fuzz target: the CIFAR-10 reader (training/data/cifar_reader.h) on raw and gzipped bytes. Besides not crashing:
// the bounded read agrees with parsing the decompressed contents, a failed parse leaves the images unchanged, and an
// accepted file is converted exactly (labels in [0, 10), every plane byte at its HWC place).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tools/fuzz/fuzz_check.h"
#include "training/data/cifar_reader.h"
#include "training/data/gzip_file.h"

namespace {

using parsity::data::CifarImages;
using parsity::data::kCifarImageBytes;
using parsity::data::kCifarRecordBytes;
using parsity::data::MaybeGzippedReader;

constexpr char kSource[] = "fuzz-input.bin";

// One record already read (label 3, pixel i = i mod 251), to check that a failed parse leaves it alone.
CifarImages OneRecord() {
  CifarImages images;
  images.count = 1;
  images.labels = {3};
  images.pixels.resize(kCifarImageBytes);
  for (int64_t i = 0; i < kCifarImageBytes; ++i) images.pixels[i] = static_cast<uint8_t>(i % 251);
  return images;
}

bool Same(const CifarImages& a, const CifarImages& b) {
  return a.count == b.count && a.labels == b.labels && a.pixels == b.pixels;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::optional<std::string> contents;
  if (!parsity::data::IsGzipped(bytes)) {
    contents = std::string(bytes);
  } else if (absl::StatusOr<std::string> decompressed = parsity::data::Gunzip(bytes, kSource); decompressed.ok()) {
    contents = *decompressed;
  }

  const CifarImages before = OneRecord();
  CifarImages parsed = before;
  const absl::Status parse_status = contents.has_value() ? parsity::data::ParseCifarRecords(*contents, kSource, &parsed)
                                                         : absl::DataLossError("gzip stream does not decompress");
  CifarImages read = before;
  std::unique_ptr<MaybeGzippedReader> reader = MaybeGzippedReader::FromBytes(bytes, kSource);
  const absl::Status read_status = parsity::data::ReadCifarRecords(reader.get(), &read);
  // The same in chunks of 1 to 64 bytes (chosen by the input's last byte), as from a file.
  CifarImages read_in_chunks = before;
  reader = MaybeGzippedReader::FromBytesInChunks(bytes, kSource, size == 0 ? 1 : 1 + data[size - 1] % 64);
  const absl::Status chunked_status = parsity::data::ReadCifarRecords(reader.get(), &read_in_chunks);
  FUZZ_CHECK(chunked_status.ok() == read_status.ok() && Same(read_in_chunks, read),
             absl::StrCat("in memory: ", read_status.ToString(), "; in chunks: ", chunked_status.ToString()));

  parsity::fuzz::Log(read_status.ToString());
  FUZZ_CHECK(read_status.ok() == parse_status.ok(),
             absl::StrCat("bounded read: ", read_status.ToString(), "; parse: ", parse_status.ToString()));
  if (!read_status.ok()) {
    FUZZ_CHECK(Same(read, before) && Same(parsed, before), "a failed read changed the images");
    FUZZ_CHECK(absl::StrContains(read_status.message(), kSource), read_status.ToString());
    return 0;
  }
  FUZZ_CHECK(Same(read, parsed), "bounded read and parse disagree");
  const int64_t records = static_cast<int64_t>(contents->size()) / kCifarRecordBytes;
  FUZZ_CHECK(records * kCifarRecordBytes == static_cast<int64_t>(contents->size()) && records > 0,
             absl::StrCat("accepted ", contents->size(), " bytes"));
  FUZZ_CHECK(read.count == 1 + records && static_cast<int64_t>(read.labels.size()) == read.count &&
                 static_cast<int64_t>(read.pixels.size()) == read.count * kCifarImageBytes,
             "sizes");
  for (int64_t r = 0; r < records; ++r) {
    const unsigned char* record = reinterpret_cast<const unsigned char*>(contents->data()) + r * kCifarRecordBytes;
    FUZZ_CHECK(read.labels[1 + r] == record[0] && record[0] < 10, absl::StrCat("label of record ", r));
    for (int64_t pixel = 0; pixel < 1024; ++pixel) {
      for (int channel = 0; channel < 3; ++channel) {
        FUZZ_CHECK(read.pixels[(1 + r) * kCifarImageBytes + pixel * 3 + channel] == record[1 + channel * 1024 + pixel],
                   absl::StrCat("record ", r, " pixel ", pixel, " channel ", channel));
      }
    }
  }
  FUZZ_CHECK(Same(OneRecord(), CifarImages{1, std::vector<uint8_t>(read.pixels.begin(), read.pixels.begin() + 3072),
                                           std::vector<uint8_t>{read.labels[0]}}),
             "the images read before were changed");
  return 0;
}
