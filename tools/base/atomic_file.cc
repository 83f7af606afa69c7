#include "tools/base/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
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

absl::Status CheckParentFolderExists(const std::string& path) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error).lexically_normal();
  if (!absolute.has_filename()) absolute = absolute.parent_path();  // "dir/" names dir.
  const std::filesystem::path folder = absolute.parent_path();
  if (std::filesystem::is_directory(folder, error)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("folder ", folder.string(),
                                                 std::filesystem::exists(folder, error) ? " is not a directory"
                                                                                         : " does not exist"));
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

std::optional<int64_t> TemporaryFileWriter(absl::string_view file_name) {
  const size_t slash = file_name.find_last_of('/');
  if (slash != absl::string_view::npos) file_name.remove_prefix(slash + 1);
  constexpr absl::string_view kMarker = ".tmp.";
  const size_t marker = file_name.rfind(kMarker);
  if (marker == absl::string_view::npos || marker == 0) return std::nullopt;
  const absl::string_view digits = file_name.substr(marker + kMarker.size());
  if (digits.empty() || digits.size() > 10) return std::nullopt;
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  int64_t pid = 0;
  if (!absl::SimpleAtoi(digits, &pid) || pid <= 0) return std::nullopt;
  return pid;
}

bool ProcessIsRunning(int64_t pid) {
  if (pid <= 0 || pid > INT32_MAX) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

absl::StatusOr<int> RemoveTemporaryFilesOfDeadWriters(const std::string& directory) {
  DIR* handle = opendir(directory.c_str());
  if (handle == nullptr) return ErrnoStatus(errno, "cannot list", directory);
  std::vector<std::string> stale;
  while (const dirent* entry = readdir(handle)) {
    const std::optional<int64_t> writer = TemporaryFileWriter(entry->d_name);
    if (writer.has_value() && !ProcessIsRunning(*writer)) stale.push_back(entry->d_name);
  }
  closedir(handle);
  int removed = 0;
  for (const std::string& name : stale) {
    const std::string path = absl::StrCat(directory, "/", name);
    if (unlink(path.c_str()) != 0) {
      if (errno == ENOENT) continue;  // Gone meanwhile.
      return ErrnoStatus(errno, "cannot remove the temporary file", path);
    }
    ++removed;
  }
  return removed;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  // A stream opens a directory and reads nothing from it, and a symlink loop looks like a missing file: say what the
  // path is instead (a config or metadata.json that is a directory read as an empty text).
  struct stat info;
  if (stat(path.c_str(), &info) != 0) {
    if (errno == ELOOP) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot open '", path, "': symlink loop (too many levels of symbolic links)"));
    }
  } else if (S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("'", path, "' is a directory, not a file"));
  }
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
