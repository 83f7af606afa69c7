// Magnitude pruning at initialization: score every parameter by its absolute value |w_j| in the initial buffer, the
// simplest baseline against SNIP. Biases start at 0, so their score is 0 and they are pruned first.
//
//   std::vector<double> scores = MagnitudeScores(initial_parameters);
//   ASSIGN_OR_RETURN(nn::Mask mask, SelectTopScores(scores, network.layout(), 0.9, {}));   // selection.h
//   mask.Apply(initial_parameters);
#ifndef PARSITY_PRUNING_MAGNITUDE_H_
#define PARSITY_PRUNING_MAGNITUDE_H_

#include <vector>

#include "absl/types/span.h"

namespace parsity::pruning {

// s_j = |w_j|, exactly (a float's absolute value is a double without rounding). NaN stays NaN (SelectTopScores
// rejects it). One score per entry of `parameters`.
std::vector<double> MagnitudeScores(absl::Span<const float> parameters);

}  // namespace parsity::pruning

#endif  // PARSITY_PRUNING_MAGNITUDE_H_
