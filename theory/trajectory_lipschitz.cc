#include "theory/trajectory_lipschitz.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/base/aligned_vector.h"

namespace parsity::theory {
namespace {

bool AllFinite(absl::Span<const float> values) {
  for (const float value : values) {
    if (!std::isfinite(value)) return false;
  }
  return true;
}

}  // namespace

std::vector<double> PaperGammas() { return {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}; }

absl::StatusOr<TrajectoryLipschitzEstimate> EstimateTrajectoryLipschitz(GradientOracle& oracle,
                                                                        absl::Span<const float> previous,
                                                                        absl::Span<const float> current,
                                                                        const TrajectoryLipschitzOptions& options) {
  const int64_t dimension = oracle.dimension();
  if (static_cast<int64_t>(previous.size()) != dimension || static_cast<int64_t>(current.size()) != dimension) {
    return absl::InvalidArgumentError(absl::StrCat("trajectory Lipschitz: previous has ", previous.size(),
                                                   " entries and current ", current.size(), ", the model ", dimension));
  }
  if (!AllFinite(previous) || !AllFinite(current)) {
    return absl::InvalidArgumentError("trajectory Lipschitz: the parameters are not finite");
  }
  if (options.gammas.empty()) return absl::InvalidArgumentError("trajectory Lipschitz: no gammas");
  for (const double gamma : options.gammas) {
    if (!(gamma > 0 && gamma <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat("trajectory Lipschitz: gamma ", gamma, " is not in (0, 1]"));
    }
  }

  // The masked step, exactly: a difference of two floats is exact in double (up to extreme exponent gaps).
  std::vector<double> step(dimension);
  for (int64_t i = 0; i < dimension; ++i) step[i] = static_cast<double>(current[i]) - previous[i];
  oracle.ApplyMask(absl::MakeSpan(step));
  double step_norm_squared = 0;
  for (const double value : step) step_norm_squared += value * value;
  if (step_norm_squared == 0) {
    return absl::FailedPreconditionError(
        "trajectory Lipschitz: the step is zero (previous and current agree on every kept coordinate)");
  }

  TrajectoryLipschitzEstimate estimate;
  estimate.gammas = options.gammas;
  estimate.step_norm = std::sqrt(step_norm_squared);
  AlignedFloatVector base_gradient(dimension), gradient(dimension), point(dimension);
  estimate.loss = oracle.Gradient(previous, absl::MakeSpan(base_gradient));
  ++estimate.gradient_evaluations;
  if (!AllFinite(base_gradient)) {
    return absl::FailedPreconditionError("trajectory Lipschitz: the gradient at previous is not finite");
  }
  double gradient_norm_squared = 0;
  for (const float value : base_gradient) gradient_norm_squared += static_cast<double>(value) * value;
  estimate.gradient_norm = std::sqrt(gradient_norm_squared);

  for (const double gamma : options.gammas) {
    double displacement_squared = 0;
    for (int64_t i = 0; i < dimension; ++i) {
      point[i] = static_cast<float>(previous[i] + gamma * step[i]);
      const double displacement = static_cast<double>(point[i]) - previous[i];
      displacement_squared += displacement * displacement;
    }
    if (displacement_squared == 0) {
      return absl::FailedPreconditionError(absl::StrCat("trajectory Lipschitz: at gamma ", gamma, " the step (norm ",
                                                        estimate.step_norm, ") moves no parameter in float"));
    }
    oracle.Gradient(point, absl::MakeSpan(gradient));
    ++estimate.gradient_evaluations;
    double difference_squared = 0;
    for (int64_t i = 0; i < dimension; ++i) {
      const double difference = static_cast<double>(gradient[i]) - base_gradient[i];
      difference_squared += difference * difference;
    }
    if (!std::isfinite(difference_squared)) {
      return absl::FailedPreconditionError(
          absl::StrCat("trajectory Lipschitz: the gradient at gamma ", gamma, " is not finite"));
    }
    const double lipschitz = std::sqrt(difference_squared / displacement_squared);
    estimate.lipschitz_per_gamma.push_back(lipschitz);
    if (estimate.lipschitz_per_gamma.size() == 1 || lipschitz > estimate.lipschitz) {
      estimate.lipschitz = lipschitz;
      estimate.argmax_gamma = gamma;
    }
  }
  return estimate;
}

}  // namespace parsity::theory
