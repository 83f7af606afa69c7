// SNIP (Lee, Ajanthan, Torr 2019), as the 2021 paper's code runs it: the connection sensitivity of every parameter
// at initialization, summed over a sample of the training set. Design note: pruning/README.md.
//
//   ASSIGN_OR_RETURN(std::vector<double> g, ConnectionSensitivity(network, parameters, dataset.train, {.threads = 2}));
//   ASSIGN_OR_RETURN(nn::Mask mask, SelectTopScores(SnipSaliency(g), network.layout(), 0.9, {}));
//   mask.Apply(parameters);
//
// The math. Put a multiplicative mask c (all ones) on every parameter, so the network computes with c ⊙ w. For one
// batch B of the sample, L_B(c) = (1/|B|) sum_{i in B} loss_i(c ⊙ w), the mean softmax cross-entropy. The connection
// sensitivity of parameter j is
//   g_j = sum_B dL_B(c ⊙ w)/dc_j at c = 1 = sum_B w_j * dL_B/dw_j = w_j * sum_B (mean gradient of batch B)_j,
// signed, summed over batches BEFORE any absolute value (a parameter whose effect cancels between batches scores
// low). The saliency is s_j = |g_j| / sum_k |g_k|; ranking by it (selection.h) gives the SNIP mask. A parameter that
// is 0 (every bias at initialization) has g_j = 0 exactly, so SNIP prunes biases first.
//
// The sample (SnipOptions::batches):
//   - 0 (the 2021 paper's default): the whole of `examples`, in stored order, as consecutive batches of batch_size
//     examples; when batch_size does not divide the count, the last batch is shorter and L_B is its own mean. MNIST's
//     54,000 training examples make 540 batches of 100.
//   - N >= 1 (N = 1 is the 2019 SNIP paper): the first N batches of data::BatchStream(&examples, batch_size,
//     sample_seed) (training/data/batch_stream.h): N * batch_size distinct examples of one seeded shuffle.
//
// Precision and cost: each batch's mean gradient is computed in float by trainer::GradientEvaluator (on `threads`
// threads); the sum over batches and the products with w are in double. One pass over the sample, forward and
// backward: about one epoch of training work (Simple-CNN on MNIST: a few seconds on two threads). Deterministic for a
// given (parameters, examples, options).
#ifndef PARSITY_PRUNING_SNIP_H_
#define PARSITY_PRUNING_SNIP_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "training/data/examples.h"
#include "training/nn/network.h"

namespace parsity::pruning {

// The batch size of the paper's code.
inline constexpr int64_t kSnipBatchSize = 100;

struct SnipOptions {
  int64_t batch_size = kSnipBatchSize;  // Examples per batch B: >= 1.
  int64_t batches = 0;                  // 0: all examples; N >= 1: the first N batches of a seeded stream (above).
  uint64_t sample_seed = 0;             // Seed of that stream; unused when batches == 0.
  int threads = 1;                      // Threads of the gradient evaluator: >= 1.
  int64_t max_chunk = 256;              // Most examples in one forward/backward pass (gradient_evaluator.h): >= 1.
};

// The checks ConnectionSensitivity makes before any work (its Errors below), for callers that validate early.
absl::Status ValidateSnipArguments(const nn::Network& network, absl::Span<const float> parameters,
                                   const data::Examples& examples, const SnipOptions& options);

// g = the connection sensitivity above, one signed entry per parameter (network.parameter_count() entries), for the
// network at `parameters` over `examples`.
// Errors (InvalidArgument, naming the field and value): parameters.size() != network.parameter_count(); `examples`
// invalid (data::ValidateExamples), empty, of another example shape than the network's input, or with more classes
// than the network outputs; batch_size, threads or max_chunk < 1; batches < 0; batches * batch_size > the number of
// examples (more batches than the examples hold without repeating one).
absl::StatusOr<std::vector<double>> ConnectionSensitivity(const nn::Network& network,
                                                          absl::Span<const float> parameters,
                                                          const data::Examples& examples, const SnipOptions& options);

// s_j = |g_j| / sum_k |g_k| (sums to 1); all zeros when every g_j is 0. NaN in g propagates.
std::vector<double> SnipSaliency(absl::Span<const double> sensitivity);

}  // namespace parsity::pruning

#endif  // PARSITY_PRUNING_SNIP_H_
