#include "training/data/shuffle.h"

#include <numeric>
#include <utility>

#include "tools/base/check.h"

namespace parsity::data {

uint64_t UniformIndex(std::mt19937_64& engine, uint64_t bound) {
  PARSITY_CHECK(bound >= 1);
  // 2^64 mod bound, computed in 64-bit arithmetic; outputs below it would favour small results.
  const uint64_t threshold = (0 - bound) % bound;
  uint64_t draw = engine();
  while (draw < threshold) draw = engine();
  return draw % bound;
}

void FisherYatesShuffle(std::mt19937_64& engine, std::vector<int64_t>* values) {
  for (size_t i = values->size(); i > 1; --i) {
    const uint64_t j = UniformIndex(engine, i);
    std::swap((*values)[i - 1], (*values)[j]);
  }
}

std::vector<int64_t> ShuffledIndices(int64_t count, std::mt19937_64& engine) {
  PARSITY_CHECK(count >= 0);
  std::vector<int64_t> indices(count);
  std::iota(indices.begin(), indices.end(), int64_t{0});
  FisherYatesShuffle(engine, &indices);
  return indices;
}

}  // namespace parsity::data
