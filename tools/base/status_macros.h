// RETURN_IF_ERROR and ASSIGN_OR_RETURN, which Abseil 20220623 lacks. Named as in newer Abseil so that an upgrade is
// a deletion.
//
//   RETURN_IF_ERROR(ValidateHeader(file));
//   ASSIGN_OR_RETURN(std::vector<float> pixels, ReadImages(path));
#ifndef PARSITY_TOOLS_BASE_STATUS_MACROS_H_
#define PARSITY_TOOLS_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns the status from the enclosing function when `expression` is not OK.
#define RETURN_IF_ERROR(expression)                               \
  do {                                                            \
    ::absl::Status parsity_status_macro_status = (expression);    \
    if (!parsity_status_macro_status.ok()) {                      \
      return parsity_status_macro_status;                         \
    }                                                             \
  } while (false)

#define PARSITY_STATUS_MACROS_CONCAT_INNER(x, y) x##y
#define PARSITY_STATUS_MACROS_CONCAT(x, y) PARSITY_STATUS_MACROS_CONCAT_INNER(x, y)

// Evaluates `expression` (an absl::StatusOr<T>); on error returns its status, else moves the value into `lhs`,
// which may be a declaration (`ASSIGN_OR_RETURN(auto x, F())`) or an existing variable.
#define ASSIGN_OR_RETURN(lhs, expression) \
  PARSITY_ASSIGN_OR_RETURN_IMPL(PARSITY_STATUS_MACROS_CONCAT(parsity_statusor_, __LINE__), lhs, expression)

#define PARSITY_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expression) \
  auto statusor = (expression);                                  \
  if (!statusor.ok()) {                                          \
    return std::move(statusor).status();                         \
  }                                                              \
  lhs = std::move(statusor).value()

#endif  // PARSITY_TOOLS_BASE_STATUS_MACROS_H_
