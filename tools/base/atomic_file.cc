#include "tools/base/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace parsity {
namespace {

absl::Status ErrnoStatus(int error_number, absl::string_view what, absl::string_view path) {
  return absl::ErrnoToStatus(error_number, absl::StrCat(what, " '", path, "'"));
}

std::string ParentDirectory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

bool PathExists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

absl::Status CreateDirectories(const std::string& path) {
  if (path.empty() || PathExists(path)) return absl::OkStatus();
  const std::string parent = ParentDirectory(path);
  if (parent != path) {
    absl::Status parent_status = CreateDirectories(parent);
    if (!parent_status.ok()) return parent_status;
  }
  // Another process (a parallel trial, another MPI rank) may create it between the check and here.
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "cannot create directory", path);
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  absl::Status directory_status = CreateDirectories(ParentDirectory(path));
  if (!directory_status.ok()) return directory_status;
  // The temporary name is unique per process so that concurrent writers never share one.
  const std::string temporary_path = absl::StrCat(path, ".tmp.", getpid());
  const int descriptor = open(temporary_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (descriptor < 0) return ErrnoStatus(errno, "cannot create", temporary_path);
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t result = write(descriptor, contents.data() + written, contents.size() - written);
    if (result < 0) {
      if (errno == EINTR) continue;
      const int error_number = errno;
      close(descriptor);
      unlink(temporary_path.c_str());
      return ErrnoStatus(error_number, "cannot write", temporary_path);
    }
    written += static_cast<size_t>(result);
  }
  if (fsync(descriptor) != 0 || close(descriptor) != 0) {
    const int error_number = errno;
    unlink(temporary_path.c_str());
    return ErrnoStatus(error_number, "cannot flush", temporary_path);
  }
  if (rename(temporary_path.c_str(), path.c_str()) != 0) {
    const int error_number = errno;
    unlink(temporary_path.c_str());
    return ErrnoStatus(error_number, "cannot rename into place", path);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    if (!PathExists(path)) return absl::NotFoundError(absl::StrCat("no such file '", path, "'"));
    return ErrnoStatus(errno, "cannot open", path);
  }
  std::ostringstream contents;
  contents << stream.rdbuf();
  if (stream.bad()) return ErrnoStatus(errno, "cannot read", path);
  return contents.str();
}

}  // namespace parsity
