#include "experiments/working_directory.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace parsity::experiments {

std::string ResolveAgainstWorkingDirectory(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  const char* working_directory = std::getenv("BUILD_WORKING_DIRECTORY");
  if (working_directory == nullptr || working_directory[0] == '\0') return path;
  return absl::StrCat(working_directory, "/", path);
}

}  // namespace parsity::experiments
