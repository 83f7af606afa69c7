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

// The data bytes an image file's dimensions announce. Errors: InvalidArgument for implausible image dimensions.
absl::StatusOr<uint64_t> ImageDataBytes(const std::vector<uint64_t>& dimensions, absl::string_view source,
                                        std::string* dimensions_text) {
  const uint64_t count = dimensions[0];
  const uint64_t rows = dimensions[1];
  const uint64_t columns = dimensions[2];
  *dimensions_text = absl::StrCat(count, " images x ", rows, " rows x ", columns, " columns");
  if (rows == 0 || columns == 0 || rows > (1u << 16) || columns > (1u << 16)) {
    return absl::InvalidArgumentError(
        absl::StrCat("IDX image file '", source, "' has implausible image dimensions: ", *dimensions_text));
  }
  // Each factor is below 2^32 and rows * columns <= 2^32, so the product cannot overflow 64 bits.
  return count * rows * columns;
}

// Reads an IDX file of `kind` from `reader` without ever holding more than its header announces: the header first
// (header_bytes, no more), then exactly the data it announces plus one byte, to tell a longer file. Returns the
// contents (header and data) for ParseIdxImages / ParseIdxLabels, which check them again.
absl::StatusOr<absl::string_view> ReadIdxContents(MaybeGzippedReader* reader, uint32_t magic, absl::string_view kind) {
  const std::string& source = reader->source();
  const uint64_t header_bytes = 4 + 4 * (magic & 0xff);
  ASSIGN_OR_RETURN(const absl::string_view header, reader->ReadUpTo(header_bytes));
  ASSIGN_OR_RETURN(const std::vector<uint64_t> dimensions, ParseHeader(header, source, magic, kind));
  uint64_t data_bytes;
  std::string dimensions_text;
  if (magic == kIdxImagesMagic) {
    ASSIGN_OR_RETURN(data_bytes, ImageDataBytes(dimensions, source, &dimensions_text));
  } else {
    data_bytes = dimensions[0];
    dimensions_text = absl::StrCat(data_bytes, " labels");
  }
  if (data_bytes > kMaxIdxDataBytes) {
    return absl::InvalidArgumentError(absl::StrCat("IDX file '", source, "' announces ", dimensions_text, " = ",
                                                   data_bytes, " data bytes, more than the reader's limit of ",
                                                   kMaxIdxDataBytes));
  }
  const uint64_t announced = header_bytes + data_bytes;
  ASSIGN_OR_RETURN(const absl::string_view contents, reader->ReadUpTo(announced + 1));
  if (contents.size() > announced) {
    return absl::DataLossError(
        absl::StrCat("IDX file '", source, "' holds more than the ", announced, " bytes its header announces (",
                     header_bytes, "-byte header + ", dimensions_text, " = ", data_bytes, " data bytes); stopped ",
                     reader->gzipped() ? "decompressing" : "reading", " at ", contents.size(), " bytes"));
  }
  return contents;
}

}  // namespace

absl::StatusOr<IdxImages> ParseIdxImages(absl::string_view contents, absl::string_view source) {
  ASSIGN_OR_RETURN(const std::vector<uint64_t> dimensions, ParseHeader(contents, source, kIdxImagesMagic, "image"));
  std::string dimensions_text;
  ASSIGN_OR_RETURN(const uint64_t data_bytes, ImageDataBytes(dimensions, source, &dimensions_text));
  RETURN_IF_ERROR(CheckDataLength(contents, source, 16, data_bytes, dimensions_text));
  IdxImages images;
  images.count = static_cast<int64_t>(dimensions[0]);
  images.rows = static_cast<int>(dimensions[1]);
  images.columns = static_cast<int>(dimensions[2]);
  images.pixels.assign(contents.begin() + 16, contents.end());
  return images;
}

absl::StatusOr<std::vector<uint8_t>> ParseIdxLabels(absl::string_view contents, absl::string_view source) {
  ASSIGN_OR_RETURN(const std::vector<uint64_t> dimensions, ParseHeader(contents, source, kIdxLabelsMagic, "label"));
  const uint64_t count = dimensions[0];
  RETURN_IF_ERROR(CheckDataLength(contents, source, 8, count, absl::StrCat(count, " labels")));
  return std::vector<uint8_t>(contents.begin() + 8, contents.end());
}

absl::StatusOr<IdxImages> ReadIdxImages(MaybeGzippedReader* reader) {
  ASSIGN_OR_RETURN(const absl::string_view contents, ReadIdxContents(reader, kIdxImagesMagic, "image"));
  return ParseIdxImages(contents, reader->source());
}

absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(MaybeGzippedReader* reader) {
  ASSIGN_OR_RETURN(const absl::string_view contents, ReadIdxContents(reader, kIdxLabelsMagic, "label"));
  return ParseIdxLabels(contents, reader->source());
}

absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path) {
  ASSIGN_OR_RETURN(const std::unique_ptr<MaybeGzippedReader> reader, MaybeGzippedReader::Open(path));
  return ReadIdxImages(reader.get());
}

absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path) {
  ASSIGN_OR_RETURN(const std::unique_ptr<MaybeGzippedReader> reader, MaybeGzippedReader::Open(path));
  return ReadIdxLabels(reader.get());
}

}  // namespace parsity::data
