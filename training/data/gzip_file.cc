#include "training/data/gzip_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tools/base/check.h"
#include "tools/base/status_macros.h"

namespace parsity::data {
namespace {

// Deflate cannot compress better than about 1032:1, so a trailer claiming more is corrupt; the bound keeps a
// corrupt size field from causing a huge first allocation.
constexpr uint64_t kMaxDeflateRatio = 1032;
// Bytes read from a file per read() call.
constexpr size_t kInputChunk = size_t{1} << 18;
// Unconsumed input bytes that FillInput keeps at most (it is asked for at most 2: a gzip magic number).
constexpr size_t kMaxKeptInput = 1;
// The smallest output buffer.
constexpr uint64_t kMinOutputChunk = uint64_t{1} << 16;
constexpr uint64_t kMaxZlibChunk = 0xffffffffu;  // uInt's range.

uint64_t LittleEndian32(const unsigned char* bytes) {
  return static_cast<uint64_t>(bytes[0]) | static_cast<uint64_t>(bytes[1]) << 8 |
         static_cast<uint64_t>(bytes[2]) << 16 | static_cast<uint64_t>(bytes[3]) << 24;
}

// The uncompressed size (modulo 2^32) that the last member's trailer of `stored_size` stored bytes records, bounded
// by what deflate can produce from them: only a hint, to size the first output buffer.
uint64_t BoundedSizeHint(const unsigned char* tail, uint64_t stored_size) {
  return std::min(LittleEndian32(tail), kMaxDeflateRatio * stored_size + 1024);
}

// The status of a failed open() of `path`: says what the path is when it cannot be a data file.
absl::Status OpenError(int error_number, const std::string& path) {
  if (error_number == ELOOP) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open '", path, "': symlink loop (too many levels of symbolic links)"));
  }
  if (error_number == ENOENT) {
    struct stat link;
    if (lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
      char target[4096];
      const ssize_t length = readlink(path.c_str(), target, sizeof(target) - 1);
      const std::string target_text = length >= 0 ? std::string(target, length) : "?";
      return absl::NotFoundError(
          absl::StrCat("no such file '", path, "': it is a symlink to '", target_text, "', which does not exist"));
    }
    return absl::NotFoundError(absl::StrCat("no such file '", path, "'"));
  }
  if (error_number == EISDIR) {
    return absl::FailedPreconditionError(absl::StrCat("'", path, "' is a directory, not a file"));
  }
  return absl::ErrnoToStatus(error_number, absl::StrCat("cannot open '", path, "'"));
}

}  // namespace

// zlib's stream, which must not move once initialized.
struct MaybeGzippedReader::ZStream {
  z_stream stream{};
  bool initialized = false;
  ~ZStream() {
    if (initialized) inflateEnd(&stream);
  }
};

