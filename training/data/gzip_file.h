// Reads files that may be gzip-compressed, deciding by content (the gzip magic bytes 1f 8b), not by file name, and
// decompressing only as far as the caller allows: a 9 MB file that inflates to gigabytes (a "gzip bomb", or just a
// corrupt data file) costs no more memory or time than the size the caller expects.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<MaybeGzippedReader> reader, MaybeGzippedReader::Open(path));
//   ASSIGN_OR_RETURN(absl::string_view header, reader->ReadUpTo(16));   // Inflates 16 bytes, no more.
//   const uint64_t size = SizeAnnouncedBy(header);                      // The caller's format knows.
//   ASSIGN_OR_RETURN(absl::string_view contents, reader->ReadUpTo(size + 1));
//   if (contents.size() > size) return TooLongError(...);               // Inflated size + 1 bytes at most.
//
//   ASSIGN_OR_RETURN(std::string text, ReadMaybeGzippedFile(path, /*max_size=*/1 << 20));  // The simple case.
#ifndef PARSITY_TRAINING_DATA_GZIP_FILE_H_
#define PARSITY_TRAINING_DATA_GZIP_FILE_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace parsity::data {

// For ReadUpTo and Gunzip: read to the end, whatever the size. Only for data whose size is bounded otherwise.
inline constexpr uint64_t kNoSizeLimit = std::numeric_limits<uint64_t>::max();

// True when `bytes` starts with the gzip magic number 1f 8b.
bool IsGzipped(absl::string_view bytes);

// The contents of a file or of a buffer in memory, raw or gzipped (RFC 1952; detected from the first two bytes),
// read on demand: ReadUpTo(n) decompresses until n bytes are out or the contents end, and never more than n bytes
// in all. Concatenated gzip members are decompressed one after the other, as gunzip does.
//
// Errors of every method name the source (the path): NotFound for a missing file (saying when the path is a symlink
// to a missing file); FailedPrecondition "is a directory, not a file" and "symlink loop" for paths that cannot be
// data files; the errno-derived status for other failures of open() and read(); DataLoss for a corrupt gzip stream
// (bad header, bad deflate data, CRC or length mismatch), a truncated one, or bytes after the last member that are
// not another gzip member. Corruption is found where it is decompressed: a reader that stops early has not checked
// the rest (the trailer's CRC is checked only once the contents are read to their end).
//
// Not thread-safe; moves are not supported (zlib's state points at its stream), hence the unique_ptr.
class MaybeGzippedReader {
 public:
  // Opens the file at `path`. Errors: as above.
  static absl::StatusOr<std::unique_ptr<MaybeGzippedReader>> Open(const std::string& path);

  // Reads from `bytes`, which must outlive the reader; `source` names them in errors. Tests and fuzzers use this.
  static std::unique_ptr<MaybeGzippedReader> FromBytes(absl::string_view bytes, absl::string_view source);

  // As FromBytes, but takes the bytes `chunk_size` (>= 1) at a time, as it reads a file (256 KiB at a time): for
  // tests and fuzzers of what happens at chunk boundaries.
  static std::unique_ptr<MaybeGzippedReader> FromBytesInChunks(absl::string_view bytes, absl::string_view source,
                                                               size_t chunk_size);

  MaybeGzippedReader(const MaybeGzippedReader&) = delete;
  MaybeGzippedReader& operator=(const MaybeGzippedReader&) = delete;
  ~MaybeGzippedReader();

  // The path (or the `source` of FromBytes).
  const std::string& source() const { return source_; }

  // True when the data starts with the gzip magic (known once the first ReadUpTo has returned; false before).
  bool gzipped() const { return mode_ == Mode::kGzip; }

  // Reads (decompresses) until the contents read so far hold `size` bytes or the contents end, and returns the first
  // min(size, total size) bytes of the contents. At most max(size, the largest size asked before) bytes are ever
  // decompressed and held: ask for one byte more than a format allows to learn whether the data is too long. A
  // result shorter than `size` means the contents end there, and then a gzip stream has been checked to its end
  // (CRC, length, trailing bytes). The view stays valid until the next call. Errors: as above.
  absl::StatusOr<absl::string_view> ReadUpTo(uint64_t size);

  // Compressed (as stored) bytes consumed so far: for messages.
  uint64_t stored_bytes_read() const { return stored_bytes_read_; }

 private:
  enum class Mode { kUnknown, kRaw, kGzip };

  MaybeGzippedReader() = default;
  absl::Status DetectMode();
  // Reads up to `size` stored bytes (at most one chunk) into `destination`: from the file, or from unread_. Returns
  // 0 at the end.
  absl::StatusOr<size_t> ReadStored(char* destination, size_t size);
  // Makes input_ hold at least `minimum` bytes unless the input ends first; keeps the unconsumed bytes.
  absl::Status FillInput(size_t minimum);
  absl::Status ReadRaw(uint64_t size);
  absl::Status ReadGzip(uint64_t size);
  // Grows contents_ (not beyond `size`) so that there is room to write; returns the room.
  size_t MakeRoom(uint64_t size);

  std::string source_;
  int descriptor_ = -1;             // -1 for FromBytes and FromBytesInChunks.
  absl::string_view unread_;        // FromBytesInChunks: the bytes not read yet.
  size_t chunk_size_ = 0;           // Open and FromBytesInChunks: the most one read returns.
  uint64_t stored_size_ = 0;        // File size (regular files) or the buffer's size; 0 when unknown.
  bool input_ended_ = false;        // No input beyond input_.
  absl::string_view input_;         // Unconsumed input: into the FromBytes buffer or input_buffer_.
  std::string input_buffer_;        // Chunks read from the file.
  uint64_t stored_bytes_read_ = 0;  // Input consumed (raw: moved to contents_; gzip: fed to zlib).
  uint64_t size_hint_ = 0;          // The last gzip member's trailer (ISIZE), bounded; sizes the first buffer.
  Mode mode_ = Mode::kUnknown;
  bool contents_ended_ = false;  // Every byte of the contents is in contents_ (and a gzip stream was checked).
  std::string contents_;         // contents_[0, produced_) are the contents read so far.
  uint64_t produced_ = 0;
  struct ZStream;
  std::unique_ptr<ZStream> zlib_;  // Set in gzip mode.
};

// Decompresses a gzip stream held in memory, failing as soon as the output would exceed `max_size` bytes; `source`
// names the data in errors. Errors: DataLoss when `compressed` is not gzip data or for MaybeGzippedReader's
// DataLoss cases; InvalidArgument "'source' decompresses to more than max_size bytes" (max_size + 1 bytes at most
// are decompressed).
absl::StatusOr<std::string> Gunzip(absl::string_view compressed, absl::string_view source,
                                   uint64_t max_size = kNoSizeLimit);

// Reads the whole file at `path`, decompressed when it is gzipped, failing as soon as the contents exceed
// `max_size` bytes. Errors: MaybeGzippedReader's, and InvalidArgument "'path' holds more than max_size bytes"
// (after reading or decompressing max_size + 1 bytes at most).
absl::StatusOr<std::string> ReadMaybeGzippedFile(const std::string& path, uint64_t max_size);

}  // namespace parsity::data

#endif  // PARSITY_TRAINING_DATA_GZIP_FILE_H_
