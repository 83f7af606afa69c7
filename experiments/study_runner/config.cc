// Over 450 lines: one validation per part of StudySpec (workload, optimizer and schedule, search, shape), each naming
// the field and value at fault, beside the profile merge they must run after; they share FieldErrors and the
// config's limits, and each is short.
#include "experiments/study_runner/config.h"

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "pruning/pruning.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_macros.h"
#include "training/data/dataset.h"
#include "training/nn/networks.h"
#include "training/optimizers/optimizer_factory.h"
#include "training/optimizers/schedule.h"

namespace parsity::experiments {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

class CollectFirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (message_.empty()) message_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

// Errors of one spec, each prefixed with the file (and profile) and a field path.
class FieldErrors {
 public:
  explicit FieldErrors(absl::string_view source) : source_(source) {}
  absl::Status operator()(absl::string_view field, absl::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", field, ": ", problem));
  }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

std::string Indexed(absl::string_view field, int index) { return absl::StrCat(field, "[", index, "]"); }

bool InUnitInterval(double value) { return value >= 0 && value < 1; }  // False for NaN.

// Metaparameters the trainer stores as floats: the normal float range.
constexpr double kSmallestFloat = std::numeric_limits<float>::min();
constexpr double kLargestFloat = std::numeric_limits<float>::max();

// The input shape (height, width, channels) of each data set, so that a network mismatch fails before a slow load.
bool DatasetShape(absl::string_view dataset, int* height, int* width, int* channels) {
  if (dataset == "mnist" || dataset == "fashion_mnist") {
    *height = 28, *width = 28, *channels = 1;
    return true;
  }
  if (dataset == "cifar10") {
    *height = 32, *width = 32, *channels = 3;
    return true;
  }
  return false;
}

absl::Status ValidateWorkload(const StudySpec& spec, const FieldErrors& error) {
  if (!spec.has_dataset()) return error("dataset", "is required");
  const std::vector<std::string> datasets = data::KnownDatasetNames();
  if (!absl::c_linear_search(datasets, spec.dataset())) {
    return error("dataset", absl::StrCat("'", spec.dataset(), "' is not a known data set; expected one of: ",
                                         absl::StrJoin(datasets, ", ")));
  }
  if (!spec.has_network()) return error("network", "is required");
  absl::StatusOr<std::unique_ptr<nn::Network>> network = nn::CreateNetwork(spec.network());
  if (!network.ok()) {
    return error("network", absl::StrCat("'", spec.network(), "' is not a known network; expected one of: ",
                                         absl::StrJoin(nn::KnownNetworkNames(), ", ")));
  }
  int height = 0, width = 0, channels = 0;
  const nn::ImageShape& input = (*network)->input_shape();
  if (DatasetShape(spec.dataset(), &height, &width, &channels) &&
      (input.height != height || input.width != width || input.channels != channels)) {
    return error("network",
                 absl::StrCat("'", spec.network(), "' takes ", input.height, "x", input.width, "x", input.channels,
                              " inputs, data set '", spec.dataset(), "' has ", height, "x", width, "x", channels));
  }
  return absl::OkStatus();
}

// Clears, in `base`, every list that `overrides` sets, at any depth, so that MergeFrom replaces them instead of
// appending to them.
void ClearReplacedLists(const Message& overrides, Message* base) {
  const Reflection* reflection = overrides.GetReflection();
  const Reflection* base_reflection = base->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(overrides, &fields);  // Lists only non-empty repeated fields.
  for (const FieldDescriptor* field : fields) {
    if (field->is_repeated()) {
      base_reflection->ClearField(base, field);
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && base_reflection->HasField(*base, field)) {
      ClearReplacedLists(reflection->GetMessage(overrides, field), base_reflection->MutableMessage(base, field));
    }
  }
}

bool IsSearched(const StudySpec& spec, Metaparameter parameter) {
  return absl::c_any_of(
      spec.search(), [parameter](const SearchedMetaparameter& searched) { return searched.parameter() == parameter; });
}

absl::Status ValidateOptimizerAndSchedule(const StudySpec& spec, const FieldErrors& error) {
  if (!spec.optimizer().has_name()) return error("optimizer.name", "is required");
  const OptimizerSpec& optimizer = spec.optimizer();
  if (!absl::c_linear_search(optimizers::OptimizerNames(), optimizer.name())) {
    return error("optimizer.name", absl::StrCat("'", optimizer.name(), "' is unknown; expected one of: ",
                                                absl::StrJoin(optimizers::OptimizerNames(), ", ")));
  }
  if (UsesMetaparameter(spec, MOMENTUM) && !IsSearched(spec, MOMENTUM) && !InUnitInterval(optimizer.momentum())) {
    return error("optimizer.momentum", absl::StrCat(optimizer.momentum(), " is not in [0, 1)"));
  }
  if (optimizer.name() == "adam") {
    if (!InUnitInterval(optimizer.beta1())) {
      return error("optimizer.beta1", absl::StrCat(optimizer.beta1(), " is not in [0, 1)"));
    }
    if (!InUnitInterval(optimizer.beta2())) {
      return error("optimizer.beta2", absl::StrCat(optimizer.beta2(), " is not in [0, 1)"));
    }
    if (!(optimizer.epsilon() > 0) || !std::isfinite(optimizer.epsilon())) {
      return error("optimizer.epsilon", absl::StrCat(optimizer.epsilon(), " is not positive and finite"));
    }
  }
  const ScheduleSpec& schedule = spec.schedule();
  if (!absl::c_linear_search(optimizers::ScheduleNames(), schedule.name())) {
    return error("schedule.name", absl::StrCat("'", schedule.name(), "' is unknown; expected one of: ",
                                               absl::StrJoin(optimizers::ScheduleNames(), ", ")));
  }
  if (!IsSearched(spec, LEARNING_RATE)) {
    if (!schedule.has_learning_rate()) {
      return error("schedule.learning_rate", "is required when LEARNING_RATE is not searched");
    }
    if (!(schedule.learning_rate() > 0) || !std::isfinite(schedule.learning_rate())) {
      return error("schedule.learning_rate", absl::StrCat(schedule.learning_rate(), " is not positive and finite"));
    }
  }
  if (UsesMetaparameter(spec, DECAY_STEPS) && !IsSearched(spec, DECAY_STEPS) && schedule.decay_steps() < 1) {
    return error("schedule.decay_steps", absl::StrCat(schedule.decay_steps(), " must be >= 1 (or search DECAY_STEPS)"));
  }
  if (UsesMetaparameter(spec, END_FACTOR) && !IsSearched(spec, END_FACTOR) &&
      !(schedule.end_factor() > 0 && schedule.end_factor() <= 1)) {
    return error("schedule.end_factor",
                 absl::StrCat(schedule.end_factor(), " is not in (0, 1] (or search END_FACTOR)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateSearch(const StudySpec& spec, const FieldErrors& error) {
  std::map<Metaparameter, int> seen;
  for (int i = 0; i < spec.search_size(); ++i) {
    const SearchedMetaparameter& searched = spec.search(i);
    const std::string field = Indexed("search", i);
    const std::string name = Metaparameter_Name(searched.parameter());
    if (searched.parameter() == METAPARAMETER_UNSPECIFIED) return error(field + ".parameter", "is required");
    if (const auto [it, inserted] = seen.emplace(searched.parameter(), i); !inserted) {
      return error(field + ".parameter", absl::StrCat(name, " is searched twice (also search[", it->second, "])"));
    }
    if (!UsesMetaparameter(spec, searched.parameter())) {
      return error(field + ".parameter",
                   searched.parameter() == MOMENTUM
                       ? absl::StrCat(name, " is not used by optimizer '", spec.optimizer().name(), "'")
                       : absl::StrCat(name, " is not used by schedule '", spec.schedule().name(), "'"));
    }
    if (!searched.has_min()) return error(field + ".min", "is required");
    if (!searched.has_max()) return error(field + ".max", "is required");
    const double min = searched.min(), max = searched.max();
    if (!std::isfinite(min)) return error(field + ".min", absl::StrCat(min, " is not finite"));
    if (!std::isfinite(max)) return error(field + ".max", absl::StrCat(max, " is not finite"));
    if (!(min < max)) return error(field + ".max", absl::StrCat(max, " is not larger than min (", min, ")"));
    switch (searched.scale()) {
      case SCALE_UNSPECIFIED:
        return error(field + ".scale", "is required: LOG, REVERSE_LOG, LINEAR or INTEGER");
      case LOG:
        if (!(min > 0)) return error(field + ".min", absl::StrCat(min, " must be positive on a LOG scale"));
        // The scale maps u to min (max / min)^u: the ratio must exist.
        if (!std::isfinite(max / min)) {
          return error(field + ".max", absl::StrCat("/ min = ", max, " / ", min, " overflows on a LOG scale"));
        }
        break;
      case REVERSE_LOG:
        if (!(max < 1)) return error(field + ".max", absl::StrCat(max, " must be below 1 on a REVERSE_LOG scale"));
        break;
      case LINEAR:
        break;
      case INTEGER:
        if (searched.parameter() != DECAY_STEPS) {
          return error(field + ".scale", absl::StrCat("INTEGER is for DECAY_STEPS only, not ", name));
        }
        if (min != std::floor(min)) return error(field + ".min", absl::StrCat(min, " is not an integer"));
        if (max != std::floor(max)) return error(field + ".max", absl::StrCat(max, " is not an integer"));
        break;
    }
    switch (searched.parameter()) {
      case LEARNING_RATE:
        // The trainer runs in float: the range must be normal floats.
        if (!(min >= kSmallestFloat)) {
          return error(field + ".min", absl::StrCat(min, " is not a learning rate in [", kSmallestFloat, ", ",
                                                    kLargestFloat, "] (a normal float)"));
        }
        if (!(max <= kLargestFloat)) {
          return error(field + ".max", absl::StrCat(max, " is not a learning rate in [", kSmallestFloat, ", ",
                                                    kLargestFloat, "] (a normal float)"));
        }
        break;
      case MOMENTUM:
        if (!(min >= 0)) return error(field + ".min", absl::StrCat(min, " is not a momentum in [0, 1)"));
        if (!(max < 1)) return error(field + ".max", absl::StrCat(max, " is not a momentum in [0, 1)"));
        break;
      case DECAY_STEPS:
        if (searched.scale() != INTEGER) return error(field + ".scale", "must be INTEGER for DECAY_STEPS");
        if (!(min >= 1)) return error(field + ".min", absl::StrCat(min, " is not a step count >= 1"));
        if (!(max <= kMaxSteps)) {
          return error(field + ".max", absl::StrCat(max, " is more than ", kMaxSteps, " decay steps"));
        }
        break;
      case END_FACTOR:
        if (!(min >= kSmallestFloat)) {
          return error(field + ".min", absl::StrCat(min, " is not an end factor in (0, 1] (a normal float)"));
        }
        if (!(max <= 1)) return error(field + ".max", absl::StrCat(max, " is not an end factor in (0, 1]"));
        break;
      default:
        break;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateStudyShape(const StudySpec& spec, const FieldErrors& error) {
  if (!spec.has_trials()) return error("trials", "is required");
  if (spec.trials() < 1) return error("trials", absl::StrCat(spec.trials(), " must be >= 1"));
  if (spec.trials() > kMaxTrials) {
    return error("trials", absl::StrCat(spec.trials(), " is more than ", kMaxTrials, " trials per study"));
  }
  if (!spec.has_max_steps()) return error("max_steps", "is required");
  if (spec.max_steps() < 1) return error("max_steps", absl::StrCat(spec.max_steps(), " must be >= 1"));
  if (spec.max_steps() > kMaxSteps) {
    return error("max_steps", absl::StrCat(spec.max_steps(), " is more than ", kMaxSteps, " steps"));
  }
  if (spec.check_interval() < 1) {
    return error("check_interval", absl::StrCat(spec.check_interval(), " must be >= 1"));
  }
  if (spec.max_steps() / spec.check_interval() > kMaxChecks) {
    return error("check_interval", absl::StrCat(spec.check_interval(), " gives ", spec.max_steps() / spec.check_interval(),
                                                " checks in max_steps ", spec.max_steps(), ": more than ", kMaxChecks,
                                                " checks per trial"));
  }
  if (spec.batch_sizes_size() > kMaxListEntries) {
    return error("batch_sizes", absl::StrCat("has ", spec.batch_sizes_size(), " entries, more than ", kMaxListEntries));
  }
  if (spec.sparsities_size() > kMaxListEntries) {
    return error("sparsities", absl::StrCat("has ", spec.sparsities_size(), " entries, more than ", kMaxListEntries));
  }
  if (!spec.has_goal_error()) return error("goal_error", "is required");
  if (!(spec.goal_error() > 0 && spec.goal_error() < 1)) {
    return error("goal_error", absl::StrCat(spec.goal_error(), " is not in (0, 1): it is a validation error rate"));
  }
  if (spec.batch_sizes().empty()) return error("batch_sizes", "is empty");
  std::map<int64_t, int> batch_index;
  for (int i = 0; i < spec.batch_sizes_size(); ++i) {
    const int64_t batch_size = spec.batch_sizes(i);
    if (batch_size < 1)
      return error(Indexed("batch_sizes", i), absl::StrCat(batch_size, " is not a positive batch size"));
    if (batch_size > kMaxBatchSize) {
      return error(Indexed("batch_sizes", i), absl::StrCat(batch_size, " is more than ", kMaxBatchSize, " examples"));
    }
    if (const auto [it, inserted] = batch_index.emplace(batch_size, i); !inserted) {
      return error(Indexed("batch_sizes", i),
                   absl::StrCat(batch_size, " is listed twice (also batch_sizes[", it->second, "])"));
    }
  }
  if (spec.sparsities().empty()) return error("sparsities", "is empty");
  std::map<std::string, int> sparsity_folder;
  for (int i = 0; i < spec.sparsities_size(); ++i) {
    // -0.0 is 0 (LoadStudySpec writes it so); compared as 0, it is a duplicate of 0 and names no folder of its own.
    const double sparsity = spec.sparsities(i) + 0.0;
    if (!InUnitInterval(sparsity)) return error(Indexed("sparsities", i), absl::StrCat(sparsity, " is not in [0, 1)"));
    // The result folder is named after StrCat's 6 significant digits (result_store.h); they must tell levels apart.
    if (const auto [it, inserted] = sparsity_folder.emplace(absl::StrCat(sparsity), i); !inserted) {
      return error(Indexed("sparsities", i), absl::StrCat(sparsity, " is listed twice (also sparsities[", it->second,
                                                          "], to 6 significant digits)"));
    }
    if (sparsity > 0 && spec.pruning().scheme() == "none") {
      return error("pruning.scheme", absl::StrCat("'none' cannot reach ", Indexed("sparsities", i), " = ", sparsity));
    }
  }
  pruning::PruningConfig pruning_config;
  pruning_config.scheme = spec.pruning().scheme();
  pruning_config.scope = spec.pruning().scope();
  pruning_config.prune_biases = spec.pruning().prune_biases();
  pruning_config.snip_batches = spec.pruning().snip_batches();
  if (absl::Status status = pruning::ValidatePruningConfig(pruning_config); !status.ok()) {
    // ValidatePruningConfig's messages start with the field's name, the same in PruningSpec ("scheme: ...").
    return absl::InvalidArgumentError(absl::StrCat(error.source(), ": pruning.", status.message()));
  }
  std::set<int64_t> with_settings;
  for (int i = 0; i < spec.batch_size_settings_size(); ++i) {
    const BatchSizeSettings& settings = spec.batch_size_settings(i);
    const std::string field = Indexed("batch_size_settings", i);
    if (!batch_index.count(settings.batch_size())) {
      return error(field + ".batch_size", absl::StrCat(settings.batch_size(), " is not one of batch_sizes"));
    }
    if (!with_settings.insert(settings.batch_size()).second) {
      return error(field + ".batch_size", absl::StrCat(settings.batch_size(), " has settings twice"));
    }
    if (settings.has_max_steps() && (settings.max_steps() < 1 || settings.max_steps() > kMaxSteps)) {
      return error(field + ".max_steps", absl::StrCat(settings.max_steps(), " is not in [1, ", kMaxSteps, "]"));
    }
    if (settings.has_check_interval() && settings.check_interval() < 1) {
      return error(field + ".check_interval", absl::StrCat(settings.check_interval(), " must be >= 1"));
    }
  }
  const TheorySpec& theory = spec.theory();
  if (theory.lipschitz_interval() < 1) {
    return error("theory.lipschitz_interval", absl::StrCat(theory.lipschitz_interval(), " must be >= 1"));
  }
  if (theory.has_remeasure_batch_size() && !batch_index.count(theory.remeasure_batch_size())) {
    return error("theory.remeasure_batch_size",
                 absl::StrCat(theory.remeasure_batch_size(), " is not one of batch_sizes"));
  }
  if (!theory.noise_batch_sizes().empty()) {
    if (theory.noise_batch_sizes_size() != 2) {
      return error("theory.noise_batch_sizes",
                   absl::StrCat("has ", theory.noise_batch_sizes_size(), " entries; it needs two: B_small < B_big"));
    }
    if (!(theory.noise_batch_sizes(0) >= 1 && theory.noise_batch_sizes(0) < theory.noise_batch_sizes(1))) {
      return error("theory.noise_batch_sizes",
                   absl::StrCat("[", theory.noise_batch_sizes(0), ", ", theory.noise_batch_sizes(1),
                                "] is not 1 <= B_small < B_big"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StudySpec> ParseStudySpec(absl::string_view text, absl::string_view source) {
  StudySpec spec;
  google::protobuf::TextFormat::Parser parser;
  CollectFirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &spec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", errors.message().empty() ? "1:1: cannot parse" : errors.message()));
  }
  return spec;
}

void MergeOverrides(const Message& overrides, Message* base) {
  ClearReplacedLists(overrides, base);
  base->MergeFrom(overrides);
}

std::vector<std::string> ProfileNames(const StudySpec& spec) {
  std::vector<std::string> names;
  for (const Profile& profile : spec.profiles()) names.push_back(profile.name());
  return names;
}

absl::StatusOr<StudySpec> ApplyProfile(const StudySpec& spec, absl::string_view profile, absl::string_view source) {
  const FieldErrors error(source);
  std::map<std::string, int> index;
  for (int i = 0; i < spec.profiles_size(); ++i) {
    const Profile& candidate = spec.profiles(i);
    if (candidate.name().empty()) return error(Indexed("profiles", i) + ".name", "is required");
    if (const auto [it, inserted] = index.emplace(candidate.name(), i); !inserted) {
      return error(Indexed("profiles", i) + ".name",
                   absl::StrCat("'", candidate.name(), "' is used twice (also profiles[", it->second, "])"));
    }
    if (candidate.overrides().profiles_size() > 0) {
      return error(Indexed("profiles", i) + ".overrides.profiles", "a profile cannot hold profiles");
    }
  }
  StudySpec resolved = spec;
  resolved.clear_profiles();
  if (profile.empty()) return resolved;
  const auto it = index.find(std::string(profile));
  if (it == index.end()) {
    const std::vector<std::string> names = ProfileNames(spec);
    return absl::NotFoundError(absl::StrCat(source, ": no profile '", profile, "'; known profiles: ",
                                            names.empty() ? "(none)" : absl::StrJoin(names, ", ")));
  }
  MergeOverrides(spec.profiles(it->second).overrides(), &resolved);
  return resolved;
}

absl::Status ValidateStudySpec(const StudySpec& spec, absl::string_view source) {
  const FieldErrors error(source);
  if (spec.profiles_size() > 0) return error("profiles", "must be resolved first (ApplyProfile)");
  RETURN_IF_ERROR(ValidateWorkload(spec, error));
  RETURN_IF_ERROR(ValidateOptimizerAndSchedule(spec, error));
  RETURN_IF_ERROR(ValidateSearch(spec, error));
  RETURN_IF_ERROR(ValidateStudyShape(spec, error));
  return absl::OkStatus();
}

absl::Status ValidateStudySpecForData(const StudySpec& spec, int64_t training_examples, absl::string_view source) {
  const FieldErrors error(source);
  for (int i = 0; i < spec.batch_sizes_size(); ++i) {
    if (spec.batch_sizes(i) > training_examples) {
      return error(Indexed("batch_sizes", i), absl::StrCat(spec.batch_sizes(i), " is larger than the training set (",
                                                           training_examples, " examples)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateStudySpecForData(const StudySpec& spec, const data::Dataset& dataset, absl::string_view source) {
  const FieldErrors error(source);
  absl::StatusOr<std::unique_ptr<nn::Network>> network = nn::CreateNetwork(spec.network());
  if (!network.ok()) return error("network", network.status().message());
  const nn::ImageShape& input = (*network)->input_shape();
  const data::ImageShape& shape = dataset.train.shape;
  if (shape.height != input.height || shape.width != input.width || shape.channels != input.channels ||
      dataset.validation.shape != shape) {
    return error("dataset", absl::StrCat("data set '", dataset.name, "' has examples of shape ", shape.ToString(),
                                         ", network '", spec.network(), "' takes ", input.height, "x", input.width,
                                         "x", input.channels));
  }
  if (dataset.validation.size() == 0) {
    return error("dataset", absl::StrCat("data set '", dataset.name, "' has no validation examples"));
  }
  return ValidateStudySpecForData(spec, dataset.train.size(), source);
}

absl::StatusOr<StudySpec> LoadStudySpec(const std::string& path, absl::string_view profile, absl::string_view source) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat(source, ": cannot read the config: ", text.status().message()));
  }
  ASSIGN_OR_RETURN(const StudySpec spec, ParseStudySpec(*text, source));
  ASSIGN_OR_RETURN(StudySpec resolved, ApplyProfile(spec, profile, source));
  // -0.0 and 0.0 are one sparsity; the sign would name a second result folder ("sparsity_-0").
  for (int i = 0; i < resolved.sparsities_size(); ++i) resolved.set_sparsities(i, resolved.sparsities(i) + 0.0);
  const std::string resolved_source =
      profile.empty() ? std::string(source) : absl::StrCat(source, " (profile ", profile, ")");
  RETURN_IF_ERROR(ValidateStudySpec(resolved, resolved_source));
  return resolved;
}

int64_t MaxStepsFor(const StudySpec& spec, int64_t batch_size) {
  for (const BatchSizeSettings& settings : spec.batch_size_settings()) {
    if (settings.batch_size() == batch_size && settings.has_max_steps()) return settings.max_steps();
  }
  return spec.max_steps();
}

int64_t CheckIntervalFor(const StudySpec& spec, int64_t batch_size) {
  for (const BatchSizeSettings& settings : spec.batch_size_settings()) {
    if (settings.batch_size() == batch_size && settings.has_check_interval()) return settings.check_interval();
  }
  return spec.check_interval();
}

bool UsesMetaparameter(const StudySpec& spec, Metaparameter parameter) {
  switch (parameter) {
    case LEARNING_RATE:
      return true;
    case MOMENTUM:
      return spec.optimizer().name() == "momentum" || spec.optimizer().name() == "nesterov";
    case DECAY_STEPS:
    case END_FACTOR:
      return spec.schedule().name() == "linear_decay";
    default:
      return false;
  }
}

}  // namespace parsity::experiments
