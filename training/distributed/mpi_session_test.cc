#include "training/distributed/mpi_session.h"

#include <cstdlib>

#include "absl/status/status.h"

#include "gtest/gtest.h"

namespace parsity::distributed {
namespace {

constexpr const char* kLauncherVariables[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"};

void UnsetLauncherVariables() {
  for (const char* variable : kLauncherVariables) unsetenv(variable);
}

TEST(LaunchedByMpiLauncherTest, SeesEachLaunchersVariable) {
  UnsetLauncherVariables();
  EXPECT_FALSE(LaunchedByMpiLauncher());
  for (const char* variable : kLauncherVariables) {
    setenv(variable, "2", /*overwrite=*/1);
    EXPECT_TRUE(LaunchedByMpiLauncher()) << variable;
    unsetenv(variable);
  }
}

TEST(MpiSessionTest, WithoutALauncherIsOneProcessAndLeavesMpiAlone) {
  UnsetLauncherVariables();
  const MpiSession session;
  EXPECT_FALSE(session.mpi_active());
  EXPECT_EQ(session.rank(), 0);
  EXPECT_EQ(session.size(), 1);
  int initialized = 1;
  MPI_Initialized(&initialized);
  EXPECT_EQ(initialized, 0);
}

TEST(MpiSessionTest, WaitForAllRanksWithoutMpiReturnsAndLeavesMpiAlone) {
  UnsetLauncherVariables();
  const MpiSession session;
  session.WaitForAllRanks();  // Would fail inside MPI_Ibarrier if it touched an uninitialized MPI.
  int initialized = 1;
  MPI_Initialized(&initialized);
  EXPECT_EQ(initialized, 0);
}

TEST(MpiSessionDeathTest, AbortWithoutMpiExitsWithTheCode) {
  UnsetLauncherVariables();
  const MpiSession session;
  EXPECT_EXIT(session.Abort(7), ::testing::ExitedWithCode(7), "");
}

// One process: the error is one line naming the program, returned as exit code 1 (the multi-rank form, which aborts
// the job naming the rank, is checked by the MPI binaries' tests, e.g. //training/distributed:data_parallel_test).
TEST(MpiSessionTest, ExitCodeOfOneProcessIsOneLineAndOne) {
  UnsetLauncherVariables();
  const MpiSession session;
  EXPECT_EQ(session.ExitCode("tool", absl::OkStatus()), 0);
  ::testing::internal::CaptureStderr();
  const int code = session.ExitCode("tool", absl::InvalidArgumentError("--flag=3 is wrong"));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "tool: --flag=3 is wrong\n");
  EXPECT_EQ(code, 1);
}

}  // namespace
}  // namespace parsity::distributed
