#include "tools/base/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tools/base/atomic_file.h"

namespace parsity {
namespace {

absl::Status ErrnoStatus(int error_number, absl::string_view what, absl::string_view path) {
  return absl::ErrnoToStatus(error_number, absl::StrCat(what, " '", path, "'"));
}

std::string UtcNow() { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()); }

// The whole file read through `descriptor` (from offset 0), empty on error.
std::string ReadAll(int descriptor) {
  std::string contents;
  char buffer[512];
  for (off_t offset = 0;;) {
    const ssize_t got = pread(descriptor, buffer, sizeof(buffer), offset);
    if (got <= 0) break;
    contents.append(buffer, static_cast<size_t>(got));
    offset += got;
    if (contents.size() > 4096) break;  // A holder line is short; anything longer is not ours.
  }
  return contents;
}

std::string Describe(const std::optional<LockHolder>& holder, absl::string_view contents) {
  if (!holder.has_value()) {
    return contents.empty() ? "a process that has not recorded itself yet (it is starting)"
                            : absl::StrCat("a process the file does not name (it holds \"",
                                           absl::StripAsciiWhitespace(contents.substr(0, 200)), "\")");
  }
  std::string text = absl::StrCat("host ", holder->host, ", PID ", holder->pid, ", since ", holder->since);
  // The lock is held, so a recorded holder that is not running here is either on another host or a previous holder
  // whose line the new one has not replaced yet.
  if (holder->host == HostName() && !ProcessIsRunning(holder->pid)) {
    absl::StrAppend(&text, " (that PID is not running: the holder is another process that is starting)");
  }
  return text;
}

}  // namespace

std::optional<LockHolder> ParseLockHolder(absl::string_view contents) {
  LockHolder holder;
  bool has_host = false, has_pid = false;
  for (absl::string_view field : absl::StrSplit(absl::StripAsciiWhitespace(contents), ' ', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&field, "host=")) {
      holder.host = std::string(field);
      has_host = !field.empty();
    } else if (absl::ConsumePrefix(&field, "pid=")) {
      has_pid = absl::SimpleAtoi(field, &holder.pid) && holder.pid > 0;
    } else if (absl::ConsumePrefix(&field, "since=")) {
      holder.since = std::string(field);
    }
  }
  if (!has_host || !has_pid) return std::nullopt;
  return holder;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "unknown-host";
  return name;
}

absl::StatusOr<std::unique_ptr<FileLock>> FileLock::TryAcquire(const std::string& path) {
  for (int attempt = 0;; ++attempt) {
    const int descriptor = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (descriptor < 0) return ErrnoStatus(errno, "cannot open the lock file", path);
    if (flock(descriptor, LOCK_EX | LOCK_NB) != 0) {
      const int error_number = errno;
      const std::string contents = ReadAll(descriptor);
      close(descriptor);
      if (error_number != EWOULDBLOCK) return ErrnoStatus(error_number, "cannot lock", path);
      return absl::UnavailableError(absl::StrCat(path, " is held by ", Describe(ParseLockHolder(contents), contents)));
    }
    // Locked. The path must still name the inode locked: someone may have deleted or replaced the file between the
    // open and the flock, and a later opener would then lock the new one.
    struct stat opened, named;
    if (fstat(descriptor, &opened) != 0 || stat(path.c_str(), &named) != 0 || opened.st_ino != named.st_ino ||
        opened.st_dev != named.st_dev) {
      close(descriptor);
      if (attempt < 10) continue;
      return absl::AbortedError(absl::StrCat(path, ": the lock file keeps being replaced; cannot lock it"));
    }
    const std::string previous = ReadAll(descriptor);
    const std::string line = absl::StrCat("host=", HostName(), " pid=", getpid(), " since=", UtcNow(), "\n");
    if (ftruncate(descriptor, 0) != 0 ||
        pwrite(descriptor, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
      const int error_number = errno;
      close(descriptor);
      return ErrnoStatus(error_number, "cannot record the holder in", path);
    }
    return std::unique_ptr<FileLock>(new FileLock(path, descriptor, ParseLockHolder(previous)));
  }
}

FileLock::~FileLock() {
  // Emptied: the next holder finds no leftover line (a line there means its holder ended without this).
  if (ftruncate(descriptor_, 0) != 0) {
    // Nothing to do: the next holder reports a stale line, which is harmless.
  }
  close(descriptor_);  // Releases the flock.
}

}  // namespace parsity
