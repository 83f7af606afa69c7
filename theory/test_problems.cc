#include "theory/test_problems.h"

#include <cmath>
#include <utility>

#include "Eigen/QR"
#include "tools/base/check.h"
#include "training/nn/activation.h"
#include "training/nn/fully_connected.h"

namespace parsity::theory::testing {
namespace {

Eigen::VectorXd ToVector(absl::Span<const float> w) {
  Eigen::VectorXd vector(w.size());
  for (size_t i = 0; i < w.size(); ++i) vector[i] = w[i];
  return vector;
}

void MaskVector(const nn::Mask* mask, Eigen::VectorXd* vector) {
  if (mask == nullptr) return;
  for (Eigen::Index i = 0; i < vector->size(); ++i) {
    if (!mask->is_kept(i)) (*vector)[i] = 0;
  }
}

void Store(const Eigen::VectorXd& vector, absl::Span<float> out) {
  for (Eigen::Index i = 0; i < vector.size(); ++i) out[i] = static_cast<float>(vector[i]);
}

}  // namespace

double StandardNormal(std::mt19937_64& engine) {
  constexpr double kScale = 1.0 / 9007199254740992.0;  // 2^-53
  const double u1 = static_cast<double>((engine() >> 11) + 1) * kScale;
  const double u2 = static_cast<double>(engine() >> 11) * kScale;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

Eigen::MatrixXd SymmetricMatrixWithSpectrum(const std::vector<double>& eigenvalues, uint64_t seed) {
  const auto n = static_cast<Eigen::Index>(eigenvalues.size());
  std::mt19937_64 engine(seed);
  Eigen::MatrixXd gaussian(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) gaussian(i, j) = StandardNormal(engine);
  }
  const Eigen::MatrixXd q = Eigen::HouseholderQR<Eigen::MatrixXd>(gaussian).householderQ();
  Eigen::VectorXd lambda(n);
  for (Eigen::Index i = 0; i < n; ++i) lambda[i] = eigenvalues[i];
  Eigen::MatrixXd a = q * lambda.asDiagonal() * q.transpose();
  return (a + a.transpose()) / 2;  // Exactly symmetric.
}

QuadraticOracle::QuadraticOracle(Eigen::MatrixXd a, const nn::Mask* mask)
    : GradientOracle(a.rows(), /*example_count=*/1, mask), a_(std::move(a)) {
  PARSITY_CHECK(a_.rows() == a_.cols());
}

double QuadraticOracle::ComputeGradient(absl::Span<const float> w, absl::Span<float> gradient) {
  const Eigen::VectorXd x = ToVector(w);
  const Eigen::VectorXd g = a_ * x;
  Store(g, gradient);
  return 0.5 * x.dot(g);
}

double QuadraticOracle::ComputeBatchGradient(absl::Span<const float> w, absl::Span<const int64_t>,
                                             absl::Span<float> gradient) {
  return ComputeGradient(w, gradient);
}

double LeastSquaresModel::PopulationGradientNormSquared(absl::Span<const float> w, const nn::Mask* mask) const {
  double sum = 0;
  for (size_t j = 0; j < variances.size(); ++j) {
    if (mask != nullptr && !mask->is_kept(j)) continue;
    const double g = variances[j] * (w[j] - w_star[j]);
    sum += g * g;
  }
  return sum;
}

double LeastSquaresModel::PopulationCovarianceTrace(absl::Span<const float> w, const nn::Mask* mask) const {
  double u_c_u = 0;  // At the pruned point m ⊙ w: pruned coordinates contribute w_star_j^2.
  for (size_t j = 0; j < variances.size(); ++j) {
    const double w_j = mask == nullptr || mask->is_kept(j) ? w[j] : 0.0;
    u_c_u += variances[j] * std::pow(w_j - w_star[j], 2);
  }
  double kept_variance = 0;
  for (size_t j = 0; j < variances.size(); ++j) {
    if (mask == nullptr || mask->is_kept(j)) kept_variance += variances[j];
  }
  return (u_c_u + noise_std * noise_std) * kept_variance + PopulationGradientNormSquared(w, mask);
}

double LeastSquaresModel::PopulationGradientVariance(absl::Span<const float> w) const {
  double c1 = 0, c2 = 0, c3 = 0;  // u^T C^k u
  for (size_t j = 0; j < variances.size(); ++j) {
    const double u2 = std::pow(w[j] - w_star[j], 2);
    c1 += variances[j] * u2;
    c2 += variances[j] * variances[j] * u2;
    c3 += variances[j] * variances[j] * variances[j] * u2;
  }
  return (c1 + noise_std * noise_std) * c3 + c2 * c2;
}

LeastSquaresOracle::LeastSquaresOracle(const LeastSquaresModel& model, int64_t examples, uint64_t seed,
                                       const nn::Mask* mask)
    : GradientOracle(static_cast<int64_t>(model.variances.size()), examples, mask) {
  PARSITY_CHECK(model.w_star.size() == model.variances.size());
  const auto d = static_cast<Eigen::Index>(model.variances.size());
  std::mt19937_64 engine(seed);
  x_.resize(examples, d);
  y_.resize(examples);
  for (int64_t i = 0; i < examples; ++i) {
    double target = 0;
    for (Eigen::Index j = 0; j < d; ++j) {
      x_(i, j) = std::sqrt(model.variances[j]) * StandardNormal(engine);
      target += x_(i, j) * model.w_star[j];
    }
    y_[i] = target + model.noise_std * StandardNormal(engine);
  }
}

Eigen::VectorXd LeastSquaresOracle::ExampleGradient(absl::Span<const float> w, int64_t i) const {
  const Eigen::VectorXd x = x_.row(i).transpose();
  Eigen::VectorXd point = ToVector(w);
  MaskVector(mask(), &point);  // The oracle's objective is f(m ⊙ w).
  Eigen::VectorXd g = x * (x.dot(point) - y_[i]);
  MaskVector(mask(), &g);
  return g;
}

LeastSquaresOracle::Moments LeastSquaresOracle::ExactMoments(absl::Span<const float> w) const {
  const int64_t n = example_count();
  Eigen::VectorXd mean = Eigen::VectorXd::Zero(dimension());
  for (int64_t i = 0; i < n; ++i) mean += ExampleGradient(w, i);
  mean /= static_cast<double>(n);
  Moments moments;
  moments.gradient_norm_squared = mean.squaredNorm();
  for (int64_t i = 0; i < n; ++i) moments.deviation_sum += (ExampleGradient(w, i) - mean).squaredNorm();
  return moments;
}

double LeastSquaresOracle::ComputeGradient(absl::Span<const float> w, absl::Span<float> gradient) {
  const Eigen::VectorXd residual = x_ * ToVector(w) - y_;
  Store(x_.transpose() * residual / static_cast<double>(example_count()), gradient);
  return 0.5 * residual.squaredNorm() / static_cast<double>(example_count());
}

double LeastSquaresOracle::ComputeBatchGradient(absl::Span<const float> w, absl::Span<const int64_t> indices,
                                                absl::Span<float> gradient) {
  const Eigen::VectorXd point = ToVector(w);
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(dimension());
  double loss = 0;
  for (const int64_t i : indices) {
    const double residual = x_.row(i).dot(point) - y_[i];
    sum += x_.row(i).transpose() * residual;
    loss += 0.5 * residual * residual;
  }
  const auto count = static_cast<double>(indices.size());
  Store(sum / count, gradient);
  return loss / count;
}

std::unique_ptr<nn::Network> TinyNetwork() {
  nn::NetworkBuilder builder("tiny", nn::ImageShape{6, 6, 1}, 10);
  int x = builder.Add(std::make_unique<nn::FullyConnectedLayer>("fc1", builder.shape(nn::NetworkBuilder::kInput), 16),
                      {nn::NetworkBuilder::kInput});
  x = builder.Add(std::make_unique<nn::ReluLayer>("relu1", builder.shape(x)), {x});
  x = builder.Add(std::make_unique<nn::FullyConnectedLayer>("fc2", builder.shape(x), 10), {x});
  return std::move(builder).Build(/*chunk_examples=*/64);
}

data::Examples TinyNetworkExamples(int64_t count, uint64_t seed) {
  constexpr int kPixels = 36;
  std::mt19937_64 engine(seed);
  std::vector<double> teacher(10 * kPixels);
  for (double& value : teacher) value = StandardNormal(engine);
  data::Examples examples;
  examples.shape = {6, 6, 1};
  examples.num_classes = 10;
  for (int64_t i = 0; i < count; ++i) {
    const size_t begin = examples.pixels.size();
    for (int p = 0; p < kPixels; ++p) examples.pixels.push_back(static_cast<float>(StandardNormal(engine)));
    int best = 0;
    double best_score = -1e300;
    for (int c = 0; c < 10; ++c) {
      double score = 0;
      for (int p = 0; p < kPixels; ++p) score += teacher[c * kPixels + p] * examples.pixels[begin + p];
      if (score > best_score) best_score = score, best = c;
    }
    examples.labels.push_back(best);
  }
  return examples;
}

nn::Mask RandomHalfMask(int64_t size, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::vector<float> values(size);
  for (float& value : values) value = static_cast<float>(engine() >> 63);
  values[0] = 1.0f;
  absl::StatusOr<nn::Mask> mask = nn::Mask::Create(std::move(values));
  PARSITY_CHECK_OK(mask.status());
  return *std::move(mask);
}

}  // namespace parsity::theory::testing
