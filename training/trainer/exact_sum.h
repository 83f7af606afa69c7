// Sums of float vectors whose result does not depend on the order of the terms: every term is converted to a 128-bit
// fixed-point number and the integers are added exactly, so any split of the terms over threads and ranks, added in
// any order, gives the same bits. The data-parallel trainer uses it (TrainerConfig::exact_gradient_sum) to make a
// step's gradient independent of the number of ranks and threads.
//
//   ExactSum sum(parameter_count);
//   sum.AddFloats(leaf_gradient);            // any number of times, from any thread's own ExactSum
//   sum.AddScalar(leaf_loss);                // the one scalar that travels with the vector (a loss sum)
//   other_thread_sum.AddTo(&sum);            // or, across processes, an MPI all-reduce of words() with AddWords
//   sum.Round(gradient);                     // each entry rounded (to double, then to float)
//
// Representation: entry i is the integer X_i = sum_t trunc(x_t * 2^64): each term is truncated toward zero to a
// multiple of 2^-64 (terms below 2^-64 in magnitude count as 0) and the truncated terms are added exactly in 128-bit
// two's complement. Words: 2 per entry (low 64 bits, then high 64 bits), entries 0..size-1 the vector, then the
// scalar, then a count of invalid terms.
//
// Invalid terms: a non-finite term or one of magnitude >= 2^40 is not added; it is counted instead. 2^40 leaves room
// for 2^23 terms per entry without overflow (a trainer's step adds one term per leaf of examples). Round() returns
// false when any term was invalid (the caller treats the sum as non-finite: in training, a diverged step).
#ifndef PARSITY_TRAINING_TRAINER_EXACT_SUM_H_
#define PARSITY_TRAINING_TRAINER_EXACT_SUM_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace parsity::trainer {

class ExactSum {
 public:
  // Terms of magnitude at or above this (or not finite) are counted as invalid instead of added.
  static constexpr double kMaxTerm = 1099511627776.0;  // 2^40

  // A zero sum of `size` entries (plus the scalar). REQUIRES: size >= 0.
  explicit ExactSum(int64_t size);

  int64_t size() const { return size_; }

  // Sets every entry, the scalar and the invalid count to 0.
  void Clear();

  // Adds values[i] to entry i. REQUIRES: values.size() == size().
  void AddFloats(absl::Span<const float> values);
  // Adds values[i] to entry i and sets values[i] to 0 (one pass instead of an add and a clear).
  void AddFloatsAndClear(absl::Span<float> values);
  // The compact form for a pruned network: adds values[indices[k]] to entry k and sets it to 0; the other values are
  // neither read nor changed. REQUIRES: indices.size() == size(), each in [0, values.size()).
  void AddFloatsAndClear(absl::Span<float> values, absl::Span<const int32_t> indices);
  // Adds `value` to the scalar.
  void AddScalar(double value);
  // Adds this sum into `*target` exactly (entries, scalar and invalid counts). REQUIRES: target->size() == size().
  void AddTo(ExactSum* target) const;

  // Writes each entry, rounded to double and then to float, times `scale` (a float product) into `values` (NaN
  // everywhere when any term was invalid) and returns whether every term was valid.
  // REQUIRES: values.size() == size().
  bool Round(absl::Span<float> values, float scale = 1.0f) const;
  // The compact form: values[indices[k]] = entry k rounded, times scale; every other value +0.0 (NaN everywhere when
  // any term was invalid). REQUIRES: indices.size() == size(), each in [0, values.size()).
  bool Round(absl::Span<float> values, absl::Span<const int32_t> indices, float scale) const;
  // What Round gives for a sum of exactly one term, values[i], computed in place in one pass without the 128-bit
  // entries (the same bits: tested): for a batch of one leaf. Returns false and writes NaN everywhere when a term is
  // invalid.
  static bool RoundOneTerm(absl::Span<float> values, float scale = 1.0f);
  // What Scalar() gives for a sum of exactly one scalar term.
  static double RoundOneScalar(double value);
  // The scalar rounded to double (NaN when any term was invalid).
  double Scalar() const;
  // Number of terms that were not finite or not below kMaxTerm in magnitude.
  int64_t invalid_terms() const;

  // Bytes of the raw words: what one all-reduce of this sum sends (16 per entry, plus 32).
  int64_t payload_bytes() const { return static_cast<int64_t>(words_.size() * sizeof(uint64_t)); }
  // The raw words (2 * (size() + 2)), for all-reducing a sum across processes: AddWords is the reduction.
  absl::Span<uint64_t> words() { return absl::MakeSpan(words_); }
  absl::Span<const uint64_t> words() const { return absl::MakeConstSpan(words_); }
  // inout[e] += in[e] for `entries` 128-bit entries (2 words each). An MPI user-defined operation calls it.
  static void AddWords(const uint64_t* in, uint64_t* inout, int64_t entries);

  // The scalar's and the invalid count's entry indices (after the vector's entries).
  int64_t scalar_entry() const { return size_; }
  int64_t invalid_entry() const { return size_ + 1; }

 private:
  int64_t size_;
  std::vector<uint64_t> words_;
};

}  // namespace parsity::trainer

#endif  // PARSITY_TRAINING_TRAINER_EXACT_SUM_H_
