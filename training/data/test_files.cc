#include "training/data/test_files.h"

#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "tools/base/atomic_file.h"
#include "tools/base/check.h"
#include "training/data/cifar_reader.h"

namespace parsity::data::test_files {
namespace {

void AppendBigEndian32(uint32_t value, std::string* bytes) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes->push_back(static_cast<char>((value >> shift) & 0xff));
}

}  // namespace

std::string TestDirectory(absl::string_view name) {
  const char* root = std::getenv("TEST_TMPDIR");
  PARSITY_CHECK(root != nullptr);
  const std::string directory = absl::StrCat(root, "/", name);
  std::filesystem::remove_all(directory);
  PARSITY_CHECK_OK(CreateDirectories(directory));
  return directory;
}

void WriteTestFile(const std::string& path, absl::string_view contents) {
  PARSITY_CHECK_OK(WriteFileAtomically(path, contents));
}

std::string IdxBytes(uint32_t magic, const std::vector<uint32_t>& dimensions, const std::vector<uint8_t>& data) {
  std::string bytes;
  AppendBigEndian32(magic, &bytes);
  for (uint32_t dimension : dimensions) AppendBigEndian32(dimension, &bytes);
  bytes.append(data.begin(), data.end());
  return bytes;
}

std::string GzipBytes(absl::string_view data, int level) {
  z_stream stream{};
  // 15 + 16: a 32 KiB window with a gzip wrapper.
  PARSITY_CHECK(deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string output(deflateBound(&stream, data.size()) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(output.data());
  stream.avail_out = static_cast<uInt>(output.size());
  PARSITY_CHECK(deflate(&stream, Z_FINISH) == Z_STREAM_END);
  output.resize(stream.total_out);
  deflateEnd(&stream);
  return output;
}

std::string GzipOfZeros(uint64_t size) {
  constexpr uint64_t kMember = uint64_t{64} << 20;
  std::string bytes;
  std::string full_member;  // Compressed once, repeated.
  for (uint64_t done = 0; done < size; done += kMember) {
    const uint64_t length = std::min(kMember, size - done);
    if (length == kMember) {
      if (full_member.empty()) full_member = GzipBytes(std::string(kMember, '\0'), Z_BEST_COMPRESSION);
      bytes += full_member;
    } else {
      bytes += GzipBytes(std::string(length, '\0'), Z_BEST_COMPRESSION);
    }
  }
  return bytes;
}

int64_t PeakResidentBytes() {
  struct rusage usage;
  PARSITY_CHECK(getrusage(RUSAGE_SELF, &usage) == 0);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB.
}

std::string CifarBytes(const std::vector<uint8_t>& labels, const std::vector<std::vector<uint8_t>>& planes) {
  PARSITY_CHECK(labels.size() == planes.size());
  std::string bytes;
  for (size_t i = 0; i < labels.size(); ++i) {
    PARSITY_CHECK(static_cast<int64_t>(planes[i].size()) == kCifarImageBytes);
    bytes.push_back(static_cast<char>(labels[i]));
    bytes.append(planes[i].begin(), planes[i].end());
  }
  return bytes;
}

uint8_t SyntheticPixel(int64_t index, int64_t offset) {
  return static_cast<uint8_t>((index * 37 + offset * 11 + (offset * offset) % 7) % 256);
}

uint8_t SyntheticLabel(int64_t index) { return static_cast<uint8_t>((index * 7 + 3) % 10); }

void WriteIdxDataset(const std::string& directory, const IdxDatasetOptions& options, bool gzipped) {
  const int64_t image_size = static_cast<int64_t>(options.rows) * options.columns;
  auto write = [&](const char* base, int first, int count) {
    std::vector<uint8_t> pixels;
    std::vector<uint8_t> labels;
    for (int i = first; i < first + count; ++i) {
      for (int64_t offset = 0; offset < image_size; ++offset) pixels.push_back(SyntheticPixel(i, offset));
      labels.push_back(SyntheticLabel(i));
    }
    const std::string images = IdxBytes(
        0x00000803,
        {static_cast<uint32_t>(count), static_cast<uint32_t>(options.rows), static_cast<uint32_t>(options.columns)},
        pixels);
    const std::string label_bytes = IdxBytes(0x00000801, {static_cast<uint32_t>(count)}, labels);
    const std::string suffix = gzipped ? ".gz" : "";
    WriteTestFile(absl::StrCat(directory, "/", base, "-images-idx3-ubyte", suffix),
                  gzipped ? GzipBytes(images) : images);
    WriteTestFile(absl::StrCat(directory, "/", base, "-labels-idx1-ubyte", suffix),
                  gzipped ? GzipBytes(label_bytes) : label_bytes);
  };
  write("train", 0, options.train_count);
  write("t10k", options.train_count, options.test_count);
}

void WriteCifarDataset(const std::string& directory, int per_file, int test_count) {
  auto records = [](int first, int count) {
    std::vector<uint8_t> labels;
    std::vector<std::vector<uint8_t>> planes;
    for (int i = first; i < first + count; ++i) {
      labels.push_back(SyntheticLabel(i));
      std::vector<uint8_t> image(kCifarImageBytes);
      for (int64_t offset = 0; offset < kCifarImageBytes; ++offset) image[offset] = SyntheticPixel(i, offset);
      planes.push_back(std::move(image));
    }
    return CifarBytes(labels, planes);
  };
  for (int batch = 1; batch <= 5; ++batch) {
    WriteTestFile(absl::StrCat(directory, "/data_batch_", batch, ".bin"), records((batch - 1) * per_file, per_file));
  }
  WriteTestFile(absl::StrCat(directory, "/test_batch.bin"), records(5 * per_file, test_count));
}

}  // namespace parsity::data::test_files
