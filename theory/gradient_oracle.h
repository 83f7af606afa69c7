// The one interface the theory estimators (trajectory_lipschitz.h, hessian_top_eigenvalue.h, gradient_noise.h) see
// of a model: gradients of a finite-sum objective on flat float buffers, taken through an optional pruning mask.
// Networks of the training engine plug in through NetworkGradientOracle; tests plug in closed-form problems
// (theory/test_problems.h). Design note: theory/README.md.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<NetworkGradientOracle> oracle,
//                    NetworkGradientOracle::Create(network.get(), &dataset.train, &mask, {.threads = 2}));
//   const double loss = oracle->Gradient(parameters, absl::MakeSpan(gradient));   // m ⊙ grad f(m ⊙ w), f(m ⊙ w)
//
// The objective is f(w) = (1/N) sum_{i<N} f_i(w) over N = example_count() examples, w in R^D (D = dimension()).
// With a mask m in {0,1}^D the objective is the pruned network's, f(m ⊙ w), and every gradient the oracle returns is
// m ⊙ (grad f)(m ⊙ w) (pruned entries exactly 0): the estimators then measure f restricted to the subspace of kept
// coordinates, the function that training a pruned network optimizes. Its Hessian is P H P with P = diag(m). The
// pruned entries of w are read as 0 whatever they hold (a fresh initialization, say), so the result never depends on
// which kernels, dense or sparse, a network's plan picked. The estimators also zero the pruned entries of every
// direction they step along (ApplyMask), so pruned coordinates never move.
#ifndef PARSITY_THEORY_GRADIENT_ORACLE_H_
#define PARSITY_THEORY_GRADIENT_ORACLE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "training/data/examples.h"
#include "training/nn/network.h"
#include "training/nn/mask.h"
#include "training/nn/sparse_plan.h"
#include "training/trainer/gradient_evaluator.h"

namespace parsity::theory {

// Gradients of f(w) = (1/N) sum_i f_i(w), masked. Not thread-safe: one caller at a time (an implementation may
// use threads inside a call).
class GradientOracle {
 public:
  virtual ~GradientOracle() = default;
  GradientOracle(const GradientOracle&) = delete;
  GradientOracle& operator=(const GradientOracle&) = delete;

  // D: entries of a parameter, gradient or direction buffer.
  int64_t dimension() const { return dimension_; }
  // N: examples in the finite sum (1 for an objective that is not a sum, e.g. a fixed quadratic).
  int64_t example_count() const { return example_count_; }
  // The mask (D entries of 0/1), or nullptr when nothing is pruned.
  const nn::Mask* mask() const { return mask_; }

  // Writes m ⊙ grad f(m ⊙ w), the full mean gradient over all N examples, into `gradient` (overwriting it) and
  // returns f(m ⊙ w) (without a mask: grad f(w) and f(w)). REQUIRES: w.size() == gradient.size() == dimension()
  // (checked; aborts).
  double Gradient(absl::Span<const float> w, absl::Span<float> gradient);

  // Writes m ⊙ (1/|I|) sum_{i in I} grad f_i(m ⊙ w) for the examples I = `indices` (repeats count repeatedly) into
  // `gradient` and returns (1/|I|) sum_{i in I} f_i(m ⊙ w). REQUIRES: sizes as Gradient, indices non-empty and each
  // in [0, example_count()) (checked; aborts).
  double BatchGradient(absl::Span<const float> w, absl::Span<const int64_t> indices, absl::Span<float> gradient);

  // Zeroes the pruned entries of `buffer` (no-op without a mask). REQUIRES: buffer.size() == dimension().
  void ApplyMask(absl::Span<float> buffer) const;
  void ApplyMask(absl::Span<double> buffer) const;

 protected:
  // REQUIRES: dimension >= 1, example_count >= 1, mask null or of `dimension` entries (checked; aborts). `mask`
  // must outlive the oracle.
  GradientOracle(int64_t dimension, int64_t example_count, const nn::Mask* mask);

  // The unmasked versions of Gradient and BatchGradient, called with w's pruned entries zero; arguments already
  // checked. Overwrite `gradient`.
  virtual double ComputeGradient(absl::Span<const float> w, absl::Span<float> gradient) = 0;
  virtual double ComputeBatchGradient(absl::Span<const float> w, absl::Span<const int64_t> indices,
                                      absl::Span<float> gradient) = 0;

 private:
  // w itself when its pruned entries are all 0 (as training keeps them), else m ⊙ w in pruned_point_.
  absl::Span<const float> PrunedPoint(absl::Span<const float> w);

  int64_t dimension_;
  int64_t example_count_;
  const nn::Mask* mask_;
  std::vector<float> pruned_point_;
};

// A network of the training engine (training/nn/network.h) on a set of examples: f_i is the softmax cross-entropy
// of example i, gradients come from trainer::GradientEvaluator (chunked, optionally threaded, deterministic for a
// given thread count and chunk size). With a mask (and no plan in `options`) the oracle builds the network's sparse
// execution plan (training/nn/sparse_plan.h), so that its gradient passes compute over the kept weights only.
class NetworkGradientOracle final : public GradientOracle {
 public:
  // `network`, `examples` and `mask` (nullable) must outlive the oracle. Errors: InvalidArgument when examples is
  // empty or its example shape or class count differ from the network's, when the mask does not cover the network's
  // parameters, or when options.threads or options.max_chunk < 1.
  static absl::StatusOr<std::unique_ptr<NetworkGradientOracle>> Create(const nn::Network* network,
                                                                       const data::Examples* examples,
                                                                       const nn::Mask* mask,
                                                                       trainer::EvaluatorOptions options);

  const data::Examples& examples() const { return *examples_; }

 protected:
  double ComputeGradient(absl::Span<const float> w, absl::Span<float> gradient) override;
  double ComputeBatchGradient(absl::Span<const float> w, absl::Span<const int64_t> indices,
                              absl::Span<float> gradient) override;

 private:
  NetworkGradientOracle(const nn::Network* network, const data::Examples* examples, const nn::Mask* mask,
                        trainer::EvaluatorOptions options, std::unique_ptr<nn::SparsePlan> sparse_plan);

  const data::Examples* examples_;
  std::unique_ptr<nn::SparsePlan> sparse_plan_;  // Before evaluator_, which uses it.
  trainer::GradientEvaluator evaluator_;
  data::Batch batch_;  // Gathered examples of BatchGradient, reused across calls.
};

}  // namespace parsity::theory

#endif  // PARSITY_THEORY_GRADIENT_ORACLE_H_
