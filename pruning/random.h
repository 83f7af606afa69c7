// Random pruning at initialization: every parameter gets an independent uniform score, so the kept set is a uniform
// random subset of the prunable entries (globally, or per layer, as the selection rule says). The baseline that SNIP
// must beat.
//
//   std::mt19937_64 engine(seed);
//   std::vector<double> scores = RandomScores(network.parameter_count(), engine);
//   ASSIGN_OR_RETURN(nn::Mask mask, SelectTopScores(scores, network.layout(), 0.9, {}));   // selection.h
//
// Reproducibility: std::uniform_real_distribution is implementation-defined, so the scores are made here from the
// engine's raw output, which the C++ standard fixes: the same seed gives the same mask with every compiler and
// standard library.
#ifndef PARSITY_PRUNING_RANDOM_H_
#define PARSITY_PRUNING_RANDOM_H_

#include <cstdint>
#include <random>
#include <vector>

namespace parsity::pruning {

// A double uniform on the 2^53 multiples of 2^-53 in [0, 1): (bits >> 11) * 2^-53, i.e. the top 53 bits of one
// 64-bit engine output. Never 1.
double UnitIntervalFromBits(uint64_t bits);

// `count` scores, score j = UnitIntervalFromBits(the j-th engine output): consumes exactly `count` outputs.
// Distinct entries tie with probability about count^2 / 2^54 (ties go to the lower index, selection.h).
// REQUIRES: count >= 0.
std::vector<double> RandomScores(int64_t count, std::mt19937_64& engine);

}  // namespace parsity::pruning

#endif  // PARSITY_PRUNING_RANDOM_H_
