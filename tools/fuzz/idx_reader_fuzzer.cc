// Fuzz target: the IDX readers (training/data/idx_reader.h) on raw and gzipped bytes. Besides not crashing, the
// bounded read (header first, then exactly what it announces) must agree with parsing the fully decompressed
// contents, accept only contents whose size matches the header, and name the source in every error.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tools/fuzz/fuzz_check.h"
#include "training/data/gzip_file.h"
#include "training/data/idx_reader.h"

namespace {

using parsity::data::Gunzip;
using parsity::data::IdxImages;
using parsity::data::IsGzipped;
using parsity::data::MaybeGzippedReader;

constexpr char kSource[] = "fuzz-input.idx";

// The whole contents as MaybeGzippedReader sees them, or nullopt for a gzip stream that does not decompress.
std::optional<std::string> Contents(absl::string_view bytes) {
  if (!IsGzipped(bytes)) return std::string(bytes);
  absl::StatusOr<std::string> contents = Gunzip(bytes, kSource);
  if (!contents.ok()) return std::nullopt;
  return *contents;
}

template <typename T>
std::string Describe(const absl::StatusOr<T>& result) {
  return result.ok() ? std::string("OK") : result.status().ToString();
}

template <typename T>
void CheckAgreement(const absl::StatusOr<T>& read, const absl::StatusOr<T>& parsed) {
  FUZZ_CHECK(read.ok() == parsed.ok(), absl::StrCat("bounded read: ", Describe(read), "; parse: ", Describe(parsed)));
  if (!read.ok()) {
    FUZZ_CHECK(absl::StrContains(read.status().message(), kSource), read.status().ToString());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::optional<std::string> contents = Contents(bytes);
  const absl::Status undecodable = absl::DataLossError("gzip stream does not decompress");

  std::unique_ptr<MaybeGzippedReader> reader = MaybeGzippedReader::FromBytes(bytes, kSource);
  const absl::StatusOr<IdxImages> images = parsity::data::ReadIdxImages(reader.get());
  const absl::StatusOr<IdxImages> parsed_images =
      contents.has_value() ? parsity::data::ParseIdxImages(*contents, kSource) : undecodable;
  parsity::fuzz::Log(absl::StrCat("images: ", Describe(images)));
  CheckAgreement(images, parsed_images);
  if (images.ok()) {
    FUZZ_CHECK(images->rows > 0 && images->columns > 0 && images->count >= 0, "bad dimensions");
    FUZZ_CHECK(images->pixels.size() == static_cast<uint64_t>(images->count) * images->rows * images->columns,
               absl::StrCat(images->pixels.size(), " pixels for ", images->count, " images"));
    FUZZ_CHECK(images->pixels == parsed_images->pixels && images->count == parsed_images->count,
               "bounded read and parse disagree on the pixels");
    FUZZ_CHECK(contents->size() == 16 + images->pixels.size(), "accepted contents of another size");
  }

  // In chunks of 1 to 64 bytes (chosen by the input's last byte), as from a file.
  reader = MaybeGzippedReader::FromBytesInChunks(bytes, kSource, size == 0 ? 1 : 1 + data[size - 1] % 64);
  const absl::StatusOr<std::vector<uint8_t>> labels = parsity::data::ReadIdxLabels(reader.get());
  const absl::StatusOr<std::vector<uint8_t>> parsed_labels =
      contents.has_value() ? parsity::data::ParseIdxLabels(*contents, kSource) : undecodable;
  parsity::fuzz::Log(absl::StrCat("labels: ", Describe(labels)));
  CheckAgreement(labels, parsed_labels);
  if (labels.ok()) {
    FUZZ_CHECK(*labels == *parsed_labels, "bounded read and parse disagree on the labels");
    FUZZ_CHECK(contents->size() == 8 + labels->size(), "accepted contents of another size");
  }
  return 0;
}
