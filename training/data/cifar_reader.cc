#include "training/data/cifar_reader.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "tools/base/status_macros.h"

namespace parsity::data {

absl::Status ParseCifarRecords(absl::string_view contents, absl::string_view source, CifarImages* images) {
  const int64_t size = static_cast<int64_t>(contents.size());
  if (size == 0 || size % kCifarRecordBytes != 0) {
    return absl::DataLossError(absl::StrCat("CIFAR-10 file '", source, "' has ", size,
                                            " bytes, not a positive multiple of the ", kCifarRecordBytes,
                                            "-byte record (truncated, or not the binary version)"));
  }
  const int64_t count = size / kCifarRecordBytes;
  const auto* bytes = reinterpret_cast<const uint8_t*>(contents.data());
  for (int64_t record = 0; record < count; ++record) {
    const uint8_t label = bytes[record * kCifarRecordBytes];
    if (label >= kCifarClasses) {
      return absl::InvalidArgumentError(absl::StrCat("CIFAR-10 file '", source, "': record ", record, " has label ",
                                                     static_cast<int>(label), ", outside [0, ", kCifarClasses, ")"));
    }
  }
  constexpr int64_t kPlaneBytes = kCifarImageSide * kCifarImageSide;
  const int64_t first = images->count;
  images->pixels.resize((first + count) * kCifarImageBytes);
  images->labels.resize(first + count);
  for (int64_t record = 0; record < count; ++record) {
    const uint8_t* source_record = bytes + record * kCifarRecordBytes;
    images->labels[first + record] = source_record[0];
    const uint8_t* planes = source_record + 1;
    uint8_t* destination = images->pixels.data() + (first + record) * kCifarImageBytes;
    for (int64_t pixel = 0; pixel < kPlaneBytes; ++pixel) {
      for (int channel = 0; channel < kCifarChannels; ++channel) {
        destination[pixel * kCifarChannels + channel] = planes[channel * kPlaneBytes + pixel];
      }
    }
  }
  images->count = first + count;
  return absl::OkStatus();
}

absl::Status ReadCifarRecords(MaybeGzippedReader* reader, CifarImages* images) {
  constexpr uint64_t kMaxBytes = kMaxCifarRecordsPerFile * kCifarRecordBytes;
  ASSIGN_OR_RETURN(const absl::string_view contents, reader->ReadUpTo(kMaxBytes + 1));
  if (contents.size() > kMaxBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("CIFAR-10 file '", reader->source(), "' holds more than ", kMaxCifarRecordsPerFile, " records (",
                     kMaxBytes, " bytes), the most the reader accepts from one file; stopped ",
                     reader->gzipped() ? "decompressing" : "reading", " at ", contents.size(), " bytes"));
  }
  return ParseCifarRecords(contents, reader->source(), images);
}

absl::StatusOr<CifarImages> ReadCifarFiles(const std::vector<std::string>& paths) {
  CifarImages images;
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(const std::unique_ptr<MaybeGzippedReader> reader, MaybeGzippedReader::Open(path));
    RETURN_IF_ERROR(ReadCifarRecords(reader.get(), &images));
  }
  return images;
}

}  // namespace parsity::data
