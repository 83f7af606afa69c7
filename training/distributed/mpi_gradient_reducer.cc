#include "training/distributed/mpi_gradient_reducer.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tools/base/check.h"
#include "tools/base/status_macros.h"

namespace parsity::distributed {
namespace {

constexpr uint64_t kMultiplier = 0x9fb21c651e98df25ULL;

// splitmix64's finalizer: every input bit affects every output bit.
uint64_t Finalize(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// "rank 1", "ranks 1, 3", or for long lists "62 ranks (0, 2, 3, ...)".
std::string RankList(const std::vector<int>& ranks) {
  if (ranks.size() == 1) return absl::StrCat("rank ", ranks[0]);
  if (ranks.size() <= 8) return absl::StrCat("ranks ", absl::StrJoin(ranks, ", "));
  return absl::StrCat(ranks.size(), " ranks (", ranks[0], ", ", ranks[1], ", ", ranks[2], ", ...)");
}

// The MPI user-defined operation of SumExact: inout += in, entry by entry, exactly.
void AddExactEntries(void* in, void* inout, int* entries, MPI_Datatype* /*type*/) {
  trainer::ExactSum::AddWords(static_cast<const uint64_t*>(in), static_cast<uint64_t*>(inout), *entries);
}

}  // namespace

uint64_t Fingerprint64(const void* data, size_t size) {
  const unsigned char* bytes = static_cast<const unsigned char*>(data);
  uint64_t hash = Finalize(size ^ 0x243f6a8885a308d3ULL);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes + i, 8);
    hash = (hash ^ word) * kMultiplier;
    hash ^= hash >> 32;
  }
  if (i < size) {
    uint64_t word = 0;
    std::memcpy(&word, bytes + i, size - i);
    hash = (hash ^ word) * kMultiplier;
  }
  return Finalize(hash);
}

MpiGradientReducer::MpiGradientReducer(MPI_Comm communicator, int rank, int size, int64_t parameter_count)
    : communicator_(communicator), rank_(rank), size_(size), parameter_count_(parameter_count), fingerprints_(size) {}

absl::StatusOr<std::unique_ptr<MpiGradientReducer>> MpiGradientReducer::Create(MPI_Comm communicator,
                                                                               int64_t parameter_count,
                                                                               const nn::Mask* mask) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  PARSITY_CHECK(initialized);
  // Every rank validates the same arguments, so every rank returns the same error before any collective call.
  if (parameter_count < 1) {
    return absl::InvalidArgumentError(absl::StrCat("parameter_count: ", parameter_count, " must be >= 1"));
  }
  if (parameter_count > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter_count: ", parameter_count, " is more than an MPI count (int) can hold"));
  }
  if (mask != nullptr) RETURN_IF_ERROR(mask->CheckCovers(parameter_count));

  MPI_Comm duplicate;
  // The caller's communicator may still abort on errors; the duplicate returns them to CheckMpi.
  MPI_Comm_dup(communicator, &duplicate);
  MPI_Comm_set_errhandler(duplicate, MPI_ERRORS_RETURN);
  int rank = 0, size = 0;
  MPI_Comm_rank(duplicate, &rank);
  MPI_Comm_size(duplicate, &size);
  std::unique_ptr<MpiGradientReducer> reducer(new MpiGradientReducer(duplicate, rank, size, parameter_count));
  if (mask != nullptr) {
    reducer->sparse_ = true;
    reducer->kept_indices_ = mask->KeptIndices();  // CheckCovers: one entry per parameter, fewer than 2^31.
    reducer->packed_.resize(reducer->kept_indices_.size());
  }
  // What every rank must agree on: the buffer size and which entries travel.
  uint64_t fingerprint = Fingerprint64(&parameter_count, sizeof(parameter_count));
  if (mask != nullptr) {
    fingerprint ^= Fingerprint64(mask->values().data(), mask->values().size() * sizeof(float));
  }
  RETURN_IF_ERROR(reducer->CheckFingerprintsAgree(
      fingerprint, mask != nullptr ? "parameter counts or pruning masks" : "parameter counts",
      absl::StatusCode::kFailedPrecondition));
  return reducer;
}

MpiGradientReducer::~MpiGradientReducer() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (exact_sum_op_ != MPI_OP_NULL) MPI_Op_free(&exact_sum_op_);
  if (exact_entry_type_ != MPI_DATATYPE_NULL) MPI_Type_free(&exact_entry_type_);
  MPI_Comm_free(&communicator_);
}

void MpiGradientReducer::CheckMpi(int code, const char* call, const char* method) const {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  std::fprintf(stderr, "rank %d of %d: %s in MpiGradientReducer::%s failed: %.*s; aborting every rank\n", rank_, size_,
               call, method, length, text);
  std::fflush(stderr);
  MPI_Abort(communicator_, 1);
}

