// Programmer-error checks that abort with a message (Abseil 20220623 in Debian has no absl/log).
//
// Use for invariants that only a bug can break; recoverable errors (bad files, flags, configs) are absl::Status.
//
//   PARSITY_CHECK(buffer.size() == mask.size());
//   PARSITY_CHECK_OK(status);
#ifndef PARSITY_TOOLS_BASE_CHECK_H_
#define PARSITY_TOOLS_BASE_CHECK_H_

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"

namespace parsity::base_internal {

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* condition, const char* detail) {
  std::fprintf(stderr, "%s:%d: check failed: %s%s%s\n", file, line, condition, detail[0] ? ": " : "", detail);
  std::fflush(stderr);
  std::abort();
}

}  // namespace parsity::base_internal

// Aborts with file, line and the condition's text when `condition` is false. Active in every build mode.
#define PARSITY_CHECK(condition)                                                       \
  do {                                                                                 \
    if (!(condition)) {                                                                \
      ::parsity::base_internal::CheckFailed(__FILE__, __LINE__, #condition, "");       \
    }                                                                                  \
  } while (false)

// Aborts with the status's message when `expression` (an absl::Status) is not OK.
#define PARSITY_CHECK_OK(expression)                                                            \
  do {                                                                                          \
    const ::absl::Status parsity_check_status = (expression);                                   \
    if (!parsity_check_status.ok()) {                                                           \
      ::parsity::base_internal::CheckFailed(__FILE__, __LINE__, #expression,                    \
                                            parsity_check_status.ToString().c_str());           \
    }                                                                                           \
  } while (false)

#endif  // PARSITY_TOOLS_BASE_CHECK_H_
