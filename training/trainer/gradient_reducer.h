// How data-parallel training combines work across processes, as seen by the trainer. A trial's global batch of B
// examples is split into P disjoint, deterministic shards (one per rank, training/trainer/trainer.h); each rank
// sums the per-example gradients of its shard, the reducer adds those sums over ranks, and every rank applies the
// same update. The MPI implementation lives in training/distributed/; a library user who never distributes never
// links MPI. Without a reducer the trainer runs as one process (rank 0 of 1).
//
//   ASSIGN_OR_RETURN(auto reducer,                           // training/distributed/mpi_gradient_reducer.h
//                    MpiGradientReducer::Create(session.communicator(), network->parameter_count(), &mask));
//   Trainer::Create(config, network, dataset, &mask, reducer.get());
#ifndef PARSITY_TRAINING_TRAINER_GRADIENT_REDUCER_H_
#define PARSITY_TRAINING_TRAINER_GRADIENT_REDUCER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "training/trainer/exact_sum.h"

namespace parsity::trainer {

class GradientReducer {
 public:
  virtual ~GradientReducer() = default;

  // This process's index in [0, size()) and the number of processes.
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Replaces `gradient_sum` (a buffer over the whole parameter buffer) by its elementwise sum over all ranks. An
  // implementation may send only the entries a fixed pruning mask keeps (the others are zero everywhere). Every rank
  // must call it with buffers of the same size, in the same order with the other collective calls.
  virtual void SumGradients(absl::Span<float> gradient_sum) = 0;

  // Replaces `*sum` by its sum over all ranks, exactly (training/trainer/exact_sum.h): entries, scalar and invalid
  // count. An implementation may send only the entries a fixed pruning mask keeps. Collective, like SumGradients.
  virtual void SumExact(ExactSum* sum) = 0;

  // Replaces each of `values` (a few scalars: loss sums, counts) by its sum over all ranks, in double.
  virtual void SumScalars(absl::Span<double> values) = 0;

  // OK when `parameters` are bit-identical on every rank; else an Internal error saying which ranks diverged.
  // Collective: every rank calls it at the same step.
  virtual absl::Status CheckParametersIdentical(absl::Span<const float> parameters) = 0;

  // Bytes this rank sent in SumGradients calls so far (the payload, not MPI's framing).
  virtual int64_t bytes_communicated() const = 0;
};

// The examples of a global batch of `batch_size` that rank `rank` of `ranks` processes: [begin, end), contiguous
// and as equal as possible (rank r gets [r B / P, (r + 1) B / P)).
struct Shard {
  int64_t begin = 0;
  int64_t end = 0;
};
inline Shard ShardOf(int64_t batch_size, int rank, int ranks) {
  return {batch_size * rank / ranks, batch_size * (rank + 1) / ranks};
}

}  // namespace parsity::trainer

#endif  // PARSITY_TRAINING_TRAINER_GRADIENT_REDUCER_H_
