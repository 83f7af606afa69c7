#include "pruning/snip.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tools/base/status_macros.h"
#include "training/data/batch_stream.h"
#include "training/trainer/gradient_evaluator.h"

namespace parsity::pruning {

absl::Status ValidateSnipArguments(const nn::Network& network, absl::Span<const float> parameters,
                                   const data::Examples& examples, const SnipOptions& options) {
  if (static_cast<int64_t>(parameters.size()) != network.parameter_count()) {
    return absl::InvalidArgumentError(absl::StrCat("parameters: ", parameters.size(), " entries, but network '",
                                                   network.name(), "' has ", network.parameter_count()));
  }
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("snip batch_size: ", options.batch_size, " must be >= 1"));
  }
  if (options.batches < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("snip_batches: ", options.batches, " must be >= 0 (0: the whole training set)"));
  }
  if (options.threads < 1) {
    return absl::InvalidArgumentError(absl::StrCat("threads: ", options.threads, " must be >= 1"));
  }
  if (options.max_chunk < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_chunk: ", options.max_chunk, " must be >= 1"));
  }
  RETURN_IF_ERROR(data::ValidateExamples(examples, "SNIP examples"));
  if (examples.size() == 0) return absl::InvalidArgumentError("SNIP examples: the training set is empty");
  const nn::ImageShape& input = network.input_shape();
  if (examples.shape.height != input.height || examples.shape.width != input.width ||
      examples.shape.channels != input.channels) {
    return absl::InvalidArgumentError(absl::StrCat("SNIP examples have shape ", examples.shape.ToString(),
                                                   ", network '", network.name(), "' takes ",
                                                   nn::ImageShapeString(input)));
  }
  if (examples.num_classes > network.num_classes()) {
    return absl::InvalidArgumentError(absl::StrCat("SNIP examples have ", examples.num_classes, " classes, network '",
                                                   network.name(), "' outputs ", network.num_classes()));
  }
  // Written as a division so that a huge `batches` cannot overflow.
  if (options.batches > examples.size() / options.batch_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "snip_batches: ", options.batches, " batches of ", options.batch_size, " examples are more than the ",
        examples.size(), " training examples hold (at most ", examples.size() / options.batch_size, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> ConnectionSensitivity(const nn::Network& network,
                                                          absl::Span<const float> parameters,
                                                          const data::Examples& examples, const SnipOptions& options) {
  RETURN_IF_ERROR(ValidateSnipArguments(network, parameters, examples, options));
  trainer::GradientEvaluator evaluator(&network, {.threads = options.threads, .max_chunk = options.max_chunk});
  const size_t count = parameters.size();
  std::vector<float> batch_gradient(count);
  // sum_B (mean gradient of batch B), in double.
  std::vector<double> gradient_sum(count, 0.0);
  const auto add_batch = [&](const float* inputs, const int32_t* labels, int64_t batch) {
    evaluator.MeanGradient(parameters, inputs, labels, batch, absl::MakeSpan(batch_gradient));
    for (size_t j = 0; j < count; ++j) gradient_sum[j] += static_cast<double>(batch_gradient[j]);
  };

  if (options.batches == 0) {
    // Examples are contiguous (NHWC), so batches are read in place.
    for (int64_t begin = 0; begin < examples.size(); begin += options.batch_size) {
      const int64_t batch = std::min(options.batch_size, examples.size() - begin);
      add_batch(examples.example(begin), examples.labels.data() + begin, batch);
    }
  } else {
    ASSIGN_OR_RETURN(data::BatchStream stream,
                     data::BatchStream::Create(&examples, options.batch_size, options.sample_seed));
    data::Batch batch;
    for (int64_t b = 0; b < options.batches; ++b) {
      stream.Next(&batch);
      add_batch(batch.pixels.data(), batch.labels.data(), batch.size());
    }
  }

  // g_j = w_j * sum_B dL_B/dw_j = sum_B dL_B/dc_j.
  std::vector<double> sensitivity(count);
  for (size_t j = 0; j < count; ++j) sensitivity[j] = gradient_sum[j] * static_cast<double>(parameters[j]);
  return sensitivity;
}

std::vector<double> SnipSaliency(absl::Span<const double> sensitivity) {
  double total = 0.0;
  for (const double g : sensitivity) total += std::fabs(g);
  std::vector<double> saliency(sensitivity.size(), 0.0);
  if (total == 0.0) return saliency;
  for (size_t j = 0; j < sensitivity.size(); ++j) saliency[j] = std::fabs(sensitivity[j]) / total;
  return saliency;
}

}  // namespace parsity::pruning
