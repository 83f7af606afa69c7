// A main() for fuzz targets built without libFuzzer (GCC, `bazel test //...`): runs LLVMFuzzerTestOneInput once on
// every file named on the command line or found (recursively, in name order) in the directories named there, so that
// the seed corpus and every saved crash are replayed as an ordinary test. Arguments starting with '-' are libFuzzer
// flags (-runs=0, -max_len=...) and are ignored, so that one command line serves both builds. Exits with 2 when an
// argument does not exist or no input is found at all; a bug in the target aborts the process.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// Appends the regular files under `path` (itself, if it is one) to `inputs`; false when `path` does not exist.
bool CollectInputs(const std::filesystem::path& path, std::vector<std::filesystem::path>* inputs) {
  std::error_code error;
  if (std::filesystem::is_regular_file(path, error)) {
    inputs->push_back(path);
    return true;
  }
  if (!std::filesystem::is_directory(path, error)) return false;
  std::vector<std::filesystem::path> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path, error)) {
    if (entry.is_regular_file()) found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  inputs->insert(inputs->end(), found.begin(), found.end());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-') continue;
    if (!CollectInputs(argv[i], &inputs)) {
      std::fprintf(stderr, "fuzz_replay_main: '%s' is neither a file nor a directory\n", argv[i]);
      return 2;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "fuzz_replay_main: no inputs (usage: %s [-libfuzzer_flags] FILE_OR_DIRECTORY...)\n", argv[0]);
    return 2;
  }
  for (const std::filesystem::path& input : inputs) {
    std::ifstream stream(input, std::ios::binary);
    std::ostringstream contents;
    contents << stream.rdbuf();
    if (!stream) {
      std::fprintf(stderr, "fuzz_replay_main: cannot read '%s'\n", input.c_str());
      return 2;
    }
    const std::string bytes = contents.str();
    // Named before it runs: a crash leaves this line last.
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", input.c_str(), bytes.size());
    std::fflush(stderr);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::fprintf(stderr, "fuzz_replay_main: %zu inputs replayed, no failure\n", inputs.size());
  return 0;
}
