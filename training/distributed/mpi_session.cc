#include "training/distributed/mpi_session.h"

#include <string>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "tools/base/check.h"

namespace parsity::distributed {

bool LaunchedByMpiLauncher() {
  for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"}) {
    if (std::getenv(variable) != nullptr) return true;
  }
  return false;
}

MpiSession::MpiSession() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized && !LaunchedByMpiLauncher()) return;
  if (!initialized) {
    int provided = 0;
    // MPI_ERRORS_ARE_FATAL is the default for MPI_Init: a failure prints MPI's diagnosis and ends the job.
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    finalize_ = true;
  }
  mpi_active_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiSession::~MpiSession() {
  if (!finalize_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

MPI_Comm MpiSession::communicator() const {
  PARSITY_CHECK(mpi_active_);
  return MPI_COMM_WORLD;
}

void MpiSession::WaitForAllRanks(int poll_milliseconds) const {
  if (!mpi_active_ || size_ == 1) return;
  MPI_Request request;
  MPI_Ibarrier(MPI_COMM_WORLD, &request);
  for (int done = 0;;) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done != 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_milliseconds));
  }
}

void MpiSession::Abort(int exit_code) const {
  std::fflush(stdout);
  std::fflush(stderr);
  if (mpi_active_) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

int MpiSession::ExitCode(absl::string_view program, const absl::Status& status) const {
  if (status.ok()) return 0;
  if (size() == 1) {
    std::fprintf(stderr, "%s: %s\n", std::string(program).c_str(), std::string(status.message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "%s: rank %d of %d: %s\n", std::string(program).c_str(), rank(), size(),
               std::string(status.message()).c_str());
  Abort(1);
}

}  // namespace parsity::distributed
