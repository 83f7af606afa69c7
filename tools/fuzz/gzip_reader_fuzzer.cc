// Fuzz target: the gzip reader (training/data/gzip_file.h). Gunzip must not crash; MaybeGzippedReader, read in steps,
// must return exactly the prefixes of what Gunzip returns, never claim an end (a short result) for a stream Gunzip
// rejects, never read past its input; and the size limit must cut exactly at the decompressed size.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tools/fuzz/fuzz_check.h"
#include "training/data/gzip_file.h"

namespace {

using parsity::data::Gunzip;
using parsity::data::IsGzipped;
using parsity::data::kNoSizeLimit;
using parsity::data::MaybeGzippedReader;

constexpr char kSource[] = "fuzz-input.gz";

// Reads `bytes` through a MaybeGzippedReader in the steps `sizes` and checks each result against `whole` (Gunzip's
// result; the bytes themselves when they are not gzipped). `chunk_size` > 0: the reader takes the bytes that many at
// a time, as from a file.
void CheckSteps(absl::string_view bytes, const absl::StatusOr<std::string>& whole, const uint64_t* sizes, int count,
                size_t chunk_size) {
  std::unique_ptr<MaybeGzippedReader> reader = chunk_size == 0
                                                   ? MaybeGzippedReader::FromBytes(bytes, kSource)
                                                   : MaybeGzippedReader::FromBytesInChunks(bytes, kSource, chunk_size);
  uint64_t largest = 0;
  for (int i = 0; i < count; ++i) {
    const uint64_t size = sizes[i];
    absl::StatusOr<absl::string_view> prefix = reader->ReadUpTo(size);
    FUZZ_CHECK(reader->stored_bytes_read() <= bytes.size(), "read past the input");
    if (!prefix.ok()) {
      // An error is found in what was decompressed, so the whole stream cannot be fine.
      FUZZ_CHECK(!whole.ok(),
                 absl::StrCat("ReadUpTo(", size, ") failed: ", prefix.status().ToString(), " where Gunzip succeeded"));
      FUZZ_CHECK(absl::StrContains(prefix.status().message(), kSource), prefix.status().ToString());
      return;
    }
    FUZZ_CHECK(prefix->size() <= size, "more than asked");
    largest = std::max(largest, size);
    if (prefix->size() < size) {
      // A short result claims the contents end: a gzip stream has then been checked to its end.
      FUZZ_CHECK(whole.ok(), absl::StrCat("ReadUpTo(", size, ") ended at ", prefix->size(), " bytes but Gunzip says ",
                                          whole.status().ToString()));
      FUZZ_CHECK(*prefix == *whole, "short read is not the whole contents");
    } else if (whole.ok()) {
      FUZZ_CHECK(*prefix == absl::string_view(*whole).substr(0, size), "prefix differs from Gunzip's output");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  const bool gzipped = IsGzipped(bytes);
  absl::StatusOr<std::string> whole = Gunzip(bytes, kSource);
  parsity::fuzz::Log(whole.ok() ? absl::StrCat(whole->size(), " bytes") : whole.status().ToString());
  if (!gzipped) {
    FUZZ_CHECK(absl::IsDataLoss(whole.status()), "Gunzip accepted data without the gzip magic");
    whole = std::string(bytes);  // What the reader returns for raw data.
  } else if (!whole.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(whole.status()) || absl::IsResourceExhausted(whole.status()),
               whole.status().ToString());
    FUZZ_CHECK(absl::StrContains(whole.status().message(), kSource), whole.status().ToString());
  }

  const uint64_t known = whole.ok() ? whole->size() : 0;
  const uint64_t steps[] = {0, 1, 2, 16, 17, 255, known, known + 1, 4096, kNoSizeLimit};
  constexpr int kSteps = sizeof(steps) / sizeof(steps[0]);
  const uint64_t at_once[] = {kNoSizeLimit};
  // Whole in memory, and in chunks of 1 to 64 bytes (chosen by the input's last byte) as from a file.
  const size_t chunk_size = size == 0 ? 1 : 1 + data[size - 1] % 64;
  for (size_t chunk : {size_t{0}, chunk_size}) {
    CheckSteps(bytes, whole, steps, kSteps, chunk);
    CheckSteps(bytes, whole, at_once, 1, chunk);
  }

  if (gzipped && whole.ok()) {
    // The limit cuts exactly at the decompressed size.
    absl::StatusOr<std::string> exact = Gunzip(bytes, kSource, whole->size());
    FUZZ_CHECK(exact.ok() && *exact == *whole, exact.status().ToString());
    if (!whole->empty()) {
      absl::StatusOr<std::string> over = Gunzip(bytes, kSource, whole->size() - 1);
      FUZZ_CHECK(absl::IsInvalidArgument(over.status()), over.status().ToString());
    }
  }
  return 0;
}
