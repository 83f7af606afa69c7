// FUZZ_CHECK: the fuzz targets' assertion, and parsity::fuzz::Log for their verbose mode. A fuzz target reports a bug
// by crashing; FUZZ_CHECK aborts with the condition and a detail (the statuses involved), so that a crash found by
// libFuzzer, or replayed by fuzz_replay_main, says what went wrong.
//
//   FUZZ_CHECK(read.ok() == parsed.ok(), absl::StrCat(read.status().ToString(), " vs ", parsed.status().ToString()));
#ifndef PARSITY_TOOLS_FUZZ_FUZZ_CHECK_H_
#define PARSITY_TOOLS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tools/base/check.h"

namespace parsity::fuzz {

// Prints `message` to stderr when the environment variable PARSITY_FUZZ_VERBOSE is set (to see why a seed is
// rejected: `PARSITY_FUZZ_VERBOSE=1 bazel-bin/tools/fuzz/study_config_fuzzer my_seed.textproto`); silent otherwise.
inline void Log(const std::string& message) {
  static const bool verbose = std::getenv("PARSITY_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "%s\n", message.c_str());
}

}  // namespace parsity::fuzz

// Aborts with file, line, the condition's text and `detail` (a std::string, built only on failure) when `condition`
// is false.
#define FUZZ_CHECK(condition, detail)                                                                   \
  do {                                                                                                  \
    if (!(condition)) {                                                                                 \
      const std::string fuzz_check_detail = (detail);                                                   \
      ::parsity::base_internal::CheckFailed(__FILE__, __LINE__, #condition, fuzz_check_detail.c_str()); \
    }                                                                                                   \
  } while (false)

#endif  // PARSITY_TOOLS_FUZZ_FUZZ_CHECK_H_
