// Synchronous data-parallel training over MPI: the trainer's GradientReducer (training/trainer/gradient_reducer.h)
// as one MPI_Allreduce(MPI_SUM) of the gradient buffer per step. With a pruning mask, only the kept entries travel
// (sparse communication): they are packed into a contiguous buffer made once at creation, all-reduced and unpacked,
// so a 90%-sparse network sends a tenth of the bytes. Measurements and a model of the communication time:
// experiments/README.md, "Data-parallel training".
//
//   MpiSession session;                                                      // mpi_session.h
//   ASSIGN_OR_RETURN(std::unique_ptr<MpiGradientReducer> reducer,
//                    MpiGradientReducer::Create(session.communicator(), network->parameter_count(), &mask));
//   ASSIGN_OR_RETURN(auto trainer, trainer::Trainer::Create(config, network.get(), &dataset, &mask, reducer.get()));
//
// Failures. The reducer's communicator returns MPI errors instead of MPI's default abort, and every call is checked:
// a failed call prints "rank r of P: <call> in <method> failed: <MPI's error string>" to stderr and ends the whole
// job with MPI_Abort (a rank cannot continue once a collective has failed, and the others would wait for it
// forever). A rank that dies or exits elsewhere is detected by the launcher: mpirun stops the other ranks and exits
// non-zero naming the rank; under Slurm, pass srun --kill-on-bad-exit=1 for the same behaviour.
#ifndef PARSITY_TRAINING_DISTRIBUTED_MPI_GRADIENT_REDUCER_H_
#define PARSITY_TRAINING_DISTRIBUTED_MPI_GRADIENT_REDUCER_H_

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "training/nn/mask.h"
#include "training/trainer/gradient_reducer.h"

