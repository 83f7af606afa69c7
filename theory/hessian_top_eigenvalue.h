// The Hessian's eigenvalue of largest magnitude at a point, by power iteration on finite-difference
// Hessian-vector products: the curvature that bounds the trajectory Lipschitz estimate (trajectory_lipschitz.h),
// ||H||_2 = |lambda_max|. Design note: theory/README.md.
//
//   ASSIGN_OR_RETURN(HessianEigenvalueEstimate top, EstimateHessianTopEigenvalue(*oracle, parameters, {.seed = 7}));
//   if (top.converged) Record(top.eigenvalue, top.magnitude);
//
// Hessian-vector product (central difference of the masked gradient g = m ⊙ grad f, GradientOracle::Gradient):
//   H v ≈ (g(w + h v) - g(w - h v)) / (2 h),   for a unit vector v with m ⊙ v = v,
//   h = relative_step * (1 + ||m ⊙ w||),  relative_step = 1e-4 by default.
// Error terms: O(h^2 ||D^3 f||) truncation (0 for a quadratic); about eps_g ||g|| / h from float gradients with
// relative error eps_g; and, for ReLU networks, the gradient's jumps where a pre-activation changes sign: a
// displacement that crosses such kinks adds jump / h terms that are not linear in v, and power iteration on them
// does not converge (a 762-parameter ReLU network on 300 examples converges, residual 2e-3, for relative_step in
// [1e-5, 1e-4] and fails from 3e-4 up; the cube-root rule cbrt(FLT_EPSILON) ≈ 4.9e-3, best for smooth objectives,
// is far too large there). With many examples the crossings are many and small and the quotient measures the
// curvature smoothed over the scale h. The factor (1 + ||w||) keeps each coordinate's perturbation a fixed fraction
// of the parameters' scale. Points w ± h v are rounded to float; the product is attributed to the direction actually
// applied, u = (fl(w + h v) - fl(w - h v)) / (2 h) (in double), so rounding of the points costs no accuracy.
//
// Power iteration: v_0 = a standard Gaussian vector from std::mt19937_64(seed) (Box-Muller on raw 53-bit uniforms,
// portable across standard libraries), masked and normalized, or the caller's start vector; then for k = 1, 2, ...
//   y_k = H u_k (the product above),  rho_k = u_k^T y_k / u_k^T u_k  (the Rayleigh quotient),  v_{k+1} = y_k/||y_k||,
// stopping when |rho_k - rho_{k-1}| <= tolerance * |rho_k| (converged) or after max_iterations products.
//
// What it rests on: f twice differentiable near w, so that H is symmetric and the difference quotient approximates
// it (ReLU networks are only piecewise smooth: see the kinks above);
// a unique eigenvalue of largest magnitude with a gap: the error of rho_k falls like (|lambda_2| / |lambda_1|)^(2k),
// so a small gap converges slowly, and two eigenvalues +-lambda of equal magnitude make v oscillate (rho then tends
// to an average, and converged may stay false); a start vector not orthogonal to the top eigenvector (true with
// probability 1 for the Gaussian start). |rho_k| <= ||H||_2 for every k: before convergence the estimate is a lower
// bound of the spectral norm. The relative-change test can stop early on a plateau; `residual` says how close the
// returned pair is to an eigenpair.
//
// Cost: 2 full gradients per iteration.
#ifndef PARSITY_THEORY_HESSIAN_TOP_EIGENVALUE_H_
#define PARSITY_THEORY_HESSIAN_TOP_EIGENVALUE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "theory/gradient_oracle.h"

namespace parsity::theory {

// 1e-4: the default relative finite-difference step (see the header comment).
double DefaultRelativeStep();

struct HessianOptions {
  int max_iterations = 100;  // Hessian-vector products at most: >= 1.
  double tolerance = 1e-3;   // Relative change of the Rayleigh quotient that counts as converged: > 0.
  double relative_step = 0;  // h / (1 + ||m ⊙ w||); 0 means DefaultRelativeStep(). Must be >= 0 and finite.
  uint64_t seed = 0;         // Of the Gaussian start vector.
  // Optional start vector of dimension() entries (masked and normalized here), e.g. the previous measurement's
  // eigenvector as a warm start; empty: the Gaussian start from `seed`.
  std::vector<float> start = {};
};

struct HessianEigenvalueEstimate {
  double eigenvalue = 0;              // The last Rayleigh quotient rho: signed, of the largest-magnitude eigenvalue.
  double magnitude = 0;               // |eigenvalue|: the spectral-norm estimate ||H||_2.
  int iterations = 0;                 // Hessian-vector products taken.
  bool converged = false;             // The relative-change test passed within max_iterations.
  double residual = 0;                // ||H u - rho u|| / (|rho| ||u||) at the last iterate (0 when rho is 0).
  double finite_difference_step = 0;  // h.
  std::vector<float> eigenvector;     // The last unit direction u / ||u|| (masked), D entries.
};

// H v ≈ (g(w + h v) - g(w - h v)) / (2 h) with the given h (see above), written to `product` (D entries), for any
// direction v (masked here; need not be unit). Returns the direction actually applied, u (D entries, double).
// REQUIRES: sizes == oracle.dimension(), h > 0 (checked; aborts). Cost: 2 full gradients.
std::vector<double> HessianVectorProduct(GradientOracle& oracle, absl::Span<const float> w, absl::Span<const double> v,
                                         double h, absl::Span<double> product);

// The eigenvalue of largest magnitude of the masked Hessian P H P at `w` (see the header comment).
// Errors: InvalidArgument when w or options.start has the wrong size or is not finite, w is not finite,
// max_iterations < 1, tolerance <= 0 or not finite, relative_step < 0 or not finite, or the (masked) start vector is
// zero; FailedPrecondition when a gradient is not finite.
absl::StatusOr<HessianEigenvalueEstimate> EstimateHessianTopEigenvalue(GradientOracle& oracle,
                                                                       absl::Span<const float> w,
                                                                       const HessianOptions& options = {});

}  // namespace parsity::theory

#endif  // PARSITY_THEORY_HESSIAN_TOP_EIGENVALUE_H_
