// A pruning mask over a network's flat parameter buffer (training/nn/parameter_buffer.h): one float per parameter,
// exactly 1.0f (kept) or 0.0f (pruned). It is the one sparsity type of parsity: pruning produces it, optimizers keep
// the pruned entries of the parameters exactly zero (training/optimizers/optimizer.h), the MPI reducer sends only
// the kept entries, and the sparse execution plan (training/nn/sparse_plan.h) computes only over them.
//
//   ASSIGN_OR_RETURN(Mask mask, Mask::Create(std::move(keep_values)));   // validates 0/1 values
//   RETURN_IF_ERROR(mask.CheckCovers(network.parameter_count()));
//   mask.Apply(parameters);                                               // pruned entries become +0.0f
#ifndef PARSITY_TRAINING_NN_MASK_H_
#define PARSITY_TRAINING_NN_MASK_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace parsity::nn {

class Mask {
 public:
  // Takes `values`, one per parameter. Errors: InvalidArgument naming the first index whose value is not exactly
  // 0.0f or 1.0f (NaN included; -0.0f counts as 0).
  static absl::StatusOr<Mask> Create(std::vector<float> values);

  // A mask of `size` ones: nothing pruned. REQUIRES: size >= 0.
  static Mask AllKept(int64_t size);

  int64_t size() const { return static_cast<int64_t>(values_.size()); }
  // Number of entries equal to 1 (parameters that train).
  int64_t kept_count() const { return kept_count_; }
  // Number of entries equal to 0 (parameters held at zero).
  int64_t pruned_count() const { return size() - kept_count_; }
  // pruned_count() / size(), in [0, 1]; 0 for an empty mask.
  double sparsity() const;
  // REQUIRES: 0 <= index < size().
  bool is_kept(int64_t index) const { return values_[index] != 0.0f; }
  // The 0/1 values, size() of them.
  absl::Span<const float> values() const { return values_; }
  // The kept entries' indices, ascending (kept_count() of them): what the packed all-reduce and the compact exact
  // gradient sum travel over. REQUIRES: size() < 2^31 (checked).
  std::vector<int32_t> KeptIndices() const;
  // The mask as bits, 16 entries to a word: bit i % 16 of word i / 16 is set iff entry i is kept (ceil(size() / 16)
  // words). A word is one 64-byte line of a float buffer: a zero word is a line of the buffer that a masked pass
  // need not touch, which is what the optimizers and the mean-gradient scaling skip.
  std::vector<uint16_t> KeptBits() const;

  // OK when the mask has one entry per parameter of a buffer of `parameter_count` entries; else InvalidArgument
  // naming both sizes.
  absl::Status CheckCovers(int64_t parameter_count) const;

  // Sets every pruned entry of `buffer` to +0.0f (whatever it held, NaN included) and leaves kept entries
  // bit-for-bit unchanged. REQUIRES: buffer.size() == size() (checked; aborts otherwise).
  void Apply(absl::Span<float> buffer) const;

 private:
  Mask(std::vector<float> values, int64_t kept_count) : values_(std::move(values)), kept_count_(kept_count) {}

  std::vector<float> values_;
  int64_t kept_count_;
};

// A run of consecutive 16-entry lines [first_line, end_line) of a buffer laid out like a mask's KeptBits.
struct LineRun {
  int64_t first_line = 0;
  int64_t end_line = 0;
};

// The lines of [first_line, end_line) that hold a kept entry of `kept_bits`, as maximal runs of consecutive lines in
// ascending order: what a masked pass visits so that it never reads a wholly pruned line, nor tests one line after
// another (the optimizers' steps over a buffer's full lines, the sparse plan's gradient ranges over a tensor's lines).
// REQUIRES: 0 <= first_line <= end_line <= kept_bits.size().
std::vector<LineRun> KeptLineRuns(absl::Span<const uint16_t> kept_bits, int64_t first_line, int64_t end_line);

// Over a buffer laid out like a mask's KeptBits (16 entries to a line): calls kept_entry(i) for every entry i < count
// of a line that holds a kept entry and of the last, partial line, and pruned_line(first) for every other line (its
// first entry). The loop of GradientEvaluator's mean-gradient scaling; the optimizers walk KeptLineRuns instead,
// which does not test every line.
template <typename KeptEntry, typename PrunedLine>
void ForEachLine(absl::Span<const uint16_t> kept_bits, int64_t count, KeptEntry kept_entry, PrunedLine pruned_line) {
  int64_t line_start = 0;
  for (; line_start + 16 <= count; line_start += 16) {
    if (kept_bits[line_start / 16] == 0) {
      pruned_line(line_start);
      continue;
    }
    for (int64_t i = line_start; i < line_start + 16; ++i) kept_entry(i);
  }
  for (int64_t i = line_start; i < count; ++i) kept_entry(i);
}

}  // namespace parsity::nn

#endif  // PARSITY_TRAINING_NN_MASK_H_
