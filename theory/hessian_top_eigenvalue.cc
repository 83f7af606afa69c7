#include "theory/hessian_top_eigenvalue.h"

#include <cmath>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/base/aligned_vector.h"
#include "tools/base/check.h"

namespace parsity::theory {
namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;

// Standard normal deviates by Box-Muller on 53-bit uniforms from raw engine output (std::normal_distribution is
// implementation-defined), two at a time.
void FillStandardNormal(std::mt19937_64& engine, absl::Span<double> values) {
  constexpr double kScale = 1.0 / 9007199254740992.0;  // 2^-53
  for (size_t i = 0; i < values.size(); i += 2) {
    const double u1 = static_cast<double>((engine() >> 11) + 1) * kScale;  // (0, 1]
    const double u2 = static_cast<double>(engine() >> 11) * kScale;        // [0, 1)
    const double radius = std::sqrt(-2.0 * std::log(u1));
    values[i] = radius * std::cos(kTwoPi * u2);
    if (i + 1 < values.size()) values[i + 1] = radius * std::sin(kTwoPi * u2);
  }
}

double Dot(absl::Span<const double> a, absl::Span<const double> b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

bool AllFinite(absl::Span<const float> values) {
  for (const float value : values) {
    if (!std::isfinite(value)) return false;
  }
  return true;
}

}  // namespace

double DefaultRelativeStep() { return 1e-4; }

std::vector<double> HessianVectorProduct(GradientOracle& oracle, absl::Span<const float> w, absl::Span<const double> v,
                                         double h, absl::Span<double> product) {
  const int64_t dimension = oracle.dimension();
  PARSITY_CHECK(static_cast<int64_t>(w.size()) == dimension && static_cast<int64_t>(v.size()) == dimension);
  PARSITY_CHECK(static_cast<int64_t>(product.size()) == dimension);
  PARSITY_CHECK(h > 0);
  std::vector<double> direction(v.begin(), v.end());
  oracle.ApplyMask(absl::MakeSpan(direction));
  AlignedFloatVector plus(dimension), minus(dimension), plus_gradient(dimension), minus_gradient(dimension);
  std::vector<double> applied(dimension);
  for (int64_t i = 0; i < dimension; ++i) {
    plus[i] = static_cast<float>(w[i] + h * direction[i]);
    minus[i] = static_cast<float>(w[i] - h * direction[i]);
    applied[i] = (static_cast<double>(plus[i]) - minus[i]) / (2 * h);
  }
  oracle.Gradient(plus, absl::MakeSpan(plus_gradient));
  oracle.Gradient(minus, absl::MakeSpan(minus_gradient));
  for (int64_t i = 0; i < dimension; ++i) {
    product[i] = (static_cast<double>(plus_gradient[i]) - minus_gradient[i]) / (2 * h);
  }
  return applied;
}

absl::StatusOr<HessianEigenvalueEstimate> EstimateHessianTopEigenvalue(GradientOracle& oracle,
                                                                       absl::Span<const float> w,
                                                                       const HessianOptions& options) {
  const int64_t dimension = oracle.dimension();
  if (static_cast<int64_t>(w.size()) != dimension) {
    return absl::InvalidArgumentError(
        absl::StrCat("Hessian eigenvalue: the point has ", w.size(), " entries, the model ", dimension));
  }
  if (!AllFinite(w)) return absl::InvalidArgumentError("Hessian eigenvalue: the point is not finite");
  if (options.max_iterations < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("Hessian eigenvalue: max_iterations ", options.max_iterations, " must be >= 1"));
  }
  if (!(options.tolerance > 0) || !std::isfinite(options.tolerance)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Hessian eigenvalue: tolerance ", options.tolerance, " must be positive and finite"));
  }
  if (!(options.relative_step >= 0) || !std::isfinite(options.relative_step)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Hessian eigenvalue: relative_step ", options.relative_step, " must be >= 0 and finite"));
  }

  std::vector<double> v(dimension);
  if (options.start.empty()) {
    std::mt19937_64 engine(options.seed);
    FillStandardNormal(engine, absl::MakeSpan(v));
  } else {
    if (static_cast<int64_t>(options.start.size()) != dimension || !AllFinite(options.start)) {
      return absl::InvalidArgumentError(absl::StrCat("Hessian eigenvalue: the start vector has ", options.start.size(),
                                                     " entries (the model ", dimension, ") or is not finite"));
    }
    v.assign(options.start.begin(), options.start.end());
  }
  oracle.ApplyMask(absl::MakeSpan(v));
  const double start_norm = std::sqrt(Dot(v, v));
  if (start_norm == 0) return absl::InvalidArgumentError("Hessian eigenvalue: the (masked) start vector is zero");
  for (double& value : v) value /= start_norm;

  std::vector<float> masked_w(w.begin(), w.end());
  oracle.ApplyMask(absl::MakeSpan(masked_w));
  double w_norm_squared = 0;
  for (const float value : masked_w) w_norm_squared += static_cast<double>(value) * value;
  const double relative_step = options.relative_step > 0 ? options.relative_step : DefaultRelativeStep();

  HessianEigenvalueEstimate estimate;
  estimate.finite_difference_step = relative_step * (1 + std::sqrt(w_norm_squared));
  std::vector<double> product(dimension);
  double previous_rho = 0;
  for (int iteration = 1; iteration <= options.max_iterations; ++iteration) {
    const std::vector<double> applied =
        HessianVectorProduct(oracle, w, v, estimate.finite_difference_step, absl::MakeSpan(product));
    estimate.iterations = iteration;
    const double applied_squared = Dot(applied, applied);
    const double product_squared = Dot(product, product);
    if (!std::isfinite(product_squared)) {
      return absl::FailedPreconditionError(
          absl::StrCat("Hessian eigenvalue: a gradient is not finite at iteration ", iteration));
    }
    if (applied_squared == 0) {
      return absl::FailedPreconditionError(absl::StrCat("Hessian eigenvalue: the finite-difference step ",
                                                        estimate.finite_difference_step,
                                                        " moves no parameter in float"));
    }
    const double rho = Dot(applied, product) / applied_squared;
    double residual_squared = 0;
    for (int64_t i = 0; i < dimension; ++i) {
      const double r = product[i] - rho * applied[i];
      residual_squared += r * r;
    }
    estimate.eigenvalue = rho;
    estimate.magnitude = std::abs(rho);
    estimate.residual = rho == 0 ? 0 : std::sqrt(residual_squared / applied_squared) / std::abs(rho);
    const double applied_norm = std::sqrt(applied_squared);
    estimate.eigenvector.resize(dimension);
    for (int64_t i = 0; i < dimension; ++i) estimate.eigenvector[i] = static_cast<float>(applied[i] / applied_norm);
    if (product_squared == 0) {
      // H u = 0: with a random start the (masked) Hessian vanishes; nothing left to iterate.
      estimate.converged = true;
      break;
    }
    if (iteration >= 2 && std::abs(rho - previous_rho) <= options.tolerance * std::abs(rho)) {
      estimate.converged = true;
      break;
    }
    previous_rho = rho;
    const double product_norm = std::sqrt(product_squared);
    for (int64_t i = 0; i < dimension; ++i) v[i] = product[i] / product_norm;
  }
  return estimate;
}

}  // namespace parsity::theory
