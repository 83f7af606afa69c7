#include "training/trainer/gradient_evaluator.h"

#include <algorithm>
#include <cstring>

#include "tools/base/aligned_vector.h"
#include "tools/base/check.h"
#include "tools/base/status_macros.h"
#include "training/nn/mask.h"

namespace parsity::trainer {
namespace {

// The ranges of a gradient buffer that passes over chunks of `smaller` and `larger` examples write: all of it, or
// with a plan only the ranges it names (nn::SparsePlan::ForEachGradientRange).
template <typename Visit>
void ForEachWrittenRange(const nn::SparsePlan* plan, int64_t size, int64_t smaller, int64_t larger, Visit visit) {
  if (plan == nullptr) {
    visit(0, size);
  } else {
    plan->ForEachGradientRange(smaller, larger, visit);
  }
}

}  // namespace

struct GradientEvaluator::ThreadState {
  std::unique_ptr<nn::Workspace> workspace;
  AlignedFloatVector gradient;  // This thread's share of the sum; thread 0 uses the caller's buffer instead.
  double loss_sum = 0;
  int64_t correct = 0;
  // For exact sums, allocated on first use: a leaf's float gradient (zero between leaves) and, on threads other
  // than 0, the thread's share of the exact sum.
  AlignedFloatVector leaf_gradient;
  std::unique_ptr<ExactSum> exact_sum;
};

GradientEvaluator::GradientEvaluator(const nn::Network* network, EvaluatorOptions options)
    : network_(network), options_(options), pool_(options.threads) {
  PARSITY_CHECK(network != nullptr);
  gradient_share_examples_ = GradientShareExamples(*network);
  PARSITY_CHECK(options.threads >= 1 && options.max_chunk >= 1);
  PARSITY_CHECK(options.sparse_plan == nullptr || &options.sparse_plan->network() == network);
  PARSITY_CHECK(options.leaf_examples >= 0);
  for (int thread = 0; thread < options.threads; ++thread) {
    auto state = std::make_unique<ThreadState>();
    state->workspace = network->CreateWorkspace(
        options.max_chunk, options.sparse_plan != nullptr ? &options.sparse_plan->layers() : nullptr);
    if (thread > 0) state->gradient.assign(network->parameter_count(), 0.0f);
    thread_states_.push_back(std::move(state));
  }
}

GradientEvaluator::~GradientEvaluator() = default;

absl::Status GradientEvaluator::UseSparsePlan(const nn::SparsePlan* plan) {
  if (plan != nullptr && &plan->network() != network_) {
    return absl::InvalidArgumentError("UseSparsePlan: the plan is of another network");
  }
  const nn::LayerSparsities* sparsities = plan != nullptr ? &plan->layers() : nullptr;
  // The workspaces are alike, so the first one's check speaks for all: an error leaves every one as it was.
  for (const auto& state : thread_states_) RETURN_IF_ERROR(network_->UseSparsities(sparsities, state->workspace.get()));
  options_.sparse_plan = plan;
  return absl::OkStatus();
}

namespace {

// Evaluate shares a batch only from this many examples per thread: waking the second thread costs about as much as a
// few examples' forward pass. (Gradient sums: GradientShareExamples.)
constexpr int64_t kMinExamplesPerThread = 8;

}  // namespace

int64_t GradientShareExamples(const nn::Network& network) {
  // A share's work must pay for a pass over the parameters and gradients, and for waking its thread (25-100 us here).
  constexpr int64_t kShareFlopsPerParameter = 400;
  constexpr int64_t kWakeFlops = 20'000'000;
  const int64_t flops = std::max<int64_t>(network.TrainingFlopsPerExample(), 1);
  const int64_t share_flops = std::max<int64_t>(kShareFlopsPerParameter * network.parameter_count(), kWakeFlops);
  return (share_flops + flops - 1) / flops;
}

int64_t GradientEvaluator::ChunkCount(int64_t count, int64_t min_examples_per_thread) const {
  const int64_t by_size = (count + options_.max_chunk - 1) / options_.max_chunk;
  const int64_t worth_sharing = std::min<int64_t>(options_.threads, count / min_examples_per_thread);
  return std::max<int64_t>({by_size, worth_sharing, 1});
}

double GradientEvaluator::AccumulateGradientSum(absl::Span<const float> parameters, const float* inputs,
                                                const int32_t* labels, int64_t count, absl::Span<float> gradient) {
  return SumOverChunks(parameters, inputs, labels, count, /*write=*/false, gradient);
}

double GradientEvaluator::SumOverChunks(absl::Span<const float> parameters, const float* inputs,
                                        const int32_t* labels, int64_t count, bool write, absl::Span<float> gradient) {
  PARSITY_CHECK(count >= 1);
  PARSITY_CHECK(static_cast<int64_t>(parameters.size()) == network_->parameter_count());
  PARSITY_CHECK(gradient.size() == parameters.size());
  const int64_t chunks = ChunkCount(count, gradient_share_examples_);
  const int64_t values_per_example = network_->input_shape().size();
  const int threads = static_cast<int>(std::min<int64_t>(options_.threads, chunks));
  const int64_t size = static_cast<int64_t>(gradient.size());
  const int64_t smaller = count / chunks;
  const int64_t larger = (count + chunks - 1) / chunks;
  for (int thread = 0; thread < threads; ++thread) {
    ThreadState& state = *thread_states_[thread];
    state.loss_sum = 0;
    // Thread 0 adds into the caller's buffer; the others' shares start from zero, or are written by their first chunk.
    if (thread == 0 || write) continue;
    float* partial = state.gradient.data();
    ForEachWrittenRange(options_.sparse_plan, size, smaller, larger,
                        [partial](int64_t begin, int64_t end) { std::fill(partial + begin, partial + end, 0.0f); });
  }
  pool_.Run(threads, [&](int thread) {
    ThreadState& state = *thread_states_[thread];
    absl::Span<float> target = thread == 0 ? gradient : absl::Span<float>(state.gradient);
    for (int64_t chunk = thread; chunk < chunks; chunk += threads) {
      // Chunk boundaries split count as evenly as possible.
      const int64_t begin = chunk * count / chunks;
      const int64_t end = (chunk + 1) * count / chunks;
      const float* chunk_inputs = inputs + begin * values_per_example;
      if (write && chunk == thread) {
        state.loss_sum += network_->WriteGradient(parameters, chunk_inputs, labels + begin, end - begin,
                                                  state.workspace.get(), target);
      } else {
        state.loss_sum += network_->AccumulateGradient(parameters, chunk_inputs, labels + begin, end - begin,
                                                       state.workspace.get(), target);
      }
    }
  });
  double loss_sum = thread_states_[0]->loss_sum;
  for (int thread = 1; thread < threads; ++thread) {
    const float* partial = thread_states_[thread]->gradient.data();
    float* sum = gradient.data();
    ForEachWrittenRange(options_.sparse_plan, size, smaller, larger, [partial, sum](int64_t begin, int64_t end) {
      for (int64_t index = begin; index < end; ++index) sum[index] += partial[index];
    });
    loss_sum += thread_states_[thread]->loss_sum;
  }
  return loss_sum;
}

int64_t DefaultLeafExamples(const nn::Network& network) {
  // Converting a leaf's gradient costs about 1.5 ns per parameter (exact_sum_benchmark), about 400 FLOPs of the
  // layers' products on this machine; a leaf of at least 4,000 training FLOPs per parameter keeps it near 10% or less.
  constexpr int64_t kLeafFlopsPerParameter = 4000;
  const int64_t flops = std::max<int64_t>(network.TrainingFlopsPerExample(), 1);
  const int64_t wanted = std::max<int64_t>(network.chunk_examples(),
                                           (kLeafFlopsPerParameter * network.parameter_count() + flops - 1) / flops);
  int64_t leaf = 1;
  while (leaf < wanted) leaf *= 2;
  return leaf;
}

int64_t GradientEvaluator::leaf_examples() const {
  return options_.leaf_examples > 0 ? options_.leaf_examples : DefaultLeafExamples(*network_);
}

int64_t GradientEvaluator::LeafCount(int64_t count) const {
  PARSITY_CHECK(count >= 1);
  return (count + leaf_examples() - 1) / leaf_examples();
}

double GradientEvaluator::ComputeLeaf(ThreadState& state, absl::Span<const float> parameters, const float* inputs,
                                      const int32_t* labels, int64_t count, int64_t leaves, int64_t leaf,
                                      absl::Span<float> gradient) {
  const int64_t values_per_example = network_->input_shape().size();
  const int64_t begin = leaf * count / leaves;
  const int64_t end = (leaf + 1) * count / leaves;
  // A leaf larger than the workspace runs as consecutive pieces of at most max_chunk examples, in order.
  double loss_sum = 0;
  for (int64_t piece = begin; piece < end; piece += options_.max_chunk) {
    const int64_t piece_end = std::min(end, piece + options_.max_chunk);
    loss_sum += network_->AccumulateGradient(parameters, inputs + piece * values_per_example, labels + piece,
                                             piece_end - piece, state.workspace.get(), gradient);
  }
  return loss_sum;
}

double GradientEvaluator::OneLeafGradientSum(absl::Span<const float> parameters, const float* inputs,
                                             const int32_t* labels, int64_t count, absl::Span<float> gradient) {
  PARSITY_CHECK(LeafCount(count) == 1);
  PARSITY_CHECK(static_cast<int64_t>(parameters.size()) == network_->parameter_count());
  PARSITY_CHECK(gradient.size() == parameters.size());
  std::fill(gradient.begin(), gradient.end(), 0.0f);
  return ComputeLeaf(*thread_states_[0], parameters, inputs, labels, count, 1, 0, gradient);
}

void GradientEvaluator::AddLeafGradients(absl::Span<const float> parameters, const float* inputs,
                                         const int32_t* labels, int64_t count, int64_t leaf_begin, int64_t leaf_end,
                                         ExactSum* sum, absl::Span<const int32_t> kept_indices) {
  const int64_t leaves = LeafCount(count);
  PARSITY_CHECK(0 <= leaf_begin && leaf_begin <= leaf_end && leaf_end <= leaves);
  PARSITY_CHECK(static_cast<int64_t>(parameters.size()) == network_->parameter_count());
  const bool compact = !kept_indices.empty();
  PARSITY_CHECK(sum != nullptr &&
                sum->size() == (compact ? static_cast<int64_t>(kept_indices.size()) : network_->parameter_count()));
  const int threads = static_cast<int>(std::min<int64_t>(options_.threads, leaf_end - leaf_begin));
  for (int thread = 0; thread < threads; ++thread) {
    ThreadState& state = *thread_states_[thread];
    if (state.leaf_gradient.empty()) state.leaf_gradient.assign(parameters.size(), 0.0f);
    // Compact sums clear only the kept entries after each leaf: clear the rest once per call, so that what dense
    // kernels write at pruned entries never piles up across steps.
    if (compact) std::fill(state.leaf_gradient.begin(), state.leaf_gradient.end(), 0.0f);
    if (thread > 0) {
      if (state.exact_sum == nullptr || state.exact_sum->size() != sum->size()) {
        state.exact_sum = std::make_unique<ExactSum>(sum->size());
      }
      state.exact_sum->Clear();
    }
  }
  pool_.Run(threads, [&](int thread) {
    ThreadState& state = *thread_states_[thread];
    ExactSum* target = thread == 0 ? sum : state.exact_sum.get();
    for (int64_t leaf = leaf_begin + thread; leaf < leaf_end; leaf += threads) {
      const double loss_sum = ComputeLeaf(state, parameters, inputs, labels, count, leaves, leaf,
                                          absl::MakeSpan(state.leaf_gradient));
      if (compact) {
        // Pruned entries stay in the buffer until the next call; nobody reads them.
        target->AddFloatsAndClear(absl::MakeSpan(state.leaf_gradient), kept_indices);
      } else {
        target->AddFloatsAndClear(absl::MakeSpan(state.leaf_gradient));
      }
      target->AddScalar(loss_sum);
    }
  });
  for (int thread = 1; thread < threads; ++thread) thread_states_[thread]->exact_sum->AddTo(sum);
}

void ScaleGradient(float scale, const nn::SparsePlan* plan, absl::Span<float> gradient) {
  float* values = gradient.data();
  const int64_t count = static_cast<int64_t>(gradient.size());
  if (plan == nullptr) {
    for (int64_t i = 0; i < count; ++i) values[i] *= scale;
    return;
  }
  const absl::Span<const uint16_t> kept_bits = plan->kept_bits();
  PARSITY_CHECK(static_cast<int64_t>(kept_bits.size()) == (count + 15) / 16);
  nn::ForEachLine(
      kept_bits, count, [values, scale](int64_t i) { values[i] *= scale; }, [](int64_t) {});
}

double GradientEvaluator::MeanGradient(absl::Span<const float> parameters, const float* inputs,
                                       const int32_t* labels, int64_t count, absl::Span<float> gradient) {
  const double loss_sum = GradientSum(parameters, inputs, labels, count, gradient);
  ScaleGradient(1.0f / static_cast<float>(count), options_.sparse_plan, gradient);
  return loss_sum / static_cast<double>(count);
}

double GradientEvaluator::GradientSum(absl::Span<const float> parameters, const float* inputs,
                                      const int32_t* labels, int64_t count, absl::Span<float> gradient) {
  // Each thread's first chunk writes its share (Network::WriteGradient): nothing is zeroed first.
  return SumOverChunks(parameters, inputs, labels, count, /*write=*/true, gradient);
}

Evaluation GradientEvaluator::Evaluate(absl::Span<const float> parameters, const data::Examples& examples) {
  return Evaluate(parameters, examples, 0, examples.size());
}

Evaluation GradientEvaluator::Evaluate(absl::Span<const float> parameters, const data::Examples& examples,
                                       int64_t begin_example, int64_t end_example) {
  PARSITY_CHECK(examples.shape.Size() == network_->input_shape().size());
  PARSITY_CHECK(0 <= begin_example && begin_example <= end_example && end_example <= examples.size());
  const int64_t count = end_example - begin_example;
  if (count == 0) return Evaluation{};
  return Evaluate(parameters, examples.example(begin_example), examples.labels.data() + begin_example, count);
}

Evaluation GradientEvaluator::Evaluate(absl::Span<const float> parameters, const float* inputs, const int32_t* labels,
                                       int64_t count, uint8_t* correct_flags) {
  PARSITY_CHECK(static_cast<int64_t>(parameters.size()) == network_->parameter_count());
  PARSITY_CHECK(count >= 0);
  Evaluation result;
  result.examples = count;
  if (count == 0) return result;
  const int64_t values_per_example = network_->input_shape().size();
  const int64_t chunks = ChunkCount(count, kMinExamplesPerThread);
  const int threads = static_cast<int>(std::min<int64_t>(options_.threads, chunks));
  for (int thread = 0; thread < threads; ++thread) {
    thread_states_[thread]->loss_sum = 0;
    thread_states_[thread]->correct = 0;
  }
  pool_.Run(threads, [&](int thread) {
    ThreadState& state = *thread_states_[thread];
    for (int64_t chunk = thread; chunk < chunks; chunk += threads) {
      const int64_t begin = chunk * count / chunks;
      const int64_t end = (chunk + 1) * count / chunks;
      int64_t correct = 0;
      state.loss_sum += network_->Evaluate(parameters, inputs + begin * values_per_example, labels + begin,
                                           end - begin, state.workspace.get(), &correct,
                                           correct_flags != nullptr ? correct_flags + begin : nullptr);
      state.correct += correct;
    }
  });
  double loss_sum = 0;
  int64_t correct = 0;
  for (int thread = 0; thread < threads; ++thread) {
    loss_sum += thread_states_[thread]->loss_sum;
    correct += thread_states_[thread]->correct;
  }
  result.loss_sum = loss_sum;
  result.errors = count - correct;
  result.mean_loss = loss_sum / static_cast<double>(count);
  result.error_rate = static_cast<double>(result.errors) / static_cast<double>(count);
  return result;
}

}  // namespace parsity::trainer
