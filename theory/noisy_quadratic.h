// The noisy quadratic model (NQM, Zhang et al. 2019): a problem where the theory's constants are known exactly, so the
// steps-vs-batch curve that SGD and heavy-ball momentum produce can be checked against the scaling model
// (scaling_model.h). Design note: theory/README.md.
//
//   ASSIGN_OR_RETURN(NoisyQuadratic problem, MakeInverseIndexQuadratic(/*dimension=*/256));
//   RunSettings settings;  settings.batch_size = 64;  settings.goal = 0.1;
//   ASSIGN_OR_RETURN(TunedPoint point, TuneLearningRate(problem, settings, TuningOptions()));  // point.steps
//
// The model. f(w) = 1/2 sum_i h_i w_i^2 with a diagonal Hessian H = diag(h), minimum f* = 0 at w = 0. A minibatch
// gradient of batch size B is g = H w + xi with xi ~ N(0, C / B) and C = diag(c) the per-example gradient covariance;
// drawing one Gaussian of variance c_i / B per coordinate is exactly the mean of B independent per-example Gaussian
// gradients. The theory's constants (theory/README.md, "The theory") are then exact:
//   L = max_i h_i,   Delta = f(w0),   sigma^2 = tr(C) = sum_i c_i.
// The default problem (MakeInverseIndexQuadratic) is Zhang et al.'s: h_i = 1 / i, C = H, w0 = (1, ..., 1).
//
// Optimizers: SGD (w <- w - eta g) and heavy-ball momentum in the paper's form (v <- m v + g; w <- w - eta v, v0 = 0);
// m = 0 is SGD.
//
// Steps-to-result: the first step k (number of updates made) at which the criterion is <= the goal, evaluated after
// every step (k = 0 if w0 already meets it). The criterion is either the loss f(w_k) (Zhang et al.'s choice) or the
// squared norm of the true gradient ||H w_k||^2 (the theory's criterion: its eps bounds E||grad f||^2), both in closed
// form from w_k. A stochastic run measures one trajectory; ExpectedCriterion gives E[criterion] exactly (the
// second-moment recursion), the plain reference the simulation is tested against.
//
// Randomness: std::mt19937_64 seeded with RunSettings::seed at the start of every run, normals by Box-Muller on the
// engine's raw 64-bit outputs (StandardNormalPair), so the same seed gives the same trajectory with every toolchain.
// The tuner runs every learning rate and every batch size with the same seed (common random numbers).
#ifndef PARSITY_THEORY_NOISY_QUADRATIC_H_
#define PARSITY_THEORY_NOISY_QUADRATIC_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace parsity::theory {

// The problem: three vectors of the same length d >= 1.
struct NoisyQuadratic {
  std::vector<double> curvatures;       // h_i > 0: the Hessian's diagonal.
  std::vector<double> noise_variances;  // c_i >= 0: per-example gradient variance of coordinate i (batch 1).
  std::vector<double> initial_point;    // w0, finite.
};

// OK, or kInvalidArgument naming the field and index at fault: empty or mismatched sizes, h_i <= 0, c_i < 0, any
// non-finite value.
absl::Status ValidateNoisyQuadratic(const NoisyQuadratic& problem);

// Zhang et al. 2019's NQM: h_i = 1 / i and c_i = h_i (i = 1..d), w0_i = 1. L = 1, Delta = H_d / 2 and
// sigma^2 = H_d, with H_d = sum_{i<=d} 1/i the harmonic number. kInvalidArgument unless dimension >= 1.
absl::StatusOr<NoisyQuadratic> MakeInverseIndexQuadratic(int dimension);

// The theory's constants of `problem`. REQUIRES: ValidateNoisyQuadratic(problem).ok().
double LipschitzConstant(const NoisyQuadratic& problem);  // L = max_i h_i.
double InitialGap(const NoisyQuadratic& problem);         // Delta = f(w0) - 0.
double NoiseVariance(const NoisyQuadratic& problem);      // sigma^2 = sum_i c_i.

// What "reaching the goal" measures.
enum class Criterion {
  kLoss,                 // f(w) = 1/2 sum_i h_i w_i^2.
  kGradientNormSquared,  // ||grad f(w)||^2 = sum_i h_i^2 w_i^2.
};
// "loss" / "gradient_norm_squared", and back (kInvalidArgument for other names).
absl::string_view CriterionName(Criterion criterion);
absl::StatusOr<Criterion> ParseCriterion(absl::string_view name);

// The criterion at w. REQUIRES: w.size() == problem.curvatures.size().
double CriterionValue(const NoisyQuadratic& problem, Criterion criterion, absl::Span<const double> w);

// One optimization run.
struct RunSettings {
  double learning_rate = 0.1;  // eta > 0.
  double momentum = 0.0;       // m in [0, 1); 0 is plain SGD.
  int64_t batch_size = 1;      // B >= 1.
  double goal = 0.1;           // The run completes at the first step with criterion <= goal; > 0.
  Criterion criterion = Criterion::kLoss;
  int64_t max_steps = 100000;  // Step budget, >= 0.
  uint64_t seed = 0;           // Seeds the noise; the same seed gives the same noise sequence z.
};

