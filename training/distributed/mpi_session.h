// One process's membership in an MPI job, as an RAII object, so that a binary runs unchanged as one process and
// under `mpirun -np P` or `srun --mpi=pmix -n P`. MPI is initialized only when a launcher started the process (it
// left its variables in the environment); a plain run never touches MPI and is rank 0 of 1. Data-parallel training
// with it: experiments/README.md, "Data-parallel training".
//
//   MpiSession session;                                   // first thing in main(), after flag parsing
//   if (session.size() > 1) reducer = MpiGradientReducer::Create(session.communicator(), count, &mask);
//   if (session.rank() == 0) std::cout << summary << "\n";
#ifndef PARSITY_TRAINING_DISTRIBUTED_MPI_SESSION_H_
#define PARSITY_TRAINING_DISTRIBUTED_MPI_SESSION_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include <mpi.h>

namespace parsity::distributed {

// True when an MPI launcher started this process: Open MPI's mpirun (OMPI_COMM_WORLD_SIZE), a PMIx launcher such as
// `srun --mpi=pmix` (PMIX_RANK), or a PMI-1/2 launcher such as `srun --mpi=pmi2` or MPICH's hydra (PMI_SIZE).
bool LaunchedByMpiLauncher();

class MpiSession {
 public:
  // Joins the job: MPI_Init_thread(MPI_THREAD_FUNNELED) when LaunchedByMpiLauncher() (only the main thread calls
  // MPI; the trainer's worker threads never do), adopting an MPI that someone else already initialized. Otherwise a
  // one-process session: rank 0 of 1, MPI untouched. A failing MPI_Init ends the process with MPI's own message.
  // At most one session per process.
  MpiSession();
  // MPI_Finalize when this session initialized MPI. Every object holding a communicator of the session (a reducer)
  // must be destroyed first. After an error that other ranks do not share, call Abort instead: MPI_Finalize waits
  // for the other ranks and would hang.
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  // This process's rank in MPI_COMM_WORLD, in [0, size()), and the number of processes.
  int rank() const { return rank_; }
  int size() const { return size_; }
  // Whether MPI is initialized (a launcher started the process); false for a plain one-process run.
  bool mpi_active() const { return mpi_active_; }
  // MPI_COMM_WORLD. REQUIRES: mpi_active().
  MPI_Comm communicator() const;

  // Waits until every rank has called it (a barrier) without spinning: MPI_Ibarrier, then MPI_Test every
  // `poll_milliseconds`. For ranks that finish long before the others (a study's ranks while rank 0 measures and
  // reports): MPI_Barrier and MPI_Finalize poll the network and would keep a core busy. No-op without MPI.
  void WaitForAllRanks(int poll_milliseconds = 20) const;

  // Ends every process of the job with `exit_code`: MPI_Abort(MPI_COMM_WORLD) when MPI is active (mpirun and srun
  // then stop the other ranks and exit non-zero), std::exit otherwise. Print the reason to stderr first.
  [[noreturn]] void Abort(int exit_code) const;

  // The end of a binary's main(): 0 for an OK `status`; otherwise one line on stderr, "program: message" (with
  // "program: rank r of P: message" when the job has several ranks), and exit code 1: returned for one process (so that
  // destructors run), by aborting the whole job for several (the other ranks may be waiting in a collective call).
  //   return session.ExitCode("train", Run(session));
  int ExitCode(absl::string_view program, const absl::Status& status) const;

 private:
  bool mpi_active_ = false;
  bool finalize_ = false;  // This session called MPI_Init, so it calls MPI_Finalize.
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace parsity::distributed

#endif  // PARSITY_TRAINING_DISTRIBUTED_MPI_SESSION_H_
