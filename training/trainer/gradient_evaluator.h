// Whole-batch gradients and evaluations of a network, computed in bounded-size chunks, optionally on several
// threads. This is the one place where "the gradient of the mean loss over these examples" is computed: the trainer's
// step, SNIP's connection sensitivity and the theory estimators all call it.
//
//   GradientEvaluator evaluator(&network, {.threads = 1, .max_chunk = 256});
//   const double mean_loss = evaluator.MeanGradient(parameters, batch.pixels.data(), batch.labels.data(),
//                                                   batch.size(), gradient);
//   const Evaluation validation = evaluator.Evaluate(parameters, dataset.validation);
#ifndef PARSITY_TRAINING_TRAINER_GRADIENT_EVALUATOR_H_
#define PARSITY_TRAINING_TRAINER_GRADIENT_EVALUATOR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "tools/base/thread_pool.h"
#include "training/data/examples.h"
#include "training/nn/network.h"
#include "training/nn/sparse_plan.h"
#include "training/trainer/exact_sum.h"

namespace parsity::trainer {

struct EvaluatorOptions {
  // Threads that share one call (1: the caller alone). Studies run many single-threaded trials side by side.
  int threads = 1;
  // Most examples in one forward/backward pass; bounds the activation memory at any batch size (up to 2^14 and
  // beyond). Larger chunks make larger, faster matrix products.
  int64_t max_chunk = 256;
  // The network's sparse execution plan under its pruning mask (training/nn/sparse_plan.h; must outlive the
  // evaluator), or null to run dense. With a plan every gradient and evaluation is that of the masked network,
  // computed over the kept weights where the plan's kernels say so, provided the parameters' pruned entries are 0
  // (the trainer and the theory's oracles see to it; a dense kernel reads them, a sparse one never does, so with
  // other values the results would depend on the kernel choice); pruned gradient entries (weights, and biases where a
  // layer's are all pruned) may then be left untouched, unzeroed or unscaled (nn::SparsePlan::ForEachGradientRange,
  // ScaleGradient) and hold anything, stale sums included, so read gradients through the mask (the optimizers' masked
  // steps and the theory's oracles do).
  const nn::SparsePlan* sparse_plan = nullptr;
  // Examples per leaf of an exact gradient sum (AddLeafGradients); 0: DefaultLeafExamples(network). Each leaf's
  // float gradient is converted once, so a leaf should cost much more than that conversion (about 1.5 ns per
  // parameter); more, smaller leaves share better over threads and ranks. A leaf larger than max_chunk runs as
  // consecutive pieces of max_chunk (the same on every rank and thread).
  // REQUIRES: >= 0.
  int64_t leaf_examples = 0;
};

// Mean loss and error rate over a set of examples.
struct Evaluation {
  double mean_loss = 0;   // Mean softmax cross-entropy (nats).
  double error_rate = 0;  // Fraction of examples whose argmax prediction is wrong, in [0, 1].
  int64_t examples = 0;
  double loss_sum = 0;    // Sum of the examples' losses (for combining evaluations of disjoint parts).
  int64_t errors = 0;     // Number of misclassified examples.
};

// gradient *= scale, one float multiply per entry. With a plan, lines of 16 entries that hold no kept entry
// (nn::SparsePlan::kept_bits) are skipped: a pruned network's mean gradient then costs a pass over its kept lines
// only, and its pruned entries are left unscaled. REQUIRES: with a plan, gradient has one entry per parameter.
void ScaleGradient(float scale, const nn::SparsePlan* plan, absl::Span<float> gradient);

// The default leaf of exact gradient sums: the smallest power of two of examples that is at least the network's
// chunk and whose training FLOPs are at least 4,000 per parameter (so that converting the leaf's gradient costs
// about a tenth of computing it or less): 16 for Simple-CNN, 8 for ResNet-8, 1,024 for LeNet-300-100.
int64_t DefaultLeafExamples(const nn::Network& network);

// The fewest examples for which a second thread takes a share of a gradient sum (MeanGradient, GradientSum): enough
// that each share brings at least 400 training FLOPs per parameter and 20 million in all. Besides its examples, a
// share costs the other core a pass over the whole parameter and gradient buffers (the weights that the update has
// just written in the first core's caches, then a partial gradient to add back there), and waking its thread
// (25-100 us), whatever the batch. On the 2-core build machines (training/README.md, "Threads"), LeNet-300-100's step
// on two threads took 3.7x as long as on one at 16 examples, 1.5x at 64 and as long at 128 (there each share brings
// about 270 FLOPs per parameter), while ResNet-8's, kept on one thread below 16 examples, was 1.8x faster on two at 8.
// Gives 2 for Simple-CNN, 1 for ResNet-8, 95 for LeNet-300-100.
int64_t GradientShareExamples(const nn::Network& network);

class GradientEvaluator {
 public:
  // REQUIRES: network outlives this object; options.threads >= 1, options.max_chunk >= 1 (checked).
  GradientEvaluator(const nn::Network* network, EvaluatorOptions options);
  ~GradientEvaluator();
  GradientEvaluator(const GradientEvaluator&) = delete;
  GradientEvaluator& operator=(const GradientEvaluator&) = delete;

