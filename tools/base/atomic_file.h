// Atomic file writes: a reader (or a resumed run after a kill) sees either the old file or the complete new one,
// never a partial write. A writer killed midway leaves its temporary file "<path>.tmp.<pid>" behind (never the
// final name); RemoveTemporaryFilesOfDeadWriters cleans those up.
//
//   RETURN_IF_ERROR(WriteFileAtomically("/results/study.json", json_text));
//   ASSIGN_OR_RETURN(std::string text, ReadFile("/results/study.json"));
#ifndef PARSITY_TOOLS_BASE_ATOMIC_FILE_H_
#define PARSITY_TOOLS_BASE_ATOMIC_FILE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace parsity {

// Writes `contents` to a temporary file beside `path`, flushes it to disk (fsync) and renames it over `path`.
// Creates missing parent directories. Errors: the errno-derived status of the failing call, naming the path.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// Reads a whole file. Errors, naming the path: NotFound when it does not exist; FailedPrecondition "is a directory,
// not a file" and "symlink loop" (rather than an empty text, or NotFound); else the errno-derived status.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Creates `path` and its missing parents (like `mkdir -p`). Errors name the directory that could not be created.
absl::Status CreateDirectories(const std::string& path);

// True when `path` names an existing file or directory.
bool PathExists(const std::string& path);

// OK when the folder that holds `path` exists, so that creating `path` (a file, or a directory with CreateDirectories)
// creates no folder above it: a mistyped path must not leave results where nobody looks. A trailing '/' is ignored.
// Errors: InvalidArgument "folder F does not exist" or "folder F is not a directory", F absolute.
absl::Status CheckParentFolderExists(const std::string& path);

// The writer's PID in the name of one of WriteFileAtomically's temporary files ("measurements.csv.tmp.4242" ->
// 4242; a path's last component or a bare name), std::nullopt for any other name.
std::optional<int64_t> TemporaryFileWriter(absl::string_view file_name);

// True when a process with this PID exists on this host (kill(pid, 0) succeeds or is refused with EPERM).
bool ProcessIsRunning(int64_t pid);

// Removes the temporary files of WriteFileAtomically in `directory` (not its subdirectories) whose writer is not
// running on this host, i.e. left by a killed writer; returns how many. A temporary file of a live process (this one
// included) is kept. Only call it when no writer on another host can be writing into `directory` (a PID means
// nothing across hosts). Errors: the directory cannot be listed or a file cannot be removed, naming it.
absl::StatusOr<int> RemoveTemporaryFilesOfDeadWriters(const std::string& directory);

}  // namespace parsity

#endif  // PARSITY_TOOLS_BASE_ATOMIC_FILE_H_
