// Paths given on a `bazel run` command line: Bazel runs the binary in its runfiles tree, so a relative path the user
// typed means the directory `bazel run` was started from (BUILD_WORKING_DIRECTORY), not the current directory.
//
//   options.output_dir = ResolveAgainstWorkingDirectory(absl::GetFlag(FLAGS_output_dir));
#ifndef PARSITY_EXPERIMENTS_WORKING_DIRECTORY_H_
#define PARSITY_EXPERIMENTS_WORKING_DIRECTORY_H_

#include <string>

namespace parsity::experiments {

// `path` unchanged when it is empty or absolute, or when BUILD_WORKING_DIRECTORY is unset or empty (the binary was
// not started by `bazel run`); otherwise BUILD_WORKING_DIRECTORY/path.
std::string ResolveAgainstWorkingDirectory(const std::string& path);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_WORKING_DIRECTORY_H_
