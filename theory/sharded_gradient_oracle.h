// A theory::GradientOracle (theory/gradient_oracle.h) whose batch gradients are split across the ranks of an MPI job,
// so that the full-batch gradients of the trajectory Lipschitz and Hessian estimators under `mpirun -np P` cost each
// rank 1/P of one process's work instead of being computed P times over. Every rank holds the same examples (its
// own copy of the wrapped oracle); rank r computes its shard, and one all-reduce adds the shards. experiments/
// measure.cc uses it; experiments/README.md, "Data-parallel training", says how measure's measurements are split.
//
//   ASSIGN_OR_RETURN(auto local, NetworkGradientOracle::Create(network, &examples, &mask, options));
//   ASSIGN_OR_RETURN(auto oracle, ShardedGradientOracle::Create(session.communicator(), local.get()));
//   EstimateTrajectoryLipschitz(*oracle, previous, current);  // on every rank, with the same arguments
//
// Definition. With N = example_count(), P ranks and ShardOf (training/trainer/gradient_reducer.h):
//   Gradient(w):           rank r takes the examples [r N / P, (r + 1) N / P) of the wrapped oracle, computes
//                          n_r * (mean gradient of its shard) = the shard's gradient sum, the ranks' sums and loss
//                          sums are all-reduced (MPI_SUM), and every rank divides by N;
//   BatchGradient(w, I):   the same over the positions [r |I| / P, (r + 1) |I| / P) of the index list I, divided by |I|
//                          (repeated indices count repeatedly, as for the wrapped oracle).
// Both equal the wrapped oracle's results up to the order of the float additions (per-shard sums added across
// ranks instead of one process's chunk sums): per entry, at most about n eps x (1/n) sum_i |g_i| for n examples
// (measured under 3 eps x (1/n) sum_i |g_i| with 37 examples and P <= 3, sharded_gradient_oracle_test.cc).
// A rank whose shard is empty (fewer examples than ranks) contributes zeros. Each rank calls the wrapped oracle on at
// most ShardedGradientOracleOptions::max_examples_per_call indices at a time and adds the calls' sums in double, so
// that a network oracle gathers a bounded number of examples per call.
//
// Collective calls. Gradient and BatchGradient are collective: every rank of the communicator must call them in the
// same order with the same arguments (the same w and the same indices), or the job hangs or computes garbage. The
// theory estimators branch only on the oracle's results, and every rank receives the same bits from the all-reduce
// (MpiGradientReducer's guarantee for Open MPI), so an estimator called with the same arguments on every rank makes
// the same calls on every rank. An estimator that samples its own examples (theory/gradient_noise.h) needs the same
// seed on every rank.
//
// What travels per call: the gradient buffer (4 D bytes), or only the mask's kept entries (4 x kept) when the wrapped
// oracle has a mask that prunes anything, plus one double (the loss). MPI failures abort the job
// (training/distributed/mpi_gradient_reducer.h, "Failures").
#ifndef PARSITY_THEORY_SHARDED_GRADIENT_ORACLE_H_
#define PARSITY_THEORY_SHARDED_GRADIENT_ORACLE_H_

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "theory/gradient_oracle.h"
#include "tools/base/aligned_vector.h"
#include "training/distributed/mpi_gradient_reducer.h"
#include "training/trainer/gradient_reducer.h"

namespace parsity::theory {

struct ShardedGradientOracleOptions {
  // Most indices per call of the wrapped oracle (a NetworkGradientOracle copies the examples of a BatchGradient call:
  // 4096 MNIST examples are 12.8 MB). >= 1.
  int64_t max_examples_per_call = 4096;
};

class ShardedGradientOracle final : public GradientOracle {
 public:
  // Collective: every rank of `communicator` calls it, each with its own `local` oracle over the same examples in the
  // same order (REQUIRES; only the dimension, example count and mask are checked: measure.cc fingerprints the data).
  // The sharded oracle has local's dimension, example count and mask. `local` (and its mask) must outlive it; the
  // communicator is duplicated. REQUIRES: MPI is initialized (an active distributed::MpiSession); destroy the oracle
  // before the session.
  // Errors: InvalidArgument when options.max_examples_per_call < 1 or the dimension exceeds 2^31 - 1 (MPI counts are
  // int); FailedPrecondition when the ranks' dimensions or masks differ, Internal when their example counts differ,
  // naming the ranks that differ. Every rank gets the same status.
  static absl::StatusOr<std::unique_ptr<ShardedGradientOracle>> Create(MPI_Comm communicator,
                                                                       GradientOracle* local,
                                                                       ShardedGradientOracleOptions options = {});

  // This process's rank in [0, size()) and the number of ranks P.
  int rank() const { return reducer_->rank(); }
  int size() const { return reducer_->size(); }
  // The examples of Gradient this rank computes: [r N / P, (r + 1) N / P).
  trainer::Shard shard() const { return trainer::ShardOf(example_count(), rank(), size()); }
  // Payload bytes this rank handed to MPI_Allreduce for gradients so far (4 D or 4 x kept per call; the loss's
  // 8 bytes per call are not counted).
  int64_t bytes_communicated() const { return reducer_->bytes_communicated(); }

 protected:
  double ComputeGradient(absl::Span<const float> w, absl::Span<float> gradient) override;
  double ComputeBatchGradient(absl::Span<const float> w, absl::Span<const int64_t> indices,
                              absl::Span<float> gradient) override;

 private:
  ShardedGradientOracle(GradientOracle* local, std::unique_ptr<distributed::MpiGradientReducer> reducer,
                        ShardedGradientOracleOptions options);
  // Sums the wrapped oracle's gradients over this rank's `shard_indices`, adds the sums over the ranks, divides by
  // `total` (the examples of all shards) and returns the mean loss.
  double ReduceMean(absl::Span<const float> w, absl::Span<const int64_t> shard_indices, int64_t total,
                    absl::Span<float> gradient);

  GradientOracle* local_;
  std::unique_ptr<distributed::MpiGradientReducer> reducer_;
  ShardedGradientOracleOptions options_;
  std::vector<int64_t> shard_indices_;  // Gradient's shard, [r N / P, (r + 1) N / P).
  AlignedFloatVector part_;             // One call's mean gradient, D entries.
  std::vector<double> sum_;             // This rank's gradient sum, D entries.
};

}  // namespace parsity::theory

#endif  // PARSITY_THEORY_SHARDED_GRADIENT_ORACLE_H_
