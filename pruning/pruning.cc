#include "pruning/pruning.h"

#include <iterator>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "pruning/magnitude.h"
#include "pruning/random.h"
#include "pruning/selection.h"
#include "pruning/snip.h"
#include "tools/base/status_macros.h"

namespace parsity::pruning {
namespace {

constexpr absl::string_view kSchemeNames[] = {"none", "snip", "magnitude", "random"};
constexpr absl::string_view kScopeNames[] = {"global", "layer"};

bool Contains(absl::Span<const absl::string_view> names, absl::string_view name) {
  for (const absl::string_view candidate : names) {
    if (candidate == name) return true;
  }
  return false;
}

SnipOptions SnipOptionsOf(const PruningConfig& config, uint64_t seed, int threads) {
  SnipOptions options;
  options.batch_size = kSnipBatchSize;
  options.batches = config.snip_batches;
  options.sample_seed = seed;
  options.threads = threads;
  return options;
}

}  // namespace

absl::Span<const absl::string_view> PruningSchemeNames() { return kSchemeNames; }
absl::Span<const absl::string_view> PruningScopeNames() { return kScopeNames; }

absl::Status ValidatePruningConfig(const PruningConfig& config) {
  if (!Contains(kSchemeNames, config.scheme)) {
    return absl::InvalidArgumentError(
        absl::StrCat("scheme: '", config.scheme, "' is not one of ", absl::StrJoin(kSchemeNames, ", ")));
  }
  if (!Contains(kScopeNames, config.scope)) {
    return absl::InvalidArgumentError(
        absl::StrCat("scope: '", config.scope, "' is not one of ", absl::StrJoin(kScopeNames, ", ")));
  }
  RETURN_IF_ERROR(ValidateSparsity(config.sparsity));
  if (config.scheme == "none" && config.sparsity != 0.0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sparsity: ", config.sparsity, " needs a pruning scheme, but scheme is 'none' (choose one of ",
                     absl::StrJoin(std::begin(kSchemeNames) + 1, std::end(kSchemeNames), ", "), ")"));
  }
  if (config.snip_batches < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("snip_batches: ", config.snip_batches, " must be >= 0 (0: the whole training set)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<nn::Mask> ComputeMask(const PruningConfig& config, const nn::Network& network,
                                             absl::Span<const float> initial_parameters, const data::Examples& train,
                                             uint64_t seed, int threads) {
  RETURN_IF_ERROR(ValidatePruningConfig(config));
  if (static_cast<int64_t>(initial_parameters.size()) != network.parameter_count()) {
    return absl::InvalidArgumentError(absl::StrCat("initial_parameters: ", initial_parameters.size(),
                                                   " entries, but network '", network.name(), "' has ",
                                                   network.parameter_count()));
  }
  if (threads < 1) return absl::InvalidArgumentError(absl::StrCat("threads: ", threads, " must be >= 1"));
  const SnipOptions snip_options = SnipOptionsOf(config, seed, threads);
  if (config.scheme == "snip") {
    RETURN_IF_ERROR(ValidateSnipArguments(network, initial_parameters, train, snip_options));
  }
  if (config.scheme == "none" || config.sparsity == 0.0) return nn::Mask::AllKept(network.parameter_count());

  std::vector<double> scores;
  if (config.scheme == "snip") {
    ASSIGN_OR_RETURN(const std::vector<double> sensitivity,
                     ConnectionSensitivity(network, initial_parameters, train, snip_options));
    scores = SnipSaliency(sensitivity);
  } else if (config.scheme == "magnitude") {
    scores = MagnitudeScores(initial_parameters);
  } else {
    std::mt19937_64 engine(seed);
    scores = RandomScores(network.parameter_count(), engine);
  }
  SelectionOptions selection;
  selection.scope = config.scope == "layer" ? PruningScope::kPerLayer : PruningScope::kGlobal;
  selection.prune_biases = config.prune_biases;
  return SelectTopScores(scores, network.layout(), config.sparsity, selection);
}

}  // namespace parsity::pruning
