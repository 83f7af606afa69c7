#include "training/data/idx_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/base/status_macros.h"
#include "training/data/gzip_file.h"

namespace parsity::data {
namespace {

uint32_t ReadBigEndian32(absl::string_view bytes, size_t offset) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data() + offset);
  return static_cast<uint32_t>(data[0]) << 24 | static_cast<uint32_t>(data[1]) << 16 |
         static_cast<uint32_t>(data[2]) << 8 | static_cast<uint32_t>(data[3]);
}

// Checks the magic number and the header's length, and returns the `num_dimensions` dimensions.
absl::StatusOr<std::vector<uint64_t>> ParseHeader(absl::string_view contents, absl::string_view source,
                                                  uint32_t expected_magic, absl::string_view kind) {
  const int num_dimensions = static_cast<int>(expected_magic & 0xff);
  const size_t header_bytes = 4 + 4 * num_dimensions;
  if (contents.size() < 4) {
    return absl::DataLossError(
        absl::StrCat("IDX file '", source, "' is truncated: ", contents.size(), " bytes, no magic number"));
  }
  const uint32_t magic = ReadBigEndian32(contents, 0);
  if (magic != expected_magic) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "'%s' is not an IDX %s file: magic number 0x%08x, expected 0x%08x", source, kind, magic, expected_magic));
  }
  if (contents.size() < header_bytes) {
    return absl::DataLossError(absl::StrCat("IDX file '", source, "' is truncated: ", contents.size(),
                                            " bytes, shorter than its ", header_bytes, "-byte header"));
  }
  std::vector<uint64_t> dimensions(num_dimensions);
  for (int d = 0; d < num_dimensions; ++d) dimensions[d] = ReadBigEndian32(contents, 4 + 4 * d);
  return dimensions;
}

// Checks that the data after the header is exactly `expected_bytes` long.
absl::Status CheckDataLength(absl::string_view contents, absl::string_view source, size_t header_bytes,
                             uint64_t expected_bytes, absl::string_view dimensions_text) {
  const uint64_t actual_bytes = contents.size() - header_bytes;
  if (actual_bytes < expected_bytes) {
    return absl::DataLossError(absl::StrCat("IDX file '", source, "' is truncated: its header announces ",
                                            dimensions_text, " = ", expected_bytes, " data bytes, it holds ",
                                            actual_bytes));
  }
  if (actual_bytes > expected_bytes) {
    return absl::DataLossError(absl::StrCat("IDX file '", source, "' has ", actual_bytes - expected_bytes,
                                            " bytes beyond the ", expected_bytes, " its header announces (",
                                            dimensions_text, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<IdxImages> ParseIdxImages(absl::string_view contents, absl::string_view source) {
  ASSIGN_OR_RETURN(const std::vector<uint64_t> dimensions, ParseHeader(contents, source, kIdxImagesMagic, "image"));
  const uint64_t count = dimensions[0];
  const uint64_t rows = dimensions[1];
  const uint64_t columns = dimensions[2];
  const std::string dimensions_text = absl::StrCat(count, " images x ", rows, " rows x ", columns, " columns");
  if (rows == 0 || columns == 0 || rows > (1u << 16) || columns > (1u << 16)) {
    return absl::InvalidArgumentError(
        absl::StrCat("IDX image file '", source, "' has implausible image dimensions: ", dimensions_text));
  }
  // Each factor is below 2^32 and rows * columns <= 2^32, so the product cannot overflow 64 bits.
  RETURN_IF_ERROR(CheckDataLength(contents, source, 16, count * rows * columns, dimensions_text));
  IdxImages images;
  images.count = static_cast<int64_t>(count);
  images.rows = static_cast<int>(rows);
  images.columns = static_cast<int>(columns);
  images.pixels.assign(contents.begin() + 16, contents.end());
  return images;
}

absl::StatusOr<std::vector<uint8_t>> ParseIdxLabels(absl::string_view contents, absl::string_view source) {
  ASSIGN_OR_RETURN(const std::vector<uint64_t> dimensions, ParseHeader(contents, source, kIdxLabelsMagic, "label"));
  const uint64_t count = dimensions[0];
  RETURN_IF_ERROR(CheckDataLength(contents, source, 8, count, absl::StrCat(count, " labels")));
  return std::vector<uint8_t>(contents.begin() + 8, contents.end());
}

absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string contents, ReadMaybeGzippedFile(path));
  return ParseIdxImages(contents, path);
}

absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string contents, ReadMaybeGzippedFile(path));
  return ParseIdxLabels(contents, path);
}

}  // namespace parsity::data
