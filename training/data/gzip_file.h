// Reads files that may be gzip-compressed, deciding by content (the gzip magic bytes 1f 8b), not by file name.
//
//   ASSIGN_OR_RETURN(std::string contents, ReadMaybeGzippedFile("/usr/share/datasets/fashion-mnist/"
//                                                               "train-labels-idx1-ubyte.gz"));
//   // `contents` is the decompressed IDX file; a raw file is returned as is.
#ifndef PARSITY_TRAINING_DATA_GZIP_FILE_H_
#define PARSITY_TRAINING_DATA_GZIP_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace parsity::data {

// True when `bytes` starts with the gzip magic number 1f 8b.
bool IsGzipped(absl::string_view bytes);

// Decompresses a gzip stream (RFC 1952) held in memory; concatenated gzip members are decompressed one after the
// other, as gunzip does. `source` names the data in error messages (a path). Errors: DataLoss for a corrupt stream
// (bad header, bad deflate data, CRC or length mismatch), a truncated stream, or bytes after the last member that
// are not another gzip member.
absl::StatusOr<std::string> Gunzip(absl::string_view compressed, absl::string_view source);

// Reads the whole file at `path`, decompressed when it is gzipped. Errors: NotFound when it does not exist, the
// errno-derived status when it cannot be read, and Gunzip's errors; every message names `path`.
absl::StatusOr<std::string> ReadMaybeGzippedFile(const std::string& path);

}  // namespace parsity::data

#endif  // PARSITY_TRAINING_DATA_GZIP_FILE_H_
