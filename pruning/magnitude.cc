#include "pruning/magnitude.h"

#include <cmath>
#include <vector>

namespace parsity::pruning {

std::vector<double> MagnitudeScores(absl::Span<const float> parameters) {
  std::vector<double> scores(parameters.size());
  for (size_t j = 0; j < parameters.size(); ++j) scores[j] = std::fabs(static_cast<double>(parameters[j]));
  return scores;
}

}  // namespace parsity::pruning
