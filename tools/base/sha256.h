// SHA-256 (FIPS 180-4), for integrity digests of stored files (experiments/study_runner/result_store.h): a strong hash,
// so that an edited or truncated file does not match its recorded digest by accident or by a hand edit. Not for secrets
// (no keyed MAC). Self-contained: no dependency beyond the standard library.
//
//   Sha256 hasher;
//   hasher.Update(header);
//   hasher.Update(body);
//   const std::string hex = hasher.HexDigest();   // 64 lowercase hex digits
//   const std::string same = Sha256Hex(absl::StrCat(header, body));
#ifndef PARSITY_TOOLS_BASE_SHA256_H_
#define PARSITY_TOOLS_BASE_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace parsity {

// Incremental SHA-256: Update any number of times, then Digest or HexDigest once (finalizing; further calls to
// Update after that are a programming error and PARSITY_CHECK-fail).
class Sha256 {
 public:
  Sha256();

  void Update(absl::string_view data);
  // The 32-byte digest of everything passed to Update.
  std::array<uint8_t, 32> Digest();
  // The digest as 64 lowercase hexadecimal digits.
  std::string HexDigest();

 private:
  void Compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;       // Bytes in buffer_.
  uint64_t total_bytes_ = 0;  // Bytes passed to Update.
  bool finished_ = false;
};

// SHA-256 of `data` as 64 lowercase hexadecimal digits.
std::string Sha256Hex(absl::string_view data);

}  // namespace parsity

#endif  // PARSITY_TOOLS_BASE_SHA256_H_
