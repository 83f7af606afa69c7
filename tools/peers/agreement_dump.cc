// Dumps what parsity computes for one network from fixed inputs, for the peer agreement test against PyTorch
// (tools/peers/pytorch_agreement_test.py, which recomputes everything in PyTorch from the same files).
//
//   bazel run //tools/peers:agreement_dump -- --network=resnet8 --output_dir=/tmp/resnet8
//
// Everything parsity computes goes through its public entry points, exactly as a trial does: the network from
// nn::CreateNetwork, gradients from trainer::GradientEvaluator::MeanGradient (one thread), SNIP scores from
// pruning::ConnectionSensitivity and pruning::SnipSaliency, masks from pruning::ComputeMask, updates from
// optimizers::CreateOptimizer({.name = "sgd"}, count, mask)->Step, and the masked network's gradients through its
// sparse execution plan (nn::SparsePlan, --sparse_kernels, as the trainer builds it for every masked trial).
//
// The inputs:
// - parameters: the network's own initialization (Network::Initialize, seed --seed), then every bias replaced by
//   0.1 * N(0, 1) (std::mt19937_64(--seed ^ 0x5eed0b1a5)) so that where a bias is added matters from the first
//   forward pass ("initial");
// - --examples synthetic, learnable examples from std::mt19937_64(--seed + 1) through parsity's own conversions: ten
//   class templates with N(0, 1) pixels (nn::StandardNormal), then per example its label engine() % 10 and its
//   pixels = the label's template + N(0, 1) noise (the network learns them within the 100 steps, so that its
//   gradients are coherent rather than sums of cancelling terms);
// - batch t of the SGD runs (t = 0, 1, ...) is examples [B * (t mod E/B), + B) for B = --batch_size, E = --examples.
//
// What is computed, each written as raw little-endian float32 (.f32), float64 (.f64) or int32 (.i32) files in
// --output_dir, plus manifest.json (the parameter layout, the settings and the scalar results):
// - inputs.f32 (NHWC), labels.i32, initial.f32;
// - the mean loss (manifest) and gradient.f32 on batch 0 at `initial`;
// - SNIP at `initial` over all examples in batches of pruning::kSnipBatchSize (the last one shorter):
//   sensitivity.f64 (signed g), saliency.f64, and mask.f32 = ComputeMask(snip, global, biases prunable, --sparsity);
// - SNIP at `initial` with zero biases (parsity's real initialization: every bias scores exactly 0), and the mask
//   tie_mask.f32 at a sparsity chosen so that the cut falls inside the block of zero scores, where only the tie rule
//   (lower buffer index kept first) decides: zero_bias_sensitivity.f64, zero_bias_saliency.f64;
// - dense SGD: dense_step1.f32 and dense_final.f32 after 1 and --steps steps from `initial`, and the loss of every
//   step (manifest);
// - masked SGD: masked_initial = mask applied to `initial`; masked_gradient.f32 on batch 0 (pruned entries zeroed);
//   masked_step1.f32 and masked_final.f32 after 1 and --steps steps of SGD with the mask, gradients through the
//   sparse plan; losses.
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "pruning/pruning.h"
#include "pruning/snip.h"
#include "tools/base/json.h"
#include "tools/base/status_macros.h"
#include "training/data/examples.h"
#include "training/nn/initialization.h"
#include "training/nn/mask.h"
#include "training/nn/network.h"
#include "training/nn/networks.h"
#include "training/nn/sparse_plan.h"
#include "training/optimizers/optimizer_factory.h"
#include "training/trainer/gradient_evaluator.h"

ABSL_FLAG(std::string, network, "simple_cnn", "simple_cnn, resnet8 or lenet_300_100");
ABSL_FLAG(std::string, output_dir, "", "directory to write into (must exist)");
ABSL_FLAG(uint64_t, seed, 1, "seed of the initialization (seed) and of the synthetic data (seed + 1)");
ABSL_FLAG(int64_t, examples, 256, "synthetic examples; a multiple of --batch_size");
ABSL_FLAG(int64_t, batch_size, 16, "examples per SGD step");
ABSL_FLAG(int64_t, steps, 100, "SGD steps, dense and masked");
ABSL_FLAG(double, learning_rate, 0.003, "constant SGD learning rate");
ABSL_FLAG(double, sparsity, 0.9, "SNIP sparsity of the masked run");
ABSL_FLAG(std::string, sparse_kernels, "sparse", "kernel selection of the masked run's sparse plan: auto|dense|sparse");

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the dump files are little-endian raw arrays");