bool IsGzipped(absl::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

absl::StatusOr<std::unique_ptr<MaybeGzippedReader>> MaybeGzippedReader::Open(const std::string& path) {
  std::unique_ptr<MaybeGzippedReader> reader(new MaybeGzippedReader());
  reader->source_ = path;
  reader->chunk_size_ = kInputChunk;
  reader->descriptor_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (reader->descriptor_ < 0) return OpenError(errno, path);
  struct stat info;
  if (fstat(reader->descriptor_, &info) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot stat '", path, "'"));
  }
  // open() of a directory succeeds for reading; read() would then say EISDIR. Say what the path is instead.
  if (S_ISDIR(info.st_mode)) return OpenError(EISDIR, path);
  if (S_ISREG(info.st_mode)) {
    reader->stored_size_ = static_cast<uint64_t>(info.st_size);
    unsigned char tail[4];
    if (reader->stored_size_ >= 18 &&
        pread(reader->descriptor_, tail, 4, static_cast<off_t>(reader->stored_size_ - 4)) == 4) {
      reader->size_hint_ = BoundedSizeHint(tail, reader->stored_size_);
    }
  }
  return reader;
}

std::unique_ptr<MaybeGzippedReader> MaybeGzippedReader::FromBytesInChunks(absl::string_view bytes,
                                                                          absl::string_view source, size_t chunk_size) {
  std::unique_ptr<MaybeGzippedReader> reader = FromBytes(bytes, source);
  reader->input_ = absl::string_view();
  reader->input_ended_ = false;
  reader->unread_ = bytes;
  reader->chunk_size_ = std::max<size_t>(chunk_size, 1);
  return reader;
}

std::unique_ptr<MaybeGzippedReader> MaybeGzippedReader::FromBytes(absl::string_view bytes, absl::string_view source) {
  std::unique_ptr<MaybeGzippedReader> reader(new MaybeGzippedReader());
  reader->source_ = std::string(source);
  reader->input_ = bytes;
  reader->input_ended_ = true;
  reader->stored_size_ = bytes.size();
  if (bytes.size() >= 18) {
    reader->size_hint_ =
        BoundedSizeHint(reinterpret_cast<const unsigned char*>(bytes.data() + bytes.size() - 4), bytes.size());
  }
  return reader;
}

MaybeGzippedReader::~MaybeGzippedReader() {
  if (descriptor_ >= 0) close(descriptor_);
}

absl::StatusOr<size_t> MaybeGzippedReader::ReadStored(char* destination, size_t size) {
  size = std::min(size, chunk_size_);
  if (descriptor_ < 0) {
    const size_t count = std::min(size, unread_.size());
    if (count > 0) std::memcpy(destination, unread_.data(), count);
    unread_.remove_prefix(count);
    return count;
  }
  ssize_t result;
  do {
    result = read(descriptor_, destination, size);
  } while (result < 0 && errno == EINTR);
  if (result < 0) {
    const int error_number = errno;
    if (error_number == EISDIR) return OpenError(EISDIR, source_);
    return absl::ErrnoToStatus(error_number, absl::StrCat("cannot read '", source_, "'"));
  }
  return static_cast<size_t>(result);
}

absl::Status MaybeGzippedReader::FillInput(size_t minimum) {
  // Callers ask for at most 2 bytes, so at most 1 is kept: the buffer, sized once, never moves while input_ points
  // into it (growing it did: a use after free that gzip_reader_fuzzer found). FromBytes's input_, which points
  // elsewhere, has ended.
  if (input_buffer_.empty()) input_buffer_.resize(chunk_size_ + kMaxKeptInput);
  while (input_.size() < minimum && !input_ended_) {
    // Keep the unconsumed bytes at the front of the buffer and read after them.
    const size_t kept = input_.size();
    PARSITY_CHECK(kept <= kMaxKeptInput);
    if (kept > 0) std::memmove(input_buffer_.data(), input_.data(), kept);
    ASSIGN_OR_RETURN(const size_t count, ReadStored(input_buffer_.data() + kept, chunk_size_));
    if (count == 0) input_ended_ = true;
    input_ = absl::string_view(input_buffer_.data(), kept + count);
  }
  return absl::OkStatus();
}

absl::Status MaybeGzippedReader::DetectMode() {
  RETURN_IF_ERROR(FillInput(2));
  if (!IsGzipped(input_)) {
    mode_ = Mode::kRaw;
    return absl::OkStatus();
  }
  mode_ = Mode::kGzip;
  zlib_ = std::make_unique<ZStream>();
  // 15 + 16: a 32 KiB window and a gzip (not zlib) wrapper.
  const int result = inflateInit2(&zlib_->stream, 15 + 16);
  if (result != Z_OK) {
    return absl::InternalError(absl::StrCat("cannot initialize zlib for '", source_, "': error ", result));
  }
  zlib_->initialized = true;
  return absl::OkStatus();
}

size_t MaybeGzippedReader::MakeRoom(uint64_t size) {
  if (contents_.size() == produced_) {
    uint64_t capacity = std::max<uint64_t>(2 * produced_, kMinOutputChunk);
    if (produced_ == 0 && mode_ == Mode::kGzip) capacity = std::max(capacity, size_hint_);
    if (mode_ == Mode::kRaw && stored_size_ > stored_bytes_read_) {
      capacity = std::max(capacity, produced_ + (stored_size_ - stored_bytes_read_));
    }
    contents_.resize(std::min(capacity, size));
  }
  return static_cast<size_t>(std::min<uint64_t>(contents_.size() - produced_, kMaxZlibChunk));
}

absl::Status MaybeGzippedReader::ReadRaw(uint64_t size) {
  while (produced_ < size && !contents_ended_) {
    const size_t room = MakeRoom(size);
    if (input_.empty() && !input_ended_) {
      // Read straight into the contents, no copy through input_buffer_.
      ASSIGN_OR_RETURN(const size_t count, ReadStored(contents_.data() + produced_, room));
      if (count == 0) input_ended_ = true;
      produced_ += count;
      stored_bytes_read_ += count;
    } else {
      const size_t count = std::min(room, input_.size());
      if (count > 0) std::memcpy(contents_.data() + produced_, input_.data(), count);
      input_.remove_prefix(count);
      produced_ += count;
      stored_bytes_read_ += count;
    }
    if (input_.empty() && input_ended_) contents_ended_ = true;
  }
  return absl::OkStatus();
}

absl::Status MaybeGzippedReader::ReadGzip(uint64_t size) {
  z_stream* stream = &zlib_->stream;
  while (produced_ < size && !contents_ended_) {
    RETURN_IF_ERROR(FillInput(1));
    const size_t room = MakeRoom(size);
    const size_t input_chunk = static_cast<size_t>(std::min<uint64_t>(input_.size(), kMaxZlibChunk));
    stream->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input_.data()));
    stream->avail_in = static_cast<uInt>(input_chunk);
    stream->next_out = reinterpret_cast<Bytef*>(contents_.data() + produced_);
    stream->avail_out = static_cast<uInt>(room);
    const int result = inflate(stream, Z_NO_FLUSH);
    const size_t consumed = input_chunk - stream->avail_in;
    input_.remove_prefix(consumed);
    stored_bytes_read_ += consumed;
    const size_t produced = room - stream->avail_out;
    produced_ += produced;
    if (result == Z_STREAM_END) {
      // The member ended (its CRC and length checked). Another may follow, or nothing.
      RETURN_IF_ERROR(FillInput(2));
      if (input_.empty()) {
        contents_ended_ = true;
        break;
      }
      if (!IsGzipped(input_)) {
        const uint64_t trailing =
            stored_size_ > stored_bytes_read_ ? stored_size_ - stored_bytes_read_ : uint64_t{input_.size()};
        return absl::DataLossError(absl::StrCat("'", source_, "' has ", trailing,
                                                " trailing bytes after the gzip stream that are not gzip data"));
      }
      inflateReset(stream);
      continue;
    }
    if (result == Z_OK || result == Z_BUF_ERROR) {
      if (consumed > 0 || produced > 0) continue;
      // No progress: for want of input, which is an error once the input has ended (MakeRoom always gives room).
      if (input_.empty() && input_ended_) {
        return absl::DataLossError(absl::StrCat("'", source_, "' is a truncated gzip stream (ends after ",
                                                stored_bytes_read_, " compressed bytes, ", produced_,
                                                " bytes decompressed)"));
      }
      if (input_.empty()) continue;  // FillInput reads more.
      return absl::DataLossError(absl::StrCat("'", source_, "' stalls zlib at compressed byte ", stored_bytes_read_,
                                              " (zlib code ", result, ")"));
    }
    if (result == Z_MEM_ERROR) {
      return absl::ResourceExhaustedError(absl::StrCat("out of memory decompressing '", source_, "'"));
    }
    return absl::DataLossError(
        absl::StrCat("'", source_, "' is corrupt gzip data at compressed byte ", stored_bytes_read_, ": ",
                     stream->msg != nullptr ? stream->msg : "zlib error", " (zlib code ", result, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::string_view> MaybeGzippedReader::ReadUpTo(uint64_t size) {
  if (mode_ == Mode::kUnknown) RETURN_IF_ERROR(DetectMode());
  if (produced_ < size && !contents_ended_) {
    const absl::Status status = mode_ == Mode::kGzip ? ReadGzip(size) : ReadRaw(size);
    if (!status.ok()) {
      contents_.resize(produced_);  // Keep the invariant for a caller that goes on after an error.
      return status;
    }
  }
  return absl::string_view(contents_.data(), static_cast<size_t>(std::min(size, produced_)));
}

absl::StatusOr<std::string> Gunzip(absl::string_view compressed, absl::string_view source, uint64_t max_size) {
  if (!IsGzipped(compressed)) {
    return absl::DataLossError(absl::StrCat("'", source, "' is not gzip data (no 1f 8b magic)"));
  }
  std::unique_ptr<MaybeGzippedReader> reader = MaybeGzippedReader::FromBytes(compressed, source);
  const uint64_t asked = max_size == kNoSizeLimit ? kNoSizeLimit : max_size + 1;
  ASSIGN_OR_RETURN(const absl::string_view contents, reader->ReadUpTo(asked));
  if (contents.size() > max_size) {
    return absl::InvalidArgumentError(absl::StrCat("'", source, "' decompresses to more than ", max_size,
                                                   " bytes, the most allowed (stopped after ", contents.size(),
                                                   " bytes from ", reader->stored_bytes_read(), " compressed bytes)"));
  }
  return std::string(contents);
}

absl::StatusOr<std::string> ReadMaybeGzippedFile(const std::string& path, uint64_t max_size) {
  ASSIGN_OR_RETURN(std::unique_ptr<MaybeGzippedReader> reader, MaybeGzippedReader::Open(path));
  const uint64_t asked = max_size == kNoSizeLimit ? kNoSizeLimit : max_size + 1;
  ASSIGN_OR_RETURN(const absl::string_view contents, reader->ReadUpTo(asked));
  if (contents.size() > max_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' holds more than ", max_size, " bytes", reader->gzipped() ? " decompressed" : "",
                     ", the most its reader accepts (stopped after ", contents.size(), " bytes)"));
  }
  return std::string(contents);
}

}  // namespace parsity::data
