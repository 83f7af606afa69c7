#include "pruning/random.h"

#include <cstdint>
#include <random>
#include <vector>

#include "tools/base/check.h"

namespace parsity::pruning {

double UnitIntervalFromBits(uint64_t bits) {
  // 2^-53: the spacing of doubles in [0.5, 1), so every value is exact.
  constexpr double kTwoToMinus53 = 1.0 / 9007199254740992.0;
  return static_cast<double>(bits >> 11) * kTwoToMinus53;
}

std::vector<double> RandomScores(int64_t count, std::mt19937_64& engine) {
  PARSITY_CHECK(count >= 0);
  std::vector<double> scores(static_cast<size_t>(count));
  for (double& score : scores) score = UnitIntervalFromBits(engine());
  return scores;
}

}  // namespace parsity::pruning
