#include "experiments/study_runner/search_space.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "boost/random/sobol.hpp"
#include "tools/base/check.h"

namespace parsity::experiments {

std::vector<std::vector<double>> SobolPoints(int dimensions, int count) {
  PARSITY_CHECK(dimensions >= 0 && count >= 0);
  std::vector<std::vector<double>> points(count, std::vector<double>(dimensions));
  if (dimensions == 0) return points;
  boost::random::sobol generator(dimensions);
  static_assert(boost::random::sobol::max() == ~uint64_t{0}, "64-bit Sobol outputs");
  for (std::vector<double>& point : points) {
    // x * 2^-64 is exact for the 53 leading bits and rounds below 1: the largest output maps to 1 - 2^-64 -> 1.0 in
    // double, so clamp to the largest double below 1.
    for (double& coordinate : point)
      coordinate = std::min(std::ldexp(static_cast<double>(generator()), -64), std::nextafter(1.0, 0.0));
  }
  return points;
}

double MapToScale(const SearchedMetaparameter& searched, double u) {
  const double min = searched.min(), max = searched.max();
  switch (searched.scale()) {
    case LOG:
      // Exact at u = 0, and at u = 1/2 when max / min is a square (0.01 and 1 give 0.1).
      return min * std::pow(max / min, u);
    case REVERSE_LOG:
      return 1.0 - (1.0 - min) * std::pow((1.0 - max) / (1.0 - min), u);
    case LINEAR:
      return min + u * (max - min);
    case INTEGER:
      return std::min(max, min + std::floor(u * (max - min + 1)));
    default:
      PARSITY_CHECK(false && "unvalidated scale");
      return min;
  }
}

absl::string_view MetaparameterKey(Metaparameter parameter) {
  switch (parameter) {
    case LEARNING_RATE:
      return "learning_rate";
    case MOMENTUM:
      return "momentum";
    case DECAY_STEPS:
      return "decay_steps";
    case END_FACTOR:
      return "end_factor";
    default:
      return "unspecified";
  }
}

absl::string_view ShallueScaleName(Scale scale) {
  switch (scale) {
    case LOG:
      return "LOG_SCALE";
    case REVERSE_LOG:
      return "REVERSE_LOG_SCALE";
    case LINEAR:
      return "LINEAR_SCALE";
    case INTEGER:
      return "INTEGER";
    default:
      return "UNSPECIFIED";
  }
}

Metaparameters TrialMetaparameters(const StudySpec& spec, absl::Span<const double> point) {
  PARSITY_CHECK(static_cast<int>(point.size()) == spec.search_size());
  Metaparameters parameters;
  // Fixed values first; searched ones overwrite them.
  parameters.set_learning_rate(spec.schedule().learning_rate());
  const std::string& optimizer = spec.optimizer().name();
  if (optimizer == "momentum" || optimizer == "nesterov") parameters.set_momentum(spec.optimizer().momentum());
  if (spec.schedule().name() == "linear_decay") {
    parameters.set_decay_steps(spec.schedule().decay_steps());
    parameters.set_end_factor(spec.schedule().end_factor());
  }
  for (int i = 0; i < spec.search_size(); ++i) {
    const double value = MapToScale(spec.search(i), point[i]);
    switch (spec.search(i).parameter()) {
      case LEARNING_RATE:
        parameters.set_learning_rate(value);
        break;
      case MOMENTUM:
        parameters.set_momentum(value);
        break;
      case DECAY_STEPS:
        parameters.set_decay_steps(static_cast<int64_t>(value));
        break;
      case END_FACTOR:
        parameters.set_end_factor(value);
        break;
      default:
        break;
    }
  }
  return parameters;
}

JsonObject MetaparametersJson(const Metaparameters& parameters) {
  JsonObject json;
  if (parameters.has_learning_rate()) json.Add("learning_rate", parameters.learning_rate());
  if (parameters.has_momentum()) json.Add("momentum", parameters.momentum());
  if (parameters.has_decay_steps()) json.Add("decay_steps", static_cast<int64_t>(parameters.decay_steps()));
  if (parameters.has_end_factor()) json.Add("end_factor", parameters.end_factor());
  return json;
}

std::string MetaparametersText(const Metaparameters& parameters) {
  std::vector<std::string> parts;
  if (parameters.has_learning_rate()) parts.push_back(absl::StrCat("learning_rate=", parameters.learning_rate()));
  if (parameters.has_momentum()) parts.push_back(absl::StrCat("momentum=", parameters.momentum()));
  if (parameters.has_decay_steps()) parts.push_back(absl::StrCat("decay_steps=", parameters.decay_steps()));
  if (parameters.has_end_factor()) parts.push_back(absl::StrCat("end_factor=", parameters.end_factor()));
  return absl::StrJoin(parts, " ");
}

JsonArray ParameterConfigsJson(const StudySpec& spec) {
  JsonArray configs;
  for (const SearchedMetaparameter& searched : spec.search()) {
    JsonObject config;
    config.Add("parameter", MetaparameterKey(searched.parameter()));
    config.Add("type", searched.scale() == INTEGER ? "INTEGER" : "DOUBLE");
    config.Add("min", searched.min()).Add("max", searched.max());
    config.Add("scale", ShallueScaleName(searched.scale()));
    configs.Add(config);
  }
  return configs;
}

}  // namespace parsity::experiments
