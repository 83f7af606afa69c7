// Readers for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), raw or gzipped.
//
// An IDX file is a 4-byte magic number 00 00 08 NN (08: unsigned bytes; NN: number of dimensions), NN big-endian
// uint32 dimensions, then the values in row-major order. Images are 0x00000803 (count, rows, columns), labels are
// 0x00000801 (count). Gzip compression is detected from the content (magic 1f 8b), whatever the file is called.
// The readers decompress the header first, then exactly the data it announces (plus one byte to tell a longer file),
// so a small file that inflates to gigabytes fails after reading no more than its header promised.
//
//   ASSIGN_OR_RETURN(IdxImages images, ReadIdxImages("/usr/local/share/datasets/mnist/train-images-idx3-ubyte"));
//   ASSIGN_OR_RETURN(std::vector<uint8_t> labels, ReadIdxLabels(".../train-labels-idx1-ubyte"));
//   // images.count == labels.size() == 60000; images.rows == images.columns == 28.
#ifndef PARSITY_TRAINING_DATA_IDX_READER_H_
#define PARSITY_TRAINING_DATA_IDX_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "training/data/gzip_file.h"

namespace parsity::data {

inline constexpr uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;
// The most data (after the header) the readers accept from one file: 4 GiB, 90 times MNIST's training images.
inline constexpr uint64_t kMaxIdxDataBytes = uint64_t{1} << 32;

// Grayscale images as stored: `count` images of rows x columns bytes (0 = background, 255 = ink), row-major.
struct IdxImages {
  int64_t count = 0;
  int rows = 0;
  int columns = 0;
  std::vector<uint8_t> pixels;  // count * rows * columns bytes.
};

// Parses the contents of an uncompressed IDX image file; `source` names it in errors. Errors: InvalidArgument when
// the magic number is not 0x00000803 or rows/columns is 0 or above 65536; DataLoss when the file is shorter than its
// 16-byte header or than the data its dimensions announce, or has bytes beyond them. Messages name `source` and the
// field.
absl::StatusOr<IdxImages> ParseIdxImages(absl::string_view contents, absl::string_view source);

// Parses the contents of an uncompressed IDX label file (magic 0x00000801, one byte per label). Errors as for
// ParseIdxImages. Label values are not range-checked here: the data set knows its number of classes.
absl::StatusOr<std::vector<uint8_t>> ParseIdxLabels(absl::string_view contents, absl::string_view source);

// Reads an IDX image file at `path`, raw or gzipped: its header, then the data it announces. Errors: those of
// MaybeGzippedReader (gzip_file.h: NotFound, "is a directory", "symlink loop", DataLoss for corrupt or truncated
// gzip), those of ParseIdxImages, InvalidArgument when the header announces more than kMaxIdxDataBytes, and DataLoss
// "holds more than the N bytes its header announces" as soon as the contents run past what the header announces.
// Every message names `path`.
absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path);

// Reads an IDX label file at `path`, raw or gzipped. Errors as for ReadIdxImages.
absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path);

// As above, from an opened reader that has not been read from yet (for tests and fuzzers: MaybeGzippedReader's
// FromBytes). Messages name reader->source().
absl::StatusOr<IdxImages> ReadIdxImages(MaybeGzippedReader* reader);
absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(MaybeGzippedReader* reader);

}  // namespace parsity::data

#endif  // PARSITY_TRAINING_DATA_IDX_READER_H_