  // Writes the gradient of the mean loss over `count` examples into `gradient` (overwriting it; with a sparse plan,
  // read it through the mask, see EvaluatorOptions::sparse_plan):
  //   gradient = (1/count) sum_i d loss_i / d parameters,
  // and returns the mean loss. The examples are split into equal-as-possible chunks (see ChunkCount), assigned to
  // threads round-robin; per-thread sums are added in thread order, so the result is bit-identical for
  // a given (network, count, threads, max_chunk). With one thread and count <= max_chunk it is one pass over the batch.
  // A batch of at most max_chunk examples is shared only when each thread's share is worth its cost (see
  // GradientShareExamples): a network with few FLOPs per parameter, such as LeNet-300-100, keeps batches of up to a
  // few hundred examples on one thread.
  // REQUIRES: count >= 1; inputs holds count examples (NHWC) and labels count labels; parameters and gradient have
  // network->parameter_count() entries.
  double MeanGradient(absl::Span<const float> parameters, const float* inputs, const int32_t* labels, int64_t count,
                      absl::Span<float> gradient);

  // Like MeanGradient but writes the SUM over the examples of d loss_i / d parameters (not divided by count; same
  // reading rule with a plan) and returns the sum of the losses: the gradient before MeanGradient's last pass, which
  // a trainer hands to Optimizer::ScaledStep with scale 1/count instead. MeanGradient's values are this sum's entries
  // times 1/count, rounded. Nothing is zeroed first: each thread's first chunk writes its share
  // (nn::Network::WriteGradient), with the bits of adding it to zeros.
  double GradientSum(absl::Span<const float> parameters, const float* inputs, const int32_t* labels, int64_t count,
                     absl::Span<float> gradient);

  // Like MeanGradient but adds the SUM over the examples of d loss_i / d parameters into `gradient` (not divided by
  // count) and returns the sum of the losses: for accumulating over a data set larger than one call.
  double AccumulateGradientSum(absl::Span<const float> parameters, const float* inputs, const int32_t* labels,
                               int64_t count, absl::Span<float> gradient);