namespace parsity {
namespace {

constexpr int kNumClasses = 10;

template <typename T>
absl::Status WriteRaw(const std::string& directory, const std::string& file, absl::Span<const T> values) {
  const std::string path = absl::StrCat(directory, "/", file);
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) return absl::InternalError(absl::StrCat("cannot open ", path, " for writing"));
  const size_t written = std::fwrite(values.data(), sizeof(T), values.size(), out);
  if (std::fclose(out) != 0 || written != values.size()) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

JsonArray Shape(const std::vector<int64_t>& shape) {
  JsonArray array;
  for (const int64_t d : shape) array.Add(d);
  return array;
}

JsonArray Doubles(const std::vector<double>& values) {
  JsonArray array;
  for (const double v : values) array.Add(v);
  return array;
}

// `steps` SGD steps from `parameters` (updated in place) on the batches described in the header; returns each
// step's mean loss (before its update), and the parameters after the first step in `after_first_step`.
std::vector<double> RunSgd(trainer::GradientEvaluator& evaluator, optimizers::Optimizer& optimizer,
                           const data::Examples& examples, int64_t batch_size, int64_t steps, float learning_rate,
                           std::vector<float>& parameters, std::vector<float>* after_first_step) {
  std::vector<float> gradient(parameters.size());
  std::vector<double> losses;
  const int64_t batches = examples.size() / batch_size;
  for (int64_t t = 0; t < steps; ++t) {
    const int64_t begin = (t % batches) * batch_size;
    losses.push_back(evaluator.MeanGradient(parameters, examples.example(begin), examples.labels.data() + begin,
                                            batch_size, absl::MakeSpan(gradient)));
    optimizer.Step(learning_rate, gradient, absl::MakeSpan(parameters));
    if (t == 0) *after_first_step = parameters;
  }
  return losses;
}

absl::Status Run() {
  const std::string directory = absl::GetFlag(FLAGS_output_dir);
  if (directory.empty()) return absl::InvalidArgumentError("--output_dir is required");
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  const int64_t example_count = absl::GetFlag(FLAGS_examples);
  const int64_t batch_size = absl::GetFlag(FLAGS_batch_size);
  const int64_t steps = absl::GetFlag(FLAGS_steps);
  const float learning_rate = static_cast<float>(absl::GetFlag(FLAGS_learning_rate));
  const double sparsity = absl::GetFlag(FLAGS_sparsity);
  if (batch_size < 1 || example_count < batch_size || example_count % batch_size != 0 || steps < 1) {
    return absl::InvalidArgumentError("need 1 <= --batch_size, --examples a multiple of it, --steps >= 1");
  }
  ASSIGN_OR_RETURN(const nn::KernelSelection selection,
                   nn::ParseKernelSelection(absl::GetFlag(FLAGS_sparse_kernels)));
  ASSIGN_OR_RETURN(std::unique_ptr<nn::Network> network, nn::CreateNetwork(absl::GetFlag(FLAGS_network)));
  const nn::ParameterLayout& layout = network->layout();
  const int64_t count = network->parameter_count();

  // Parameters: parsity's initialization, biases then made nonzero.
  std::vector<float> zero_bias_initial(count);
  {
    std::mt19937_64 engine(seed);
    network->Initialize(engine, absl::MakeSpan(zero_bias_initial));
  }
  std::vector<float> initial = zero_bias_initial;
  {
    std::mt19937_64 engine(seed ^ 0x5eed0b1a5ULL);
    for (const nn::ParameterView& view : layout.views()) {
      if (view.kind != nn::ParameterKind::kBiases) continue;
      for (int64_t i = view.offset; i < view.offset + view.size; ++i) {
        initial[i] = static_cast<float>(0.1 * nn::StandardNormal(engine));
      }
    }
  }

  // Synthetic examples.
  data::Examples examples;
  const nn::ImageShape& input = network->input_shape();
  examples.shape = data::ImageShape{static_cast<int>(input.height), static_cast<int>(input.width),
                                    static_cast<int>(input.channels)};
  examples.num_classes = kNumClasses;
  {
    std::mt19937_64 engine(seed + 1);
    const int64_t size = examples.shape.Size();
    std::vector<double> templates(kNumClasses * size);
    for (double& pixel : templates) pixel = nn::StandardNormal(engine);
    examples.pixels.resize(example_count * size);
    for (int64_t i = 0; i < example_count; ++i) {
      const int32_t label = static_cast<int32_t>(engine() % kNumClasses);
      examples.labels.push_back(label);
      for (int64_t j = 0; j < size; ++j) {
        examples.pixels[i * size + j] = static_cast<float>(templates[label * size + j] + nn::StandardNormal(engine));
      }
    }
  }
  RETURN_IF_ERROR(data::ValidateExamples(examples, "synthetic examples"));

  // Loss and gradient on batch 0.
  trainer::GradientEvaluator evaluator(network.get(), {.threads = 1, .max_chunk = 256});
  std::vector<float> gradient(count);
  const double first_loss = evaluator.MeanGradient(initial, examples.example(0), examples.labels.data(), batch_size,
                                                   absl::MakeSpan(gradient));

  // SNIP, as ComputeMask runs it: all examples, batches of kSnipBatchSize, one thread.
  pruning::SnipOptions snip;
  snip.batch_size = pruning::kSnipBatchSize;
  snip.batches = 0;
  snip.threads = 1;
  ASSIGN_OR_RETURN(const std::vector<double> sensitivity,
                   pruning::ConnectionSensitivity(*network, initial, examples, snip));
  const std::vector<double> saliency = pruning::SnipSaliency(sensitivity);
  pruning::PruningConfig config;
  config.scheme = "snip";
  config.sparsity = sparsity;
  config.scope = "global";
  config.prune_biases = true;
  config.snip_batches = 0;
  ASSIGN_OR_RETURN(const nn::Mask mask, pruning::ComputeMask(config, *network, initial, examples, seed, 1));

  // SNIP at zero biases, and a mask whose cut falls inside the zero scores.
  ASSIGN_OR_RETURN(const std::vector<double> zero_bias_sensitivity,
                   pruning::ConnectionSensitivity(*network, zero_bias_initial, examples, snip));
  const std::vector<double> zero_bias_saliency = pruning::SnipSaliency(zero_bias_sensitivity);
  int64_t zero_scores = 0;
  for (const double s : zero_bias_saliency) zero_scores += s == 0.0;
  if (zero_scores < 4) return absl::InternalError("expected the zero biases to score 0");
  // Prune about half of the zero-score entries: they are the lowest scores, so the cut lies among them.
  const double tie_sparsity = 0.5 * static_cast<double>(zero_scores) / static_cast<double>(count);
  pruning::PruningConfig tie_config = config;
  tie_config.sparsity = tie_sparsity;
  ASSIGN_OR_RETURN(const nn::Mask tie_mask,
                   pruning::ComputeMask(tie_config, *network, zero_bias_initial, examples, seed, 1));

  // Dense SGD.
  ASSIGN_OR_RETURN(std::unique_ptr<optimizers::Optimizer> dense_sgd,
                   optimizers::CreateOptimizer({.name = "sgd"}, count, nullptr));
  std::vector<float> dense = initial;
  std::vector<float> dense_step1;
  const std::vector<double> dense_losses =
      RunSgd(evaluator, *dense_sgd, examples, batch_size, steps, learning_rate, dense, &dense_step1);

  // Masked SGD through the sparse plan, as a masked trial runs.
  ASSIGN_OR_RETURN(std::unique_ptr<nn::SparsePlan> plan,
                   nn::SparsePlan::Create(*network, mask, {.selection = selection}));
  trainer::GradientEvaluator masked_evaluator(network.get(),
                                              {.threads = 1, .max_chunk = 256, .sparse_plan = plan.get()});
  std::vector<float> masked = initial;
  mask.Apply(absl::MakeSpan(masked));
  std::vector<float> masked_gradient(count);
  std::vector<float> masked_step1;
  const double masked_first_loss = masked_evaluator.MeanGradient(
      masked, examples.example(0), examples.labels.data(), batch_size, absl::MakeSpan(masked_gradient));
  mask.Apply(absl::MakeSpan(masked_gradient));
  ASSIGN_OR_RETURN(std::unique_ptr<optimizers::Optimizer> masked_sgd,
                   optimizers::CreateOptimizer({.name = "sgd"}, count, &mask));
  const std::vector<double> masked_losses =
      RunSgd(masked_evaluator, *masked_sgd, examples, batch_size, steps, learning_rate, masked, &masked_step1);

  RETURN_IF_ERROR(WriteRaw<float>(directory, "inputs.f32", examples.pixels));
  RETURN_IF_ERROR(WriteRaw<int32_t>(directory, "labels.i32", examples.labels));
  RETURN_IF_ERROR(WriteRaw<float>(directory, "initial.f32", initial));
  RETURN_IF_ERROR(WriteRaw<float>(directory, "gradient.f32", gradient));
  RETURN_IF_ERROR(WriteRaw<double>(directory, "sensitivity.f64", sensitivity));
  RETURN_IF_ERROR(WriteRaw<double>(directory, "saliency.f64", saliency));
  RETURN_IF_ERROR(WriteRaw<float>(directory, "mask.f32", mask.values()));
  RETURN_IF_ERROR(WriteRaw<double>(directory, "zero_bias_sensitivity.f64", zero_bias_sensitivity));
  RETURN_IF_ERROR(WriteRaw<double>(directory, "zero_bias_saliency.f64", zero_bias_saliency));
  RETURN_IF_ERROR(WriteRaw<float>(directory, "tie_mask.f32", tie_mask.values()));
  RETURN_IF_ERROR(WriteRaw<float>(directory, "dense_step1.f32", dense_step1));
  RETURN_IF_ERROR(WriteRaw<float>(directory, "dense_final.f32", dense));
  RETURN_IF_ERROR(WriteRaw<float>(directory, "masked_gradient.f32", masked_gradient));
  RETURN_IF_ERROR(WriteRaw<float>(directory, "masked_step1.f32", masked_step1));
  RETURN_IF_ERROR(WriteRaw<float>(directory, "masked_final.f32", masked));

  JsonArray views;
  for (const nn::ParameterView& view : layout.views()) {
    views.Add(JsonObject()
                  .Add("name", view.name)
                  .Add("kind", nn::ParameterKindName(view.kind))
                  .Add("shape", Shape(view.shape))
                  .Add("offset", view.offset)
                  .Add("size", view.size));
  }
  JsonArray kernels;
  for (const nn::LayerKernels& layer : plan->Describe(batch_size)) {
    kernels.Add(JsonObject()
                    .Add("name", layer.name)
                    .Add("density", layer.density)
                    .Add("forward", nn::KernelKindName(layer.forward))
                    .Add("input_gradient", nn::KernelKindName(layer.input_gradient))
                    .Add("weight_gradient", nn::KernelKindName(layer.weight_gradient)));
  }
  JsonObject manifest;
  manifest.Add("network", network->name())
      .Add("seed", seed)
      .Add("input_shape", Shape({input.height, input.width, input.channels}))
      .Add("num_classes", network->num_classes())
      .Add("parameter_count", count)
      .Add("views", views)
      .Add("examples", example_count)
      .Add("batch_size", batch_size)
      .Add("steps", steps)
      .Add("learning_rate", static_cast<double>(learning_rate))
      .Add("snip_batch_size", pruning::kSnipBatchSize)
      .Add("sparsity", sparsity)
      .Add("kept", mask.kept_count())
      .Add("tie_sparsity", tie_sparsity)
      .Add("tie_kept", tie_mask.kept_count())
      .Add("sparse_kernels", nn::KernelSelectionName(selection))
      .Add("masked_kernels", kernels)
      .Add("first_loss", first_loss)
      .Add("masked_first_loss", masked_first_loss)
      .Add("dense_losses", Doubles(dense_losses))
      .Add("masked_losses", Doubles(masked_losses));
  const std::string text = manifest.ToString() + "\n";
  RETURN_IF_ERROR(WriteRaw<char>(directory, "manifest.json", absl::MakeConstSpan(text.data(), text.size())));
  std::cout << "wrote " << directory << "/manifest.json (" << network->name()
            << ", " << count << " parameters, " << mask.kept_count() << " kept at sparsity " << sparsity << ")\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace parsity

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = parsity::Run();
  if (!status.ok()) {
    std::cerr << "agreement_dump: " << status << "\n";
    return 1;
  }
  return 0;
}
