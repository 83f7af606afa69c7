// Fuzz target: the study config loader (experiments/study_runner/config.h), on text-format StudySpec files. It runs
// what LoadStudySpec runs after reading the file (ParseStudySpec, ApplyProfile for the base spec and every profile,
// ValidateStudySpec), then checks the contract of a valid spec the way the runner relies on it: positive step budgets
// and check intervals for every batch size, and searched metaparameters that map into [min, max] at every Sobol point
// (TrialMetaparameters), feeding a TrialSpec that can be fingerprinted.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "experiments/study_runner/config.h"
#include "experiments/study_runner/search_space.h"
#include "experiments/study_runner/trial.h"
#include "tools/fuzz/fuzz_check.h"

namespace {

using parsity::experiments::Metaparameters;
using parsity::experiments::SearchedMetaparameter;
using parsity::experiments::StudySpec;

constexpr char kSource[] = "fuzz-input.textproto";

// The value `parameters` holds for `searched`'s parameter, or NaN when it holds none.
double SearchedValue(const Metaparameters& parameters, const SearchedMetaparameter& searched) {
  switch (searched.parameter()) {
    case parsity::experiments::LEARNING_RATE:
      return parameters.has_learning_rate() ? parameters.learning_rate() : NAN;
    case parsity::experiments::MOMENTUM:
      return parameters.has_momentum() ? parameters.momentum() : NAN;
    case parsity::experiments::DECAY_STEPS:
      return parameters.has_decay_steps() ? static_cast<double>(parameters.decay_steps()) : NAN;
    case parsity::experiments::END_FACTOR:
      return parameters.has_end_factor() ? parameters.end_factor() : NAN;
    default:
      return NAN;
  }
}

// Checks what the runner assumes of a spec that ValidateStudySpec accepted.
void CheckValidSpec(const StudySpec& spec) {
  FUZZ_CHECK(spec.trials() >= 1 && spec.goal_error() > 0 && spec.goal_error() < 1, spec.ShortDebugString());
  FUZZ_CHECK(!spec.batch_sizes().empty() && !spec.sparsities().empty(), spec.ShortDebugString());
  for (int64_t batch_size : spec.batch_sizes()) {
    FUZZ_CHECK(batch_size >= 1, absl::StrCat("batch size ", batch_size));
    FUZZ_CHECK(parsity::experiments::MaxStepsFor(spec, batch_size) >= 1, absl::StrCat("max steps of ", batch_size));
    FUZZ_CHECK(parsity::experiments::CheckIntervalFor(spec, batch_size) >= 1,
               absl::StrCat("check interval of ", batch_size));
  }
  for (double sparsity : spec.sparsities()) FUZZ_CHECK(sparsity >= 0 && sparsity < 1, absl::StrCat(sparsity));
  for (int m = parsity::experiments::Metaparameter_MIN; m <= parsity::experiments::Metaparameter_MAX; ++m) {
    parsity::experiments::UsesMetaparameter(spec, static_cast<parsity::experiments::Metaparameter>(m));
  }
  // A few trials, as the runner makes them.
  const int trials = std::min(spec.trials(), 3);
  const std::vector<std::vector<double>> points = parsity::experiments::SobolPoints(spec.search_size(), trials);
  for (int trial = 0; trial < trials; ++trial) {
    const Metaparameters parameters = parsity::experiments::TrialMetaparameters(spec, points[trial]);
    for (const SearchedMetaparameter& searched : spec.search()) {
      const double value = SearchedValue(parameters, searched);
      FUZZ_CHECK(std::isfinite(value) && value >= searched.min() && value <= searched.max(),
                 absl::StrCat("trial ", trial, ": ", searched.ShortDebugString(), " gave ", value));
    }
    const parsity::experiments::TrialSpec trial_spec = parsity::experiments::MakeTrialSpec(
        spec, parsity::experiments::DataFingerprint(), spec.sparsities(0), spec.batch_sizes(0), trial, parameters);
    FUZZ_CHECK(parsity::experiments::TrialFingerprint(trial_spec).size() == 16, "fingerprint");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<StudySpec> spec = parsity::experiments::ParseStudySpec(text, kSource);
  if (!spec.ok()) {
    parsity::fuzz::Log(spec.status().ToString());
    FUZZ_CHECK(absl::IsInvalidArgument(spec.status()) && absl::StartsWith(spec.status().message(), kSource),
               spec.status().ToString());
    return 0;
  }
  std::vector<std::string> profiles = {""};
  for (const std::string& name : parsity::experiments::ProfileNames(*spec)) {
    if (profiles.size() < 8) profiles.push_back(name);
  }
  for (const std::string& profile : profiles) {
    absl::StatusOr<StudySpec> resolved = parsity::experiments::ApplyProfile(*spec, profile, kSource);
    if (!resolved.ok()) {
      parsity::fuzz::Log(resolved.status().ToString());
      // Every name came from the spec: the profile list itself is at fault, never a missing name.
      FUZZ_CHECK(absl::IsInvalidArgument(resolved.status()), resolved.status().ToString());
      continue;
    }
    FUZZ_CHECK(resolved->profiles_size() == 0, "ApplyProfile left profiles");
    // As LoadStudySpec: -0.0 and 0.0 are one sparsity.
    for (int i = 0; i < resolved->sparsities_size(); ++i) resolved->set_sparsities(i, resolved->sparsities(i) + 0.0);
    const absl::Status valid = parsity::experiments::ValidateStudySpec(*resolved, kSource);
    parsity::fuzz::Log(absl::StrCat("profile '", profile, "': ", valid.ToString()));
    if (!valid.ok()) {
      FUZZ_CHECK(absl::IsInvalidArgument(valid) && absl::StartsWith(valid.message(), kSource), valid.ToString());
      continue;
    }
    CheckValidSpec(*resolved);
    (void)parsity::experiments::ValidateStudySpecForData(*resolved, /*training_examples=*/54000, kSource);
  }
  return 0;
}
