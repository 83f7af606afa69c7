// The scaling model: how steps-to-result depend on batch size, in closed form from the theory (theory/README.md, "The
// theory") and fitted to measured curves; predictions of a sparse network's curve from its Lipschitz constant, and
// their scores against observations. Design note: theory/README.md.
//
//   ScalingCurve curve{{1, 2, 4, 8, 16, 32, 64}, {3300, 1700, 900, 520, 330, 240, 190}};
//   ASSIGN_OR_RETURN(ScalingFit fit, FitScalingCurve(curve));  // fit.min_steps, fit.critical_batch_size, .regimes
//   ASSIGN_OR_RETURN(PredictionScore score, ScorePrediction(FittedSteps(fit, curve.batch_sizes), curve.steps));
//
// Three parts:
// 1. The theory's closed form K(B) (TheoryStepsToResult): an upper bound on the steps SGD needs to bring the mean
//    E||grad f||^2 of its iterates below eps, with the best constant step eta <= 1/L. From
//      (1/K) sum_k E||grad f(w_k)||^2 <= 2 Delta / (eta K) + L eta sigma^2 / B
//    the bound meets eps with the fewest steps at eta* = min(eps B / (2 L sigma^2), 1/L), giving
//      K(B) = 8 L Delta sigma^2 / (B eps^2)       for B <= B* = 2 sigma^2 / eps   (perfect scaling: K B constant),
//      K(B) = 2 L Delta / (eps - sigma^2 / B)      for B >  B*                    (diminishing returns),
//    continuous at B* (both 4 L Delta / eps) and falling to the floor 2 L Delta / eps as B -> infinity (maximal data
//    parallelism). Both regimes are proportional to L.
//    Momentum (heavy ball, v <- m v + g, w <- w - eta v). theory/README.md states only that momentum variants have the
//    same structure with the effective step eta_eff = eta / (1 - m). This library takes exactly that and no more: the
//    SGD bound with eta replaced by eta_eff, while the raw step keeps the SGD constraint eta <= 1/L, i.e. eta_eff <= 1
//    / ((1 - m) L). (A heuristic, not a proven heavy-ball bound; heavy ball on a quadratic is in fact
//    stable up to eta < 2 (1 + m) / L.) The optimum is then eta_eff* = min(eps B / (2 L sigma^2), 1 / ((1 - m) L)):
//      K_m(B) = 8 L Delta sigma^2 / (B eps^2)                   for B <= B*_m = 2 sigma^2 / ((1 - m) eps),
//      K_m(B) = 2 L Delta (1 - m) / (eps - sigma^2 / ((1 - m) B))  above, floor 2 L Delta (1 - m) / eps,
//    that is K_m(B) = (1 - m) K_0((1 - m) B): K does NOT simply scale by (1 - m). Perfect scaling is unchanged
//    (momentum buys nothing at small B), the critical batch size grows by 1 / (1 - m) and the floor falls by (1 - m):
//    the curve slides along the perfect-scaling line, which is how momentum moves the end of perfect scaling to larger
//    B (experiments/PROTOCOL.md, finding 2; Zhang et al. 2019).
// 2. The empirical form S(B) = S_min (1 + B_crit / B) (McCandlish et al. 2018), fitted to measured (B, steps) by
//    weighted least squares in log space (FitScalingCurve), with a bootstrap confidence interval, residuals, and a
//    regime per point (ClassifyRegime).
// 3. Predictions: a sparse network's curve from the dense one, steps_sparse(B) = steps_dense(B) L_sparse / L_dense
//    (the paper's claim: steps scale with L), scored by the natural-log error |ln(predicted / observed)|.
//
// Errors are absl::Status (kInvalidArgument) naming the argument at fault: non-positive or non-finite values,
// mismatched sizes, fewer than two distinct batch sizes for a fit.
#ifndef PARSITY_THEORY_SCALING_MODEL_H_
#define PARSITY_THEORY_SCALING_MODEL_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tools/base/json.h"

