// GoogleTest matchers for absl::Status and absl::StatusOr, which Abseil 20220623 lacks: IsOk(), StatusIs(code),
// StatusIs(code, message_matcher), and ASSERT_OK_AND_ASSIGN.
//
//   EXPECT_THAT(ReadIdx(path), StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
//   ASSERT_OK_AND_ASSIGN(Dataset data, LoadDataset("mnist", ""));
#ifndef PARSITY_TOOLS_BASE_STATUS_MATCHERS_H_
#define PARSITY_TOOLS_BASE_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_macros.h"

namespace parsity::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  if (!status.ok()) *result_listener << "status is " << status.ToString();
  return status.ok();
}

MATCHER_P(StatusIs, code, "has status code " + absl::StatusCodeToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has status code " + absl::StatusCodeToString(code) + " and a message that " +
               ::testing::DescribeMatcher<std::string>(message_matcher)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(status.message()), result_listener);
}

}  // namespace parsity::testing

#define PARSITY_ASSERT_OK_AND_ASSIGN_IMPL(statusor, lhs, expression) \
  auto statusor = (expression);                                      \
  ASSERT_TRUE(statusor.ok()) << statusor.status().ToString();        \
  lhs = std::move(statusor).value()

// Asserts that `expression` (an absl::StatusOr<T>) is OK and moves its value into `lhs`.
#define ASSERT_OK_AND_ASSIGN(lhs, expression) \
  PARSITY_ASSERT_OK_AND_ASSIGN_IMPL(PARSITY_STATUS_MACROS_CONCAT(parsity_test_statusor_, __LINE__), lhs, expression)

#endif  // PARSITY_TOOLS_BASE_STATUS_MATCHERS_H_
