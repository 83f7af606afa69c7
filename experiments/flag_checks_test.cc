#include "experiments/flag_checks.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "training/nn/layer.h"

namespace parsity::experiments {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(EarlyExitWarningTest, WarnsOnlyWhenEarlyExitsRunOnEigen) {
  EXPECT_EQ(EarlyExitWarning("study", false), "");
  const std::string warning = EarlyExitWarning("study", true);
  if (nn::HasDirectKernels()) {
    EXPECT_EQ(warning, "");  // The direct kernels evaluate each example alike in any batch: early exits are exact.
  } else {
    EXPECT_THAT(warning, StartsWith("study: warning: "));
    EXPECT_THAT(warning, HasSubstr("--check_early_exit=false"));
  }
}

}  // namespace
}  // namespace parsity::experiments
