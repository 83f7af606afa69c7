// An exclusive lock on a file (flock(2)) that records its holder, so that two processes never own one resource (a
// study's output directory) at once and the one refused can say who holds it.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, FileLock::TryAcquire("/results/study.lock"));
//   ... work on /results; the lock is released when `lock` is destroyed or the process ends ...
//
// The lock, not the file, decides: the kernel releases a flock when its holder exits or dies (SIGKILL included), so a
// file left behind by a dead holder blocks nothing and is taken over. The file holds one line,
// "host=<hostname> pid=<pid> since=<UTC time>", written once the lock is taken, and is emptied on release (a
// non-empty file at acquisition names a holder that ended without releasing, e.g. killed). It is written in place and
// never replaced or deleted: a rename or unlink would give later openers another inode, which nobody has locked.
//
// flock locks belong to open file descriptions, so a second TryAcquire of a held path fails in the holder's own
// process too. The descriptor is close-on-exec: child processes (a plot script) do not inherit the lock. On NFS,
// Linux implements flock with byte-range locks (across hosts with NFSv4).
#ifndef PARSITY_TOOLS_BASE_FILE_LOCK_H_
#define PARSITY_TOOLS_BASE_FILE_LOCK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace parsity {

// A holder as recorded in a lock file.
struct LockHolder {
  std::string host;
  int64_t pid = 0;
  std::string since;  // UTC, "2026-12-01T10:15:00Z".
};

// Parses a lock file's line; std::nullopt when it is empty or not in the format above.
std::optional<LockHolder> ParseLockHolder(absl::string_view contents);

// This machine's host name (gethostname), "unknown-host" when it cannot be read.
std::string HostName();

class FileLock {
 public:
  // Takes the lock on `path` (created if missing, its directory must exist) without waiting, and records this
  // process in it. Errors: Unavailable when another process (or another FileLock of this one) holds it, naming the
  // holder as recorded ("host node01, PID 1234, since ...") or saying it has not recorded itself yet; the
  // errno-derived status of open, flock or write otherwise, naming the path.
  static absl::StatusOr<std::unique_ptr<FileLock>> TryAcquire(const std::string& path);

  // Empties the file and releases the lock.
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  const std::string& path() const { return path_; }
  // The holder the file named when this lock was taken: one that ended without releasing (killed, crashed), or
  // std::nullopt when the file was new or empty.
  const std::optional<LockHolder>& previous_holder() const { return previous_holder_; }

 private:
  FileLock(std::string path, int descriptor, std::optional<LockHolder> previous_holder)
      : path_(std::move(path)), descriptor_(descriptor), previous_holder_(std::move(previous_holder)) {}

  std::string path_;
  int descriptor_;
  std::optional<LockHolder> previous_holder_;
};

}  // namespace parsity

#endif  // PARSITY_TOOLS_BASE_FILE_LOCK_H_
