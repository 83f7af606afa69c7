#include "experiments/study_runner/tiny_mnist.h"

#include <cstdint>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_macros.h"

namespace parsity::experiments {
namespace {

constexpr int kSide = 28;

void AppendBigEndian(uint32_t value, std::string* bytes) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes->push_back(static_cast<char>((value >> shift) & 0xff));
}

absl::Status WritePart(const std::string& directory, const std::string& prefix, int count, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_int_distribution<int> label_of(0, 9), background(0, 170), bright(100, 255), jitter(-2, 2);
  std::string images, labels;
  AppendBigEndian(0x00000803, &images);
  AppendBigEndian(count, &images);
  AppendBigEndian(kSide, &images);
  AppendBigEndian(kSide, &images);
  AppendBigEndian(0x00000801, &labels);
  AppendBigEndian(count, &labels);
  std::vector<uint8_t> pixels(kSide * kSide);
  for (int i = 0; i < count; ++i) {
    const int label = label_of(engine);
    for (uint8_t& pixel : pixels) pixel = static_cast<uint8_t>(background(engine));
    // Ten patch places: two rows of five, moved by up to one pixel.
    const int top = 3 + (label / 5) * 13 + jitter(engine), left = 1 + (label % 5) * 5 + jitter(engine);
    for (int row = top; row < top + 7; ++row) {
      for (int column = left; column < left + 5; ++column) {
        if (row >= 0 && row < kSide && column >= 0 && column < kSide) {
          pixels[row * kSide + column] = static_cast<uint8_t>(bright(engine));
        }
      }
    }
    images.append(pixels.begin(), pixels.end());
    labels.push_back(static_cast<char>(label));
  }
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(directory, "/", prefix, "-images-idx3-ubyte"), images));
  return WriteFileAtomically(absl::StrCat(directory, "/", prefix, "-labels-idx1-ubyte"), labels);
}

}  // namespace

absl::Status WriteTinyMnist(const std::string& directory, int train_count, int test_count) {
  RETURN_IF_ERROR(WritePart(directory, "train", train_count, /*seed=*/1));
  return WritePart(directory, "t10k", test_count, /*seed=*/2);
}

}  // namespace parsity::experiments