int64_t MpiGradientReducer::payload_bytes_per_step() const {
  const int64_t entries = sparse_ ? static_cast<int64_t>(kept_indices_.size()) : parameter_count_;
  return entries * static_cast<int64_t>(sizeof(float));
}

void MpiGradientReducer::SumGradients(absl::Span<float> gradient_sum) {
  PARSITY_CHECK(static_cast<int64_t>(gradient_sum.size()) == parameter_count_);
  ++reductions_;
  bytes_communicated_ += payload_bytes_per_step();
  if (!sparse_) {
    CheckMpi(MPI_Allreduce(MPI_IN_PLACE, gradient_sum.data(), static_cast<int>(gradient_sum.size()), MPI_FLOAT, MPI_SUM,
                           communicator_),
             "MPI_Allreduce", "SumGradients");
    return;
  }
  const int32_t* indices = kept_indices_.data();
  float* packed = packed_.data();
  const int kept = static_cast<int>(kept_indices_.size());
  for (int i = 0; i < kept; ++i) packed[i] = gradient_sum[indices[i]];
  CheckMpi(MPI_Allreduce(MPI_IN_PLACE, packed, kept, MPI_FLOAT, MPI_SUM, communicator_), "MPI_Allreduce",
           "SumGradients");
  std::fill(gradient_sum.begin(), gradient_sum.end(), 0.0f);
  for (int i = 0; i < kept; ++i) gradient_sum[indices[i]] = packed[i];
}

void MpiGradientReducer::SumExact(trainer::ExactSum* sum) {
  PARSITY_CHECK(sum != nullptr && sum->size() + 2 <= std::numeric_limits<int>::max());
  if (exact_sum_op_ == MPI_OP_NULL) {
    CheckMpi(MPI_Type_contiguous(2, MPI_UINT64_T, &exact_entry_type_), "MPI_Type_contiguous", "SumExact");
    CheckMpi(MPI_Type_commit(&exact_entry_type_), "MPI_Type_commit", "SumExact");
    CheckMpi(MPI_Op_create(&AddExactEntries, /*commute=*/1, &exact_sum_op_), "MPI_Op_create", "SumExact");
  }
  ++reductions_;
  const int entries = static_cast<int>(sum->size() + 2);
  bytes_communicated_ += static_cast<int64_t>(entries) * 2 * static_cast<int64_t>(sizeof(uint64_t));
  CheckMpi(MPI_Allreduce(MPI_IN_PLACE, sum->words().data(), entries, exact_entry_type_, exact_sum_op_, communicator_),
           "MPI_Allreduce", "SumExact");
}

void MpiGradientReducer::SumScalars(absl::Span<double> values) {
  CheckMpi(
      MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, communicator_),
      "MPI_Allreduce", "SumScalars");
}

absl::Status MpiGradientReducer::CheckFingerprintsAgree(uint64_t fingerprint, absl::string_view what,
                                                        absl::StatusCode code) {
  CheckMpi(MPI_Allgather(&fingerprint, 1, MPI_UINT64_T, fingerprints_.data(), 1, MPI_UINT64_T, communicator_),
           "MPI_Allgather", "Check*Identical");
  if (std::all_of(fingerprints_.begin(), fingerprints_.end(), [&](uint64_t f) { return f == fingerprints_[0]; })) {
    return absl::OkStatus();
  }
  // The reference is the most common fingerprint; among equally common ones, the one the lowest rank holds.
  std::map<uint64_t, std::vector<int>> ranks_of;
  for (int r = 0; r < size_; ++r) ranks_of[fingerprints_[r]].push_back(r);
  const std::vector<int>* agreeing = nullptr;
  for (const auto& [value, ranks] : ranks_of) {
    if (agreeing == nullptr || ranks.size() > agreeing->size() ||
        (ranks.size() == agreeing->size() && ranks[0] < (*agreeing)[0])) {
      agreeing = &ranks;
    }
  }
  std::vector<int> differing;
  for (int r = 0; r < size_; ++r) {
    if (fingerprints_[r] != fingerprints_[(*agreeing)[0]]) differing.push_back(r);
  }
  const std::string when = reductions_ > 0 ? absl::StrCat(" after ", reductions_, " gradient all-reduces") : "";
  return absl::Status(
      code, absl::StrCat(what, " differ across the ", size_, " data-parallel ranks", when, ": ", RankList(differing),
                         differing.size() == 1 ? " differs" : " differ", " from ", RankList(*agreeing)));
}

absl::Status MpiGradientReducer::CheckParametersIdentical(absl::Span<const float> parameters) {
  return CheckBytesIdentical(parameters.data(), parameters.size() * sizeof(float), "parameters");
}

absl::Status MpiGradientReducer::CheckBytesIdentical(const void* data, size_t size, absl::string_view what) {
  return CheckFingerprintsAgree(Fingerprint64(data, size), what);
}

}  // namespace parsity::distributed
