// main() of the GoogleTest binaries that run under mpirun (their sh_tests start them through mpi_test_lib.sh):
// MPI is initialized before the tests and finalized after, and every rank exits with the worst result of any rank,
// so that a test failing on one rank fails the job. Depend on :mpi_test_main instead of gtest_main.
#include <mpi.h>

#include <cstdio>

#include "gtest/gtest.h"
#include "training/distributed/mpi_session.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const parsity::distributed::MpiSession session;
  if (!session.mpi_active()) {
    std::fprintf(stderr, "%s: run this test under mpirun (its sh_test does)\n", argv[0]);
    return 2;
  }
  int result = RUN_ALL_TESTS();
  MPI_Allreduce(MPI_IN_PLACE, &result, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return result;
}