  // Exact, order-independent gradient sums (training/trainer/exact_sum.h). A batch of `count` examples is cut into
  // LeafCount(count) = ceil(count / leaf examples) leaves of consecutive examples, leaf l = [l count / L,
  // (l + 1) count / L). Each leaf's gradient is computed in float by one thread (AccumulateGradient into a zeroed
  // buffer) and added exactly, so the sum depends on count, the leaf size and max_chunk only: not on the threads, nor
  // on how the leaves are spread over ranks, nor on the order the partial sums are combined in.
  int64_t LeafCount(int64_t count) const;
  // Adds leaves [leaf_begin, leaf_end) of a batch of `count` examples at `inputs`/`labels` (the whole batch) into
  // `*sum`: the sum of d loss_i / d parameters over their examples into the entries, the sum of their losses into the
  // scalar. Leaves go to threads round-robin. With `kept_indices` (a pruned network's kept entries), the sum is
  // compact: entry k holds the gradient entry kept_indices[k], and the pruned entries, which the optimizers never
  // read, cost nothing. REQUIRES: 0 <= leaf_begin <= leaf_end <= LeafCount(count); sum->size() ==
  // network->parameter_count(), or kept_indices.size() when given.
  void AddLeafGradients(absl::Span<const float> parameters, const float* inputs, const int32_t* labels, int64_t count,
                        int64_t leaf_begin, int64_t leaf_end, ExactSum* sum,
                        absl::Span<const int32_t> kept_indices = {});
  // For a batch of one leaf: writes into `gradient` the leaf's float gradient sum, computed exactly as
  // AddLeafGradients computes it, and returns its loss sum; ExactSum::RoundOneTerm and RoundOneScalar then give the
  // bits of the exact sum without its 128-bit entries (cheap where a batch is one leaf: LeNet-300-100 up to 1,024
  // examples). Runs on one thread. REQUIRES: LeafCount(count) == 1; sizes as for MeanGradient.
  double OneLeafGradientSum(absl::Span<const float> parameters, const float* inputs, const int32_t* labels,
                            int64_t count, absl::Span<float> gradient);

  // Forward passes only, over all of `examples`.
  Evaluation Evaluate(absl::Span<const float> parameters, const data::Examples& examples);
  // The same over examples [begin, end) only. REQUIRES: 0 <= begin <= end <= examples.size().
  Evaluation Evaluate(absl::Span<const float> parameters, const data::Examples& examples, int64_t begin, int64_t end);
  // The same over `count` examples at `inputs` (NHWC) with `labels`; with `correct_flags` (count bytes), also writes
  // 1 there for each correctly classified example and 0 for the others. Each example's loss and flag are the same
  // whatever the other examples of the call and the thread count (only the loss sum's order changes).
  Evaluation Evaluate(absl::Span<const float> parameters, const float* inputs, const int32_t* labels, int64_t count,
                      uint8_t* correct_flags = nullptr);

  // Runs the later calls with `plan` (null: dense) instead of options().sparse_plan, on the same workspaces and
  // buffers, as an evaluator made with it would: training_step_benchmark compares plans this way, since where
  // memory lands moves a step's time by up to 10% (training/README.md, "How far to trust a cell"). `plan` must
  // outlive its use. Errors: InvalidArgument when `plan` is of another network or its structures need more scratch
  // than the evaluator's plan (nn::Network::UseSparsities); the evaluator is then unchanged.
  absl::Status UseSparsePlan(const nn::SparsePlan* plan);

  const nn::Network& network() const { return *network_; }
  const EvaluatorOptions& options() const { return options_; }

 private:
  struct ThreadState;
  // AccumulateGradientSum, or with `write` GradientSum: each thread's first chunk then writes its share instead of
  // adding to it.
  double SumOverChunks(absl::Span<const float> parameters, const float* inputs, const int32_t* labels, int64_t count,
                       bool write, absl::Span<float> gradient);
  // Splits [0, count) into chunks of at most max_chunk examples, at least one per thread when each thread gets
  // `min_examples_per_thread` or more; chunk c runs on thread c % threads.
  int64_t ChunkCount(int64_t count, int64_t min_examples_per_thread) const;
  int64_t leaf_examples() const;
  // Adds leaf `leaf` of `leaves` of a batch of `count` examples into `gradient` on `state`'s workspace; returns its
  // loss sum.
  double ComputeLeaf(ThreadState& state, absl::Span<const float> parameters, const float* inputs,
                     const int32_t* labels, int64_t count, int64_t leaves, int64_t leaf, absl::Span<float> gradient);

  const nn::Network* network_;
  EvaluatorOptions options_;
  // The fewest examples a thread's share of a gradient sum must hold (GradientShareExamples).
  int64_t gradient_share_examples_ = 1;
  ThreadPool pool_;
  std::vector<std::unique_ptr<ThreadState>> thread_states_;
};

}  // namespace parsity::trainer

#endif  // PARSITY_TRAINING_TRAINER_GRADIENT_EVALUATOR_H_
