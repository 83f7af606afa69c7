// The search space of a study: quasi-random Sobol points (Boost.Random's `sobol`, Joe & Kuo's direction numbers)
// mapped through each searched metaparameter's scale (study.proto, Scale). Trial r of every study uses point r, so the
// same metaparameters are tried at every batch size and sparsity (experiments/PROTOCOL.md, "The tuning protocol").
//
//   const std::vector<std::vector<double>> points = SobolPoints(spec.search_size(), spec.trials());
//   const Metaparameters trial_3 = TrialMetaparameters(spec, points[3]);   // learning_rate, momentum, ...
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_SEARCH_SPACE_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_SEARCH_SPACE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "experiments/study.pb.h"
#include "tools/base/json.h"

namespace parsity::experiments {

// The first `count` points of the `dimensions`-dimensional Sobol sequence, each coordinate in [0, 1): the generator's
// 64-bit outputs times 2^-64. Boost's sequence starts after the origin: in one dimension 1/2, 3/4, 1/4, 3/8, 7/8, ...;
// in two dimensions (1/2, 1/2), (3/4, 1/4), (1/4, 3/4), (3/8, 3/8), ... Point r does not depend on `count`, so adding
// trials to a study keeps its first ones. `dimensions` == 0 gives `count` empty points.
// REQUIRES: 0 <= dimensions <= 3667 (Boost's table), count >= 0.
std::vector<std::vector<double>> SobolPoints(int dimensions, int count);

// Maps u in [0, 1) to [min, max] through `searched`'s scale (formulas in study.proto). REQUIRES: a valid entry
// (ValidateStudySpec).
double MapToScale(const SearchedMetaparameter& searched, double u);

// "learning_rate", "momentum", "decay_steps", "end_factor": the names of metadata.json and study.json.
absl::string_view MetaparameterKey(Metaparameter parameter);

// Shallue et al.'s scale names as written in study.json: "LOG_SCALE", "REVERSE_LOG_SCALE", "LINEAR_SCALE", "INTEGER".
absl::string_view ShallueScaleName(Scale scale);

// The metaparameters of the trial at Sobol point `point` (one coordinate per `spec.search` entry): searched ones
// mapped from the point, the others fixed by spec.optimizer and spec.schedule; only those the workload uses are set
// (UsesMetaparameter). REQUIRES: a valid spec, point.size() == spec.search_size().
Metaparameters TrialMetaparameters(const StudySpec& spec, absl::Span<const double> point);

// {"learning_rate":0.1,"momentum":0.99}: the set fields, in field order.
JsonObject MetaparametersJson(const Metaparameters& parameters);

// "learning_rate=0.1 momentum=0.99", for progress lines.
std::string MetaparametersText(const Metaparameters& parameters);

// study.json's "parameter_configs": [{"parameter":"learning_rate","type":"DOUBLE","min":1e-4,"max":1,
// "scale":"LOG_SCALE"}, ...] in search order (type "INTEGER" for DECAY_STEPS).
JsonArray ParameterConfigsJson(const StudySpec& spec);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_SEARCH_SPACE_H_