namespace parsity::distributed {

// A 64-bit fingerprint of `size` bytes: the same bytes give the same value on every machine of a job (unlike
// absl::Hash, which is seeded per process); different bytes collide with probability about 2^-64 (for accidental
// differences; it is not a cryptographic hash). Reads 8 bytes at a time, several GB/s.
uint64_t Fingerprint64(const void* data, size_t size);

class MpiGradientReducer final : public trainer::GradientReducer {
 public:
  // Collective: every rank of `communicator` calls it with the same `parameter_count` and mask. The communicator is
  // duplicated, so the reducer's messages never mix with the caller's. `mask` (nullable; need not outlive the
  // reducer) turns on sparse communication: SumGradients then sends mask->kept_count() floats instead of
  // parameter_count. REQUIRES: MPI is initialized (an active MpiSession).
  // Errors: InvalidArgument when parameter_count < 1 or > 2^31 - 1 (MPI counts are int), or when the mask does not
  // cover parameter_count entries; FailedPrecondition when the ranks disagree
  // about parameter_count or the mask (e.g. a SNIP mask computed from different data files on different nodes),
  // naming the ranks that differ.
  static absl::StatusOr<std::unique_ptr<MpiGradientReducer>> Create(MPI_Comm communicator, int64_t parameter_count,
                                                                    const nn::Mask* mask);
  // Frees the duplicated communicator. REQUIRES: before MPI_Finalize (destroy the reducer before the MpiSession).
  ~MpiGradientReducer() override;
  MpiGradientReducer(const MpiGradientReducer&) = delete;
  MpiGradientReducer& operator=(const MpiGradientReducer&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  // Dense: MPI_Allreduce(MPI_IN_PLACE, gradient_sum, parameter_count, MPI_FLOAT, MPI_SUM). Sparse: packs the kept
  // entries (in index order) into the reducer's buffer, all-reduces it, writes the sums back to the kept entries and
  // +0.0f to the pruned ones (which the optimizers read as zero anyway, optimizers/optimizer.h). Every rank receives
  // the same bits (tested with Open MPI for P <= 3; the trainer's consistency check catches an MPI that differs). The
  // kept entries get the dense call's sums up to the order in which MPI adds the ranks' values: with P = 2 there is
  // one addition, so packed and dense agree bit for bit (tested); with P > 2 Open MPI chooses its algorithm by
  // message size and may add an entry's values in an order that depends on its position in the buffer, so the two
  // can differ in the last bit. Allocates nothing.
  // REQUIRES: gradient_sum.size() == parameter_count (checked; aborts otherwise).
  void SumGradients(absl::Span<float> gradient_sum) override;

  // One MPI_Allreduce of the sum's 128-bit entries (an MPI datatype of two uint64 words) with a user-defined,
  // commutative operation that adds them exactly (ExactSum::AddWords): however MPI orders and groups the ranks'
  // contributions, every rank gets the same exact sum. The sum travels as it is, 16 bytes per entry (plus 32 for the
  // scalar and the invalid count): the trainer makes it compact (kept entries only) for a pruned network, so the
  // reducer's own sparse packing is not used. REQUIRES: every rank passes a sum of the same size.
  void SumExact(trainer::ExactSum* sum) override;

  // MPI_Allreduce(MPI_IN_PLACE, values, n, MPI_DOUBLE, MPI_SUM). Allocates nothing.
  void SumScalars(absl::Span<double> values) override;

  // All-gathers Fingerprint64 of every rank's parameters (8 bytes per rank). Errors: Internal naming the ranks whose
  // parameters differ from the majority's (ties go to the group holding the lowest rank) and the number of gradient
  // all-reduces done so far (the training step; omitted when 0), e.g. "parameters differ across the 2 data-parallel
  // ranks after 7 gradient all-reduces: rank 1 differs from rank 0". Every rank gets the same status.
  absl::Status CheckParametersIdentical(absl::Span<const float> parameters) override;

  // Like CheckParametersIdentical for any bytes, e.g. the training set before a run: OK when every rank holds the
  // same bytes; else Internal naming `what` and the differing ranks.
  absl::Status CheckBytesIdentical(const void* data, size_t size, absl::string_view what);

  // Payload bytes this rank handed to MPI_Allreduce in SumGradients: payload_bytes_per_step() per call. (A ring
  // all-reduce moves 2 (P - 1) / P times that over each rank's link; MPI's framing is not counted.)
  int64_t bytes_communicated() const override { return bytes_communicated_; }
  // Bytes of one SumGradients call: 4 * mask->kept_count() when sparse, 4 * parameter_count when dense.
  int64_t payload_bytes_per_step() const;

  // Whether SumGradients sends only the mask's kept entries.
  bool sparse() const { return sparse_; }

 private:
  MpiGradientReducer(MPI_Comm communicator, int rank, int size, int64_t parameter_count);
  // Aborts the job with a message naming this rank, `call` and `method` unless `code` is MPI_SUCCESS.
  void CheckMpi(int code, const char* call, const char* method) const;
  absl::Status CheckFingerprintsAgree(uint64_t fingerprint, absl::string_view what,
                                      absl::StatusCode code = absl::StatusCode::kInternal);

  MPI_Comm communicator_;
  int rank_;
  int size_;
  int64_t parameter_count_;
  bool sparse_ = false;
  std::vector<int32_t> kept_indices_;   // Sparse only: the mask's kept entries, ascending.
  std::vector<float> packed_;           // Sparse only: kept_indices_.size() floats, reused every step.
  MPI_Datatype exact_entry_type_ = MPI_DATATYPE_NULL;  // Two MPI_UINT64_T: one ExactSum entry.
  MPI_Op exact_sum_op_ = MPI_OP_NULL;                  // ExactSum::AddWords.
  std::vector<uint64_t> fingerprints_;  // size_ entries, reused by every check.
  int64_t reductions_ = 0;
  int64_t bytes_communicated_ = 0;
};

}  // namespace parsity::distributed

#endif  // PARSITY_TRAINING_DISTRIBUTED_MPI_GRADIENT_REDUCER_H_
