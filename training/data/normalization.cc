#include "training/data/normalization.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "tools/base/status_macros.h"

namespace parsity::data {

namespace {

// Values are accumulated in kLanes independent double sums per channel, so that the compiler can vectorize the
// loops (one running sum would serialize every addition).
constexpr int kLanes = 8;

// sum over values of f(value, channel) per channel, where the value at position i has channel i % channels.
template <typename Term>
std::vector<double> SumPerChannel(absl::Span<const float> values, int channels, Term term) {
  const size_t block = static_cast<size_t>(kLanes) * channels;
  std::vector<double> lanes(block, 0.0);
  size_t i = 0;
  for (; i + block <= values.size(); i += block) {
    for (size_t k = 0; k < block; ++k) lanes[k] += term(values[i + k], k);
  }
  for (size_t k = 0; i + k < values.size(); ++k) lanes[k] += term(values[i + k], k);
  std::vector<double> sums(channels, 0.0);
  for (size_t k = 0; k < block; ++k) sums[k % channels] += lanes[k];
  return sums;
}

}  // namespace

absl::StatusOr<NormalizationStats> ComputeNormalizationStats(const Examples& examples, NormalizationScope scope) {
  RETURN_IF_ERROR(ValidateExamples(examples, "examples to normalize"));
  if (examples.size() == 0) {
    return absl::InvalidArgumentError("cannot compute normalization statistics of an empty set of examples");
  }
  const int channels = examples.shape.channels;
  const int groups = scope == NormalizationScope::kScalar ? 1 : channels;
  // Values per group: every value (scalar) or every channels-th value (per channel).
  const double count = static_cast<double>(examples.pixels.size() / groups);
  auto group_of = [groups](int channel) { return groups == 1 ? 0 : channel; };

  const std::vector<double> sums =
      SumPerChannel(examples.pixels, channels, [](float value, size_t) { return static_cast<double>(value); });
  std::vector<double> means(groups, 0.0);
  for (int c = 0; c < channels; ++c) means[group_of(c)] += sums[c];
  for (double& mean : means) mean /= count;

  // The mean of each lane's channel, so that the squared-deviation loop needs no modulo.
  std::vector<double> lane_means(static_cast<size_t>(kLanes) * channels);
  for (size_t k = 0; k < lane_means.size(); ++k) lane_means[k] = means[group_of(static_cast<int>(k % channels))];
  const std::vector<double> squared_deviations =
      SumPerChannel(examples.pixels, channels, [&lane_means](float value, size_t lane) {
        const double deviation = value - lane_means[lane];
        return deviation * deviation;
      });
  std::vector<double> variances(groups, 0.0);
  for (int c = 0; c < channels; ++c) variances[group_of(c)] += squared_deviations[c] / count;

  NormalizationStats stats;
  for (int group = 0; group < groups; ++group) {
    const double stddev = std::sqrt(variances[group]);
    if (!(stddev > 0.0)) {
      return absl::InvalidArgumentError(absl::StrCat("the standard deviation of ",
                                                     groups == 1 ? "the examples" : absl::StrCat("channel ", group),
                                                     " is ", stddev, ": constant input cannot be standardized"));
    }
    stats.mean.push_back(static_cast<float>(means[group]));
    stats.stddev.push_back(static_cast<float>(stddev));
  }
  return stats;
}

absl::Status ApplyNormalization(const NormalizationStats& stats, Examples* examples) {
  const int channels = examples->shape.channels;
  const size_t groups = stats.mean.size();
  if (groups != stats.stddev.size() || (groups != 1 && groups != static_cast<size_t>(channels)) || channels <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("normalization stats have ", stats.mean.size(), " means and ",
                                                   stats.stddev.size(), " standard deviations for ", channels,
                                                   "-channel examples (expected 1 or ", channels, " of each)"));
  }
  for (size_t group = 0; group < groups; ++group) {
    if (!(stats.stddev[group] > 0.0f) || !std::isfinite(stats.stddev[group]) || !std::isfinite(stats.mean[group])) {
      return absl::InvalidArgumentError(absl::StrCat("normalization stats entry ", group, ": mean ", stats.mean[group],
                                                     ", stddev ", stats.stddev[group],
                                                     " (stddev must be positive and finite)"));
    }
  }
  std::vector<float> means(channels);
  std::vector<float> inverse_stddevs(channels);
  for (int c = 0; c < channels; ++c) {
    means[c] = stats.mean[groups == 1 ? 0 : c];
    inverse_stddevs[c] = 1.0f / stats.stddev[groups == 1 ? 0 : c];
  }
  AlignedFloatVector& pixels = examples->pixels;
  for (size_t i = 0; i + channels <= pixels.size(); i += channels) {
    for (int c = 0; c < channels; ++c) pixels[i + c] = (pixels[i + c] - means[c]) * inverse_stddevs[c];
  }
  return absl::OkStatus();
}

}  // namespace parsity::data
