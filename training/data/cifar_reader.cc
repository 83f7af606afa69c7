#include "training/data/cifar_reader.h"

#include "absl/strings/str_cat.h"
#include "tools/base/status_macros.h"
#include "training/data/gzip_file.h"

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

absl::StatusOr<CifarImages> ReadCifarFiles(const std::vector<std::string>& paths) {
  CifarImages images;
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(const std::string contents, ReadMaybeGzippedFile(path));
    RETURN_IF_ERROR(ParseCifarRecords(contents, path, &images));
  }
  return images;
}

}  // namespace parsity::data
