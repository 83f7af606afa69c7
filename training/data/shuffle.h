// Reproducible shuffling: the same seed gives the same permutation with every compiler and standard library.
//
// std::shuffle and std::uniform_int_distribution are implementation-defined, so the validation split and the data
// order would change with the toolchain. These functions use only std::mt19937_64, whose output the C++ standard
// fixes, with rejection sampling (uniform, no modulo bias) and the Fisher-Yates shuffle.
//
//   std::mt19937_64 engine(/*seed=*/0);
//   std::vector<int64_t> order = ShuffledIndices(60000, engine);  // a uniform random permutation of 0..59999
#ifndef PARSITY_TRAINING_DATA_SHUFFLE_H_
#define PARSITY_TRAINING_DATA_SHUFFLE_H_

#include <cstdint>
#include <random>
#include <vector>

namespace parsity::data {

// A uniform integer in [0, bound), by rejection: draws x = engine() until x >= 2^64 mod bound, returns x mod bound.
// Consumes one engine output, rarely more. REQUIRES: bound >= 1.
uint64_t UniformIndex(std::mt19937_64& engine, uint64_t bound);

// Shuffles `values` in place (Fisher-Yates, from the back: for i = n-1 down to 1, swap values[i] with
// values[UniformIndex(engine, i + 1)]). Consumes n - 1 draws or slightly more.
void FisherYatesShuffle(std::mt19937_64& engine, std::vector<int64_t>* values);

// A uniform random permutation of 0..count-1: FisherYatesShuffle of the identity. REQUIRES: count >= 0.
std::vector<int64_t> ShuffledIndices(int64_t count, std::mt19937_64& engine);

}  // namespace parsity::data

#endif  // PARSITY_TRAINING_DATA_SHUFFLE_H_