// OK, or kInvalidArgument naming the field at fault.
absl::Status ValidateRunSettings(const RunSettings& settings);

struct RunResult {
  bool reached = false;   // The criterion reached the goal within max_steps.
  bool diverged = false;  // The criterion became non-finite or exceeded kDivergenceFactor x max(criterion at w0, goal).
  int64_t steps = 0;      // Steps-to-result if reached, else the steps run before stopping.
  double final_value = 0;  // The criterion at the last step run.
};

// A run stops as diverged once its criterion exceeds this multiple of max(criterion at w0, goal), or is not finite.
inline constexpr double kDivergenceFactor = 1e8;

// One stochastic trajectory from w0 under `settings`; consumes d engine outputs per step (d rounded up to even).
// Cost O(d) per step, no allocation inside the loop. Errors: the two Validate* functions'.
absl::StatusOr<RunResult> SimulateRun(const NoisyQuadratic& problem, const RunSettings& settings);

// E[criterion(w_k)] for k = 0..steps under `settings` (goal, max_steps and seed are ignored), from the exact linear
// recursion of each coordinate's second moments: with x = (w_i, v_i) and x' = A x + (-eta, 1) xi_i,
//   A = [[1 - eta h_i, -eta m], [h_i, m]],   E[x' x'^T] = A E[x x^T] A^T + (c_i / B) [[eta^2, -eta], [-eta, 1]],
// and E[f] = 1/2 sum_i h_i E[w_i^2], E||grad f||^2 = sum_i h_i^2 E[w_i^2]. The reference the simulation is tested
// against. Errors: the Validate* functions', or kInvalidArgument when steps < 0.
absl::StatusOr<std::vector<double>> ExpectedCriterion(const NoisyQuadratic& problem, const RunSettings& settings,
                                                      int64_t steps);

// The learning-rate search of one "study" (experiments/PROTOCOL.md: steps-to-result is the fewest steps over the
// trials): a coarse log grid min_learning_rate * 2^(j / coarse_points_per_octave) up to max_learning_rate, then a fine
// grid with `fine_points_per_octave` points per factor 2 within one coarse spacing either side of the coarse winner
// (clipped to [min, max]). Every run has the same seed, hence the same noise: the runs of a grid advance in lockstep
// sharing one noise draw per step, and the grid stops at the first step at which some run reaches the goal (ties go to
// the smaller learning rate). That equals running every learning rate alone (SimulateRun) and taking the fewest steps,
// and costs about (runs) x (best steps) coordinate updates, as a study runner that stops hopeless trials early.
struct TuningOptions {
  double min_learning_rate = 1.0 / 4096;  // > 0.
  double max_learning_rate = 4.0;         // >= min_learning_rate. SGD diverges above 2 / L anyway.
  int coarse_points_per_octave = 1;       // >= 1.
  int fine_points_per_octave = 8;         // >= coarse_points_per_octave.
};

// OK, or kInvalidArgument naming the field at fault.
absl::Status ValidateTuningOptions(const TuningOptions& options);

struct TunedPoint {
  int64_t batch_size = 0;
  double learning_rate = 0;  // The winning learning rate (0 if no run reached the goal).
  bool reached = false;      // Some learning rate reached the goal within max_steps.
  int64_t steps = 0;         // Its steps-to-result (max_steps if none reached).
  int runs = 0;              // Runs made by the search.
};

// Tunes the learning rate for `settings.batch_size` (settings.learning_rate is ignored; the other fields are used as
// given). Errors: the Validate* functions'.
absl::StatusOr<TunedPoint> TuneLearningRate(const NoisyQuadratic& problem, const RunSettings& settings,
                                            const TuningOptions& options);

// TuneLearningRate at every batch size (each >= 1), in the order given. Errors: as TuneLearningRate, or
// kInvalidArgument for an empty list or a batch size < 1.
absl::StatusOr<std::vector<TunedPoint>> MeasureStepsToResultCurve(const NoisyQuadratic& problem,
                                                                  const RunSettings& settings,
                                                                  absl::Span<const int64_t> batch_sizes,
                                                                  const TuningOptions& options);

// Two independent N(0, 1) draws from two engine outputs by Box-Muller: u1 = (top 53 bits of the first + 1) 2^-53 in
// (0, 1], u2 = (top 53 bits of the second) 2^-53 in [0, 1), r = sqrt(-2 ln u1), (r cos 2 pi u2, r sin 2 pi u2).
// |z| <= sqrt(2 ln 2^53) ~ 8.57. Toolchain-independent up to the last bits of libm's log, cos and sin.
void StandardNormalPair(std::mt19937_64& engine, double& first, double& second);

// Fills `out` with N(0, 1) draws, two per StandardNormalPair (the last one discarded when out.size() is odd).
void FillStandardNormals(std::mt19937_64& engine, absl::Span<double> out);

}  // namespace parsity::theory

#endif  // PARSITY_THEORY_NOISY_QUADRATIC_H_
