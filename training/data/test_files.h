// Test helpers (testonly): build IDX, CIFAR-10 and gzip files in memory and write them under $TEST_TMPDIR, so that
// the readers' and loaders' tests need no real data and can produce every kind of broken file.
//
//   const std::string dir = TestDirectory("small_mnist");
//   WriteIdxDataset(dir, {.train_count = 50, .test_count = 7}, /*gzipped=*/false);
//   ASSERT_OK_AND_ASSIGN(Dataset dataset, LoadDataset("mnist", dir));
#ifndef PARSITY_TRAINING_DATA_TEST_FILES_H_
#define PARSITY_TRAINING_DATA_TEST_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace parsity::data::test_files {

// A fresh (emptied) directory $TEST_TMPDIR/`name`.
std::string TestDirectory(absl::string_view name);

// Writes `contents` to `path`, creating parents; aborts on failure.
void WriteTestFile(const std::string& path, absl::string_view contents);

// An IDX file: big-endian `magic`, big-endian `dimensions`, then `data`. No consistency check, so that tests can
// build broken files.
std::string IdxBytes(uint32_t magic, const std::vector<uint32_t>& dimensions, const std::vector<uint8_t>& data);

// gzip (RFC 1952) compression of `data` at zlib `level` (0: stored blocks, 1: fastest, 9: smallest).
std::string GzipBytes(absl::string_view data, int level = 1);

// A "gzip bomb": gzip data (concatenated members of at most 64 MiB each) that decompresses to `size` zero bytes,
// about a thousand times smaller than that (2 GiB: 2 MB).
std::string GzipOfZeros(uint64_t size);

// The peak resident set size of this process so far, in bytes (getrusage's ru_maxrss).
int64_t PeakResidentBytes();

// CIFAR-10 binary records: for record i, labels[i] then planes[i] (3072 bytes in CHW order).
std::string CifarBytes(const std::vector<uint8_t>& labels, const std::vector<std::vector<uint8_t>>& planes);

// The deterministic synthetic pixel value of example `index`, position `offset` of a test data set.
uint8_t SyntheticPixel(int64_t index, int64_t offset);
// The deterministic synthetic label of example `index`.
uint8_t SyntheticLabel(int64_t index);

struct IdxDatasetOptions {
  int train_count = 50;
  int test_count = 7;
  int rows = 4;
  int columns = 3;
};

// Writes the four MNIST-named IDX files (train-images-idx3-ubyte, ...; with ".gz" appended and gzipped when
// `gzipped`) into `directory`, with SyntheticPixel / SyntheticLabel contents (test examples are numbered after the
// training ones).
void WriteIdxDataset(const std::string& directory, const IdxDatasetOptions& options, bool gzipped);

// Writes data_batch_1.bin ... data_batch_5.bin with `per_file` records each and test_batch.bin with `test_count`
// records into `directory`, with SyntheticPixel (CHW offsets) / SyntheticLabel contents numbered across files.
void WriteCifarDataset(const std::string& directory, int per_file, int test_count);

}  // namespace parsity::data::test_files

#endif  // PARSITY_TRAINING_DATA_TEST_FILES_H_
