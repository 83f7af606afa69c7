// Reader for the binary version of CIFAR-10 (https://www.cs.toronto.edu/~kriz/cifar.html, cifar-10-binary.tar.gz).
//
// Each file (data_batch_1.bin ... data_batch_5.bin: 10,000 training images each; test_batch.bin: 10,000 test
// images) is a sequence of 3073-byte records: one label byte in [0, 10), then the 32x32 image as three 1024-byte
// planes (red, green, blue), each row-major. The reader converts the planes to HWC order (r, g, b per pixel).
//
//   ASSIGN_OR_RETURN(CifarImages train, ReadCifarFiles({dir + "/data_batch_1.bin", dir + "/data_batch_2.bin"}));
//   // train.count == 20000; train.pixels[(i * 32 * 32 + y * 32 + x) * 3 + c] is channel c of pixel (y, x) of i.
#ifndef PARSITY_TRAINING_DATA_CIFAR_READER_H_
#define PARSITY_TRAINING_DATA_CIFAR_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "training/data/gzip_file.h"

namespace parsity::data {

inline constexpr int kCifarImageSide = 32;
inline constexpr int kCifarChannels = 3;
inline constexpr int kCifarClasses = 10;
inline constexpr int64_t kCifarImageBytes = kCifarImageSide * kCifarImageSide * kCifarChannels;  // 3072
inline constexpr int64_t kCifarRecordBytes = 1 + kCifarImageBytes;                               // 3073
// The most records ReadCifarFiles accepts from one file: all 60,000 images of CIFAR-10 (184 MB), six times what the
// real files hold. A longer file (a gzip bomb, a foreign file) fails once this many records are read.
inline constexpr int64_t kMaxCifarRecordsPerFile = 60000;

// CIFAR-10 images as stored (0..255), converted to HWC: `count` images of 32x32x3 bytes.
struct CifarImages {
  int64_t count = 0;
  std::vector<uint8_t> pixels;  // count * 3072 bytes, NHWC.
  std::vector<uint8_t> labels;  // count labels in [0, 10).
};

// Parses the contents of one CIFAR-10 binary file and appends its records to `images`; `source` names it in errors.
// Errors: DataLoss when the size is 0 or not a multiple of 3073 (a truncated or foreign file); InvalidArgument for a
// label >= 10 (naming the record). On error `images` is unchanged.
absl::Status ParseCifarRecords(absl::string_view contents, absl::string_view source, CifarImages* images);

// Reads CIFAR-10 binary files (raw, or gzipped: detected from the content) and concatenates their records in the
// order given. Errors: MaybeGzippedReader's (gzip_file.h: NotFound naming a missing file, "is a directory",
// "symlink loop", the errno-derived status of an unreadable one, DataLoss for corrupt gzip), InvalidArgument
// "holds more than kMaxCifarRecordsPerFile records" (after reading one byte more than that, no further), and
// ParseCifarRecords' errors.
absl::StatusOr<CifarImages> ReadCifarFiles(const std::vector<std::string>& paths);

// Reads one CIFAR-10 file from `reader` (not read from yet; for tests and fuzzers) and appends its records to
// `images`. Errors as ReadCifarFiles', naming reader->source(); on error `images` is unchanged.
absl::Status ReadCifarRecords(MaybeGzippedReader* reader, CifarImages* images);

}  // namespace parsity::data

#endif  // PARSITY_TRAINING_DATA_CIFAR_READER_H_