namespace parsity::theory {

// The three regimes of a steps-vs-batch curve (experiments/PROTOCOL.md, finding 1).
enum class ScalingRegime {
  kPerfectScaling,          // Steps ~ 1 / B.
  kDiminishingReturns,      // Steps still fall, more slowly.
  kMaximalDataParallelism,  // Steps have stopped falling.
};

// "PERFECT_SCALING", "DIMINISHING_RETURNS", "MAXIMAL_DATA_PARALLELISM".
absl::string_view ScalingRegimeName(ScalingRegime regime);

// ---------------------------------------------------------------------------------------------------------------
// 1. The theory's closed form.

// The theory's constants for one workload, and the optimizer's momentum.
struct TheoryConstants {
  double lipschitz = 0;       // L > 0: the gradient's Lipschitz constant.
  double gap = 0;             // Delta = f(w0) - f* > 0.
  double noise_variance = 0;  // sigma^2 >= 0: per-example gradient variance (a batch of B has sigma^2 / B).
  double goal = 0;            // eps > 0: the target for E||grad f||^2 (or the criterion's units, see README).
  double momentum = 0;        // m in [0, 1); 0 is plain SGD.
};

// OK, or kInvalidArgument naming the field at fault (any non-finite value too).
absl::Status ValidateTheoryConstants(const TheoryConstants& constants);

// K(B) above (K_m(B) when momentum > 0), in steps, real-valued (not rounded). Errors: ValidateTheoryConstants's, or
// kInvalidArgument unless batch_size is finite and > 0.
absl::StatusOr<double> TheoryStepsToResult(const TheoryConstants& constants, double batch_size);

// The raw learning rate eta* = (1 - m) eta_eff* that attains K(B): min((1 - m) eps B / (2 L sigma^2), 1 / L) (1 / L
// when sigma^2 = 0). Errors: as TheoryStepsToResult.
absl::StatusOr<double> TheoryLearningRate(const TheoryConstants& constants, double batch_size);

// B* = 2 sigma^2 / ((1 - m) eps): the end of perfect scaling. Errors: ValidateTheoryConstants's.
absl::StatusOr<double> TheoryCriticalBatchSize(const TheoryConstants& constants);

// The floor lim_{B -> inf} K(B) = 2 L Delta (1 - m) / eps. Errors: ValidateTheoryConstants's.
absl::StatusOr<double> TheoryMinimalSteps(const TheoryConstants& constants);

// ---------------------------------------------------------------------------------------------------------------
// 2. Fitting S(B) = S_min (1 + B_crit / B).

// Measured steps-to-result against batch size: two vectors of the same length, every value finite and > 0. Batch
// sizes may repeat (several measurements at one B) and need not be sorted.
struct ScalingCurve {
  std::vector<double> batch_sizes;
  std::vector<double> steps;
};

// OK, or kInvalidArgument: mismatched sizes, no points, a value that is not finite and > 0 (index named).
absl::Status ValidateScalingCurve(const ScalingCurve& curve);

// The regime of batch size B on a curve with critical batch size B_crit. The fitted curve's local slope is
// d ln S / d ln B = -B_crit / (B + B_crit), so the rule "slope within 0.2 of -1 / of 0" is the same as:
//   B <= B_crit / 4  -> kPerfectScaling          (S is within 25% of the perfect-scaling line S_min B_crit / B),
//   B >= 4 B_crit    -> kMaximalDataParallelism  (S is within 25% of the floor S_min),
//   otherwise        -> kDiminishingReturns.
// REQUIRES: batch_size > 0, critical_batch_size >= 0.
ScalingRegime ClassifyRegime(double batch_size, double critical_batch_size);
inline constexpr double kRegimeFactor = 4.0;

struct ScalingFitOptions {
  // Per-point weights w_i > 0 of the log-space least squares; empty means all 1.
  std::vector<double> weights;
  // Bootstrap resamples for the confidence intervals; 0 skips the bootstrap (intervals then equal the estimate).
  int bootstrap_resamples = 1000;
  double confidence_level = 0.95;  // In (0, 1).
  uint64_t seed = 0;               // Seeds the bootstrap's std::mt19937_64.
};

struct ConfidenceInterval {
  double lower = 0;
  double upper = 0;
};

struct ScalingFit {
  double min_steps = 0;            // S_min.
  double critical_batch_size = 0;  // B_crit.
  // B_crit is searched in [min B / 1e4, max B * 1e4]; true when the optimum lies at either end (the data show no
  // perfect-scaling regime, or no floor), so B_crit there is only a bound.
  bool critical_batch_size_at_bound = false;
  ConfidenceInterval min_steps_interval;
  ConfidenceInterval critical_batch_size_interval;
  int bootstrap_resamples = 0;  // Resamples used.
  // r_i = ln(steps_i) - ln(S(B_i)), in the curve's order; their unweighted RMS and max |r_i|.
  std::vector<double> log_residuals;
  double rms_log_residual = 0;
  double max_abs_log_residual = 0;
  std::vector<ScalingRegime> regimes;  // ClassifyRegime(B_i, B_crit), in the curve's order.
};

// Fits S(B) = S_min (1 + B_crit / B) by minimizing sum_i w_i (ln steps_i - ln S_min - ln(1 + B_crit / B_i))^2.
// For a fixed B_crit the optimal ln S_min is the weighted mean of ln steps_i - ln(1 + B_crit / B_i), so the fit is a
// 1-D search over u = ln B_crit in [ln(min B / 1e4), ln(max B * 1e4)]: a grid of 100 points brackets the best, then
// Boost.Math's Brent minimizer (brent_find_minima at half the double mantissa, 26 bits) refines it, and up to five
// Gauss-Newton steps on the profiled residuals polish it (each kept only if it lowers the objective). With noise-free
// data on the model S_min and B_crit come out exact to about 1e-12 relative.
// Bootstrap: `bootstrap_resamples` resamples of the points with replacement (with their weights; a resample with fewer
// than two distinct batch sizes is drawn again), each refitted; the intervals are the (1 -+ level) / 2 percentiles
// (linear interpolation between order statistics) of the refitted S_min and B_crit.
// Errors: ValidateScalingCurve's; kInvalidArgument for fewer than two distinct batch sizes, weights of the wrong
// size or not finite and > 0, bootstrap_resamples < 0, confidence_level outside (0, 1).
absl::StatusOr<ScalingFit> FitScalingCurve(const ScalingCurve& curve, const ScalingFitOptions& options = {});

// S(B) = S_min (1 + B_crit / B) of a fit, at one batch size or at each. REQUIRES: batch sizes > 0.
double FittedSteps(const ScalingFit& fit, double batch_size);
std::vector<double> FittedSteps(const ScalingFit& fit, absl::Span<const double> batch_sizes);

// {"min_steps":..,"min_steps_ci":[lo,hi],"critical_batch_size":..,"critical_batch_size_ci":[lo,hi],
//  "critical_batch_size_at_bound":false,"bootstrap_resamples":1000,"rms_log_residual":..,"max_abs_log_residual":..}
JsonObject ScalingFitJson(const ScalingFit& fit);

// ---------------------------------------------------------------------------------------------------------------
// 3. Predictions and their scores.

// The sparse network's predicted curve: the dense curve's batch sizes, steps x lipschitz_sparse / lipschitz_dense.
// Errors: ValidateScalingCurve(dense)'s; kInvalidArgument unless both Lipschitz constants are finite and > 0.
absl::StatusOr<ScalingCurve> PredictSparseCurve(const ScalingCurve& dense, double lipschitz_dense,
                                                double lipschitz_sparse);

// How far a prediction is from observations, in natural-log units: e_i = |ln(predicted_i / observed_i)|
// (0.1 is about 10% off; symmetric: a factor 2 too high or too low both give ln 2 = 0.693).
struct PredictionScore {
  double mean_abs_log_error = 0;  // (1/n) sum_i e_i.
  double max_abs_log_error = 0;   // max_i e_i.
  int count = 0;                  // n: the points compared.
};

// Scores predicted[i] against observed[i]. Errors: kInvalidArgument for mismatched sizes, no points, or a value that
// is not finite and > 0.
absl::StatusOr<PredictionScore> ScorePrediction(absl::Span<const double> predicted, absl::Span<const double> observed);

// Scores a predicted curve against observations at the batch sizes they share (exact equality): every observed point
// whose batch size the prediction has is compared with it; other points of either curve are ignored. Observed batch
// sizes may repeat, predicted ones may not. Errors: ValidateScalingCurve's for either curve; kInvalidArgument for a
// repeated predicted batch size or when the curves share no batch size.
absl::StatusOr<PredictionScore> ScoreCurvePrediction(const ScalingCurve& predicted, const ScalingCurve& observed);

}  // namespace parsity::theory

#endif  // PARSITY_THEORY_SCALING_MODEL_H_
