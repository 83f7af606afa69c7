// Atomic file writes: a reader (or a resumed run after a kill) sees either the old file or the complete new one,
// never a partial write.
//
//   RETURN_IF_ERROR(WriteFileAtomically("/results/study.json", json_text));
//   ASSIGN_OR_RETURN(std::string text, ReadFile("/results/study.json"));
#ifndef PARSITY_TOOLS_BASE_ATOMIC_FILE_H_
#define PARSITY_TOOLS_BASE_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace parsity {

// Writes `contents` to a temporary file beside `path`, flushes it to disk (fsync) and renames it over `path`.
// Creates missing parent directories. Errors: the errno-derived status of the failing call, naming the path.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// Reads a whole file. Errors: NotFound when it does not exist, else the errno-derived status, naming the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Creates `path` and its missing parents (like `mkdir -p`). Errors name the directory that could not be created.
absl::Status CreateDirectories(const std::string& path);

// True when `path` names an existing file or directory.
bool PathExists(const std::string& path);

}  // namespace parsity

#endif  // PARSITY_TOOLS_BASE_ATOMIC_FILE_H_
