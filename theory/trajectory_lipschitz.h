// The paper's local Lipschitz constant of the gradient along the training trajectory (theory/README.md, "The theory":
// how the paper measures L): from two parameter vectors one optimizer step apart, the largest secant slope of the
// full-batch gradient along that step. Design note: theory/README.md.
//
//   // In a TrainerHooks::after_step(step, previous, current) callback (training/trainer/trainer.h):
//   absl::StatusOr<TrajectoryLipschitzEstimate> l = EstimateTrajectoryLipschitz(*oracle, previous, current);
//   if (l.ok()) Record(step, l->lipschitz, l->lipschitz_per_gamma);
//
// Definition. With d = m ⊙ (w_cur - w_prev) (m the oracle's mask; all ones when dense) and, for each gamma in
// {0.1, 0.2, ..., 0.9},
//   L_gamma = ||g(w_prev + gamma d) - g(w_prev)|| / ||gamma d||,   g = m ⊙ grad f (GradientOracle::Gradient),
// the estimate is L_hat = max_gamma L_gamma. The points w_prev + gamma d are rounded to float before the gradient is
// taken; the denominator uses the displacement that was actually applied, fl(w_prev + gamma d) - w_prev (computed
// exactly in double), rather than gamma ||d||.
//
// What it rests on. L_hat <= L for any L with ||g(x) - g(y)|| <= L ||x - y||: it is a LOWER bound of the global
// constant, local to the segment [w_prev, w_cur] and to the direction d. When f is twice differentiable on the
// segment, L_gamma = ||(int_0^1 H(w_prev + t gamma d) dt) d|| / ||d||, an average Hessian applied to d̂ = d/||d||: so
// L_hat <= max_t ||H(w_prev + t d)||_2 (compare hessian_top_eigenvalue.h), and for a quadratic f = 1/2 w^T A w every
// L_gamma equals ||A d|| / ||d|| (>= |d^T A d| / d^T d, with equality when d is an eigenvector). The estimate is
// only as exact as the gradients: float gradients with relative error eps_g make L_gamma uncertain by about
// 2 eps_g ||g(w_prev)|| / (gamma ||d||), so a step that is tiny against the gradient gives a noisy estimate.
//
// ReLU networks: the gradient jumps where a pre-activation changes sign, so f is not L-smooth in the strict sense.
// A step that crosses such kinks raises L_gamma by ||jump|| / (gamma ||d||) from the crossing on (L_gamma then
// falls like 1/gamma): over the whole training set the crossings are many and small and average into a smooth
// effective curvature at the scale of the step, but on a small sample a single crossing can dominate L_hat (on a
// 762-parameter network with 300 examples one crossing took L from 0.37 to 3.3, Hessian norm 0.69). The per-gamma
// values show it; prefer large samples (the paper uses the whole training set).
//
// Cost: 1 + (number of gammas) full gradients, i.e. 10 with the paper's gammas (on the whole training set, as the
// paper does, or on a subsample the oracle was built on). Memory: four D-float buffers and one D-double buffer.
#ifndef PARSITY_THEORY_TRAJECTORY_LIPSCHITZ_H_
#define PARSITY_THEORY_TRAJECTORY_LIPSCHITZ_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "theory/gradient_oracle.h"

namespace parsity::theory {

// 0.1, 0.2, ..., 0.9: the fractions of the step at which the paper evaluates the gradient.
std::vector<double> PaperGammas();

struct TrajectoryLipschitzOptions {
  // Fractions of the step, each in (0, 1], at least one.
  std::vector<double> gammas = PaperGammas();
};

struct TrajectoryLipschitzEstimate {
  double lipschitz = 0;                     // L_hat = max over gammas of L_gamma (units: gradient per parameter unit).
  double argmax_gamma = 0;                  // The gamma that attains the maximum (the first one on ties).
  std::vector<double> gammas;               // As in the options, in their order.
  std::vector<double> lipschitz_per_gamma;  // L_gamma, one per gamma.
  double step_norm = 0;                     // ||d||, the masked step.
  double loss = 0;                          // f(w_prev), as the oracle reports it.
  double gradient_norm = 0;                 // ||g(w_prev)||, masked.
  int64_t gradient_evaluations = 0;         // Full gradients taken: 1 + gammas.size().
};

// L_hat of the step from `previous` to `current` (see the header comment).
// Errors:
//  - InvalidArgument: previous or current not of oracle.dimension() entries, or not finite; a gamma outside (0, 1]
//    or no gammas;
//  - FailedPrecondition: the masked step d is zero (previous == current on every kept coordinate), or gamma d is too
//    small to move any coordinate in float for some gamma; a gradient is not finite (a diverged model).
absl::StatusOr<TrajectoryLipschitzEstimate> EstimateTrajectoryLipschitz(GradientOracle& oracle,
                                                                        absl::Span<const float> previous,
                                                                        absl::Span<const float> current,
                                                                        const TrajectoryLipschitzOptions& options = {});

}  // namespace parsity::theory

#endif  // PARSITY_THEORY_TRAJECTORY_LIPSCHITZ_H_
