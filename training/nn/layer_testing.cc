#include "training/nn/layer_testing.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "tools/base/aligned_vector.h"
#include "tools/base/check.h"
#include "training/nn/reference.h"

namespace parsity::nn::testing {
namespace {

using reference::Tensor;
using reference::Terms;

constexpr double kFloatEpsilon = std::numeric_limits<float>::epsilon();
constexpr double kDoubleEpsilon = std::numeric_limits<double>::epsilon();
constexpr double kFiniteDifferenceStep = 1.0 / 64.0;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
// Values parameter gradients and accumulated input gradients start from (exact in float).
constexpr float kParameterGradientStart = 0.25f;
constexpr float kInputGradientStart = 0.5f;

Tensor ToDouble(const std::vector<float>& values) { return Tensor(values.begin(), values.end()); }

int64_t WeightsSize(const Layer& layer, ParameterKind kind) {
  for (const ParameterSpec& spec : layer.parameter_specs()) {
    if (spec.kind != kind) continue;
    int64_t size = 1;
    for (int64_t dimension : spec.shape) size *= dimension;
    return size;
  }
  return 0;
}

int64_t FanIn(const Layer& layer) {
  for (const ParameterSpec& spec : layer.parameter_specs()) return spec.fan_in;
  return 1;
}

struct FastResult {
  std::vector<float> output;
  std::vector<std::vector<float>> input_gradients;
  std::vector<float> weight_gradient;
  std::vector<float> bias_gradient;
};

// How Backward's buffers relate, as in a Network that shares a tensor's values and gradient (training/nn/network.h).
enum class Sharing {
  kNone,
  kNaNOutput,          // Backward gets a NaN-filled output instead of Forward's.
  kGradientOverInput,  // Input 0's gradient is written into a copy of input 0, which Backward reads as the input.
};

// One forward and backward pass of the fast layer. Input gradients start at `input_gradient_start` and are written
// in `mode`; parameter gradients start at `parameter_gradient_start`.
FastResult RunFast(const Layer& layer, const LayerTestData& data, GradientMode mode, float input_gradient_start,
                   float parameter_gradient_start, GradientMode parameter_mode = GradientMode::kAccumulate,
                   Sharing sharing = Sharing::kNone) {
  const int64_t batch = data.batch;
  FastResult result;
  result.output.assign(batch * layer.output_shape().size(), kNaN);
  int64_t scratch_floats = layer.ScratchFloats(batch);
  if (data.sparsity != nullptr) scratch_floats = std::max(scratch_floats, data.sparsity->ScratchFloats(batch));
  AlignedFloatVector scratch(static_cast<size_t>(scratch_floats), kNaN);
  std::vector<const float*> inputs;
  for (const std::vector<float>& input : data.inputs) inputs.push_back(input.data());

  ForwardArguments forward;
  forward.batch = batch;
  forward.inputs = absl::MakeConstSpan(inputs);
  forward.parameters.weights = data.weights.empty() ? nullptr : data.weights.data();
  forward.parameters.biases = data.biases.empty() ? nullptr : data.biases.data();
  forward.parameters.sparsity = data.sparsity;
  forward.output = result.output.data();
  forward.scratch = scratch.data();
  layer.Forward(forward);

  std::vector<float*> input_gradients;
  for (const std::vector<float>& input : data.inputs) {
    result.input_gradients.emplace_back(input.size(), input_gradient_start);
  }
  if (sharing == Sharing::kGradientOverInput) {
    result.input_gradients[0] = data.inputs[0];
    inputs[0] = result.input_gradients[0].data();
  }
  for (std::vector<float>& gradient : result.input_gradients) input_gradients.push_back(gradient.data());
  const std::vector<float> nan_output(sharing == Sharing::kNaNOutput ? result.output.size() : 0, kNaN);
  const std::vector<GradientMode> modes(data.inputs.size(), mode);
  result.weight_gradient.assign(data.weights.size(), parameter_gradient_start);
  result.bias_gradient.assign(data.biases.size(), parameter_gradient_start);
  std::fill(scratch.begin(), scratch.end(), kNaN);

  BackwardArguments backward;
  backward.batch = batch;
  backward.inputs = absl::MakeConstSpan(inputs);
  backward.output = sharing == Sharing::kNaNOutput ? nan_output.data() : result.output.data();
  backward.output_gradient = data.output_gradient.data();
  backward.parameters = forward.parameters;
  backward.input_gradients = absl::MakeConstSpan(input_gradients);
  backward.input_gradient_modes = absl::MakeConstSpan(modes);
  backward.parameter_gradients.weights = result.weight_gradient.empty() ? nullptr : result.weight_gradient.data();
  backward.parameter_gradients.biases = result.bias_gradient.empty() ? nullptr : result.bias_gradient.data();
  backward.parameter_gradient_mode = parameter_mode;
  backward.scratch = scratch.data();
  layer.Backward(backward);
  return result;
}

reference::Parameters ReferenceParameters(const LayerTestData& data) {
  reference::Parameters parameters;
  parameters.weights = ToDouble(data.weights);
  parameters.biases = ToDouble(data.biases);
  return parameters;
}

// Gradients through the mask: zero at pruned weights.
void MaskWeightGradient(const LayerTestData& data, Tensor* weight_gradient) {
  if (data.weight_mask.empty()) return;
  for (size_t i = 0; i < weight_gradient->size(); ++i) {
    if (data.weight_mask[i] == 0.0f) (*weight_gradient)[i] = 0.0;
  }
}

std::vector<Tensor> ReferenceInputs(const LayerTestData& data) {
  std::vector<Tensor> inputs;
  for (const std::vector<float>& input : data.inputs) inputs.push_back(ToDouble(input));
  return inputs;
}

std::vector<const Tensor*> Pointers(const std::vector<Tensor>& tensors) {
  std::vector<const Tensor*> pointers;
  for (const Tensor& tensor : tensors) pointers.push_back(&tensor);
  return pointers;
}

// Checks |actual - (start + expected)| <= tolerance_factor * (magnitude + |start|) + extra for every element.
// Appends at most a few failures to `message`; returns false if any element fails.
bool CheckClose(const std::string& what, const std::vector<float>& actual, double start, const Tensor& expected,
                const Tensor& magnitude, double tolerance_factor, double extra, std::string* message) {
  if (actual.size() != expected.size() || expected.size() != magnitude.size()) {
    absl::StrAppend(message, what, ": size ", actual.size(), " != ", expected.size(), "\n");
    return false;
  }
  int failures = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double target = start + expected[i];
    const double tolerance = tolerance_factor * (magnitude[i] + std::fabs(start)) + extra;
    const double error = std::fabs(static_cast<double>(actual[i]) - target);
    if (!(error <= tolerance)) {
      if (failures < 5) {
        absl::StrAppend(message, what, "[", i, "]: got ", actual[i], ", want ", target, " (error ", error,
                        " > tolerance ", tolerance, ")\n");
      }
      ++failures;
    }
  }
  if (failures > 0) absl::StrAppend(message, what, ": ", failures, " of ", actual.size(), " elements differ\n");
  return failures == 0;
}

}  // namespace

std::vector<Implementation> Implementations() {
  std::vector<Implementation> implementations = {Implementation::kEigen};
  if (HasDirectKernels()) implementations.push_back(Implementation::kDirect);
  return implementations;
}

const char* ImplementationName(Implementation implementation) {
  switch (implementation) {
    case Implementation::kDirect:
      return "direct";
    case Implementation::kEigen:
      return "eigen";
    default:
      return "automatic";
  }
}

LayerTestData MakeLayerTestData(const Layer& layer, int64_t batch, InputValues values, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  LayerTestData data;
  data.batch = batch;
  for (const ImageShape& shape : layer.input_shapes()) {
    std::vector<float> input(batch * shape.size());
    if (values == InputValues::kDistinct) {
      for (int64_t b = 0; b < batch; ++b) {
        std::vector<float> grid(shape.size());
        for (int64_t i = 0; i < shape.size(); ++i) {
          grid[i] = static_cast<float>(i - shape.size() / 2) / 16.0f;
        }
        std::shuffle(grid.begin(), grid.end(), engine);
        std::copy(grid.begin(), grid.end(), input.begin() + b * shape.size());
      }
    } else {
      for (float& value : input) {
        double x = normal(engine);
        if (values == InputValues::kAwayFromZero && std::fabs(x) < 0.125) x = x < 0 ? x - 0.125 : x + 0.125;
        value = static_cast<float>(x);
      }
    }
    data.inputs.push_back(std::move(input));
  }
  const double weight_scale = 1.0 / std::sqrt(static_cast<double>(FanIn(layer)));
  data.weights.resize(WeightsSize(layer, ParameterKind::kWeights));
  for (float& value : data.weights) value = static_cast<float>(weight_scale * normal(engine));
  data.biases.resize(WeightsSize(layer, ParameterKind::kBiases));
  for (float& value : data.biases) value = static_cast<float>(0.5 * normal(engine));
  data.output_gradient.resize(batch * layer.output_shape().size());
  for (float& value : data.output_gradient) value = static_cast<float>(normal(engine));
  return data;
}

::testing::AssertionResult MatchesReference(const Layer& layer, const LayerTestData& data, int64_t reduction_length) {
  const double factor = static_cast<double>(reduction_length + 4) * kFloatEpsilon;
  const reference::Parameters parameters = ReferenceParameters(data);
  const std::vector<Tensor> inputs = ReferenceInputs(data);
  const std::vector<const Tensor*> input_pointers = Pointers(inputs);
  const Tensor output_gradient = ToDouble(data.output_gradient);
  const Tensor output = reference::Forward(layer, input_pointers, parameters, data.batch);
  const Tensor output_magnitude = reference::Forward(layer, input_pointers, parameters, data.batch, Terms::kAbsolute);
  reference::Gradients gradients = reference::Backward(layer, input_pointers, parameters, output_gradient, data.batch);
  reference::Gradients magnitudes =
      reference::Backward(layer, input_pointers, parameters, output_gradient, data.batch, Terms::kAbsolute);
  MaskWeightGradient(data, &gradients.weights);
  MaskWeightGradient(data, &magnitudes.weights);

  std::string message;
  bool ok = true;
  for (const GradientMode mode : {GradientMode::kOverwrite, GradientMode::kAccumulate}) {
    const bool overwrite = mode == GradientMode::kOverwrite;
    const float input_start = overwrite ? kNaN : kInputGradientStart;
    const float parameter_start = overwrite ? kParameterGradientStart : 0.0f;
    const FastResult fast = RunFast(layer, data, mode, input_start, parameter_start);
    const std::string tag = overwrite ? " (overwrite)" : " (accumulate)";
    ok &= CheckClose("output" + tag, fast.output, 0.0, output, output_magnitude, factor, 0.0, &message);
    for (size_t j = 0; j < inputs.size(); ++j) {
      ok &= CheckClose(absl::StrCat("input_gradient", j, tag), fast.input_gradients[j], overwrite ? 0.0 : input_start,
                       gradients.inputs[j], magnitudes.inputs[j], factor, 0.0, &message);
    }
    ok &= CheckClose("weight_gradient" + tag, fast.weight_gradient, parameter_start, gradients.weights,
                     magnitudes.weights, factor, 0.0, &message);
    ok &= CheckClose("bias_gradient" + tag, fast.bias_gradient, parameter_start, gradients.biases, magnitudes.biases,
                     factor, 0.0, &message);
  }
  if (ok) return HonorsBufferSharing(layer, data);
  return ::testing::AssertionFailure() << layer.name() << " differs from the reference:\n" << message;
}

::testing::AssertionResult MatchesFiniteDifferences(const Layer& layer, const LayerTestData& data,
                                                    int64_t reduction_length) {
  const int64_t batch = data.batch;
  const reference::Parameters parameters = ReferenceParameters(data);
  const std::vector<Tensor> inputs = ReferenceInputs(data);
  const Tensor r = ToDouble(data.output_gradient);
  // f = sum_i r_i * output_i, evaluated with any one of inputs / weights / biases replaced.
  auto objective = [&](const std::vector<Tensor>& x, const reference::Parameters& p) {
    reference::Parameters masked = p;
    for (size_t i = 0; i < data.weight_mask.size(); ++i) {
      if (data.weight_mask[i] == 0.0f) masked.weights[i] = 0.0;
    }
    const Tensor y = reference::Forward(layer, Pointers(x), masked, batch);
    double f = 0.0;
    for (size_t i = 0; i < y.size(); ++i) f += r[i] * y[i];
    return f;
  };
  const Tensor magnitude = reference::Forward(layer, Pointers(inputs), parameters, batch, Terms::kAbsolute);
  double objective_magnitude = 0.0;
  for (size_t i = 0; i < magnitude.size(); ++i) objective_magnitude += std::fabs(r[i]) * magnitude[i];
  const double n = static_cast<double>(reduction_length + 4 + static_cast<int64_t>(magnitude.size()));
  const double difference_tolerance = n * kDoubleEpsilon * objective_magnitude / kFiniteDifferenceStep;

  reference::Gradients analytic = reference::Backward(layer, Pointers(inputs), parameters, r, batch);
  reference::Gradients magnitudes = reference::Backward(layer, Pointers(inputs), parameters, r, batch, Terms::kAbsolute);
  MaskWeightGradient(data, &analytic.weights);
  MaskWeightGradient(data, &magnitudes.weights);
  const FastResult fast = RunFast(layer, data, GradientMode::kOverwrite, kNaN, 0.0f);

  // Central differences for every coordinate of one tensor; `evaluate` computes f with that tensor replaced.
  auto differences = [&](const Tensor& point, const std::function<double(const Tensor&)>& evaluate) {
    Tensor result(point.size());
    for (size_t i = 0; i < point.size(); ++i) {
      result[i] = reference::CentralDifference(evaluate, point, static_cast<int64_t>(i), kFiniteDifferenceStep);
    }
    return result;
  };
  std::string message;
  bool ok = true;
  auto check = [&](const std::string& what, const Tensor& numeric, const Tensor& reference_gradient,
                   const Tensor& gradient_magnitude, const std::vector<float>& fast_gradient) {
    // Reference (double) analytic gradient vs finite differences.
    int failures = 0;
    for (size_t i = 0; i < numeric.size(); ++i) {
      const double error = std::fabs(reference_gradient[i] - numeric[i]);
      const double tolerance = difference_tolerance + n * kDoubleEpsilon * gradient_magnitude[i];
      if (!(error <= tolerance) && failures++ < 5) {
        absl::StrAppend(&message, "reference ", what, "[", i, "]: analytic ", reference_gradient[i],
                        ", finite difference ", numeric[i], " (error ", error, " > ", tolerance, ")\n");
      }
    }
    ok &= failures == 0;
    // Fast (float) gradient vs the same finite differences.
    ok &= CheckClose("fast " + what + " vs finite differences", fast_gradient, 0.0, numeric, gradient_magnitude,
                     n * kFloatEpsilon, difference_tolerance, &message);
  };
  for (size_t j = 0; j < inputs.size(); ++j) {
    const Tensor numeric = differences(inputs[j], [&](const Tensor& x) {
      std::vector<Tensor> changed = inputs;
      changed[j] = x;
      return objective(changed, parameters);
    });
    check(absl::StrCat("input_gradient", j), numeric, analytic.inputs[j], magnitudes.inputs[j],
          fast.input_gradients[j]);
  }
  if (!parameters.weights.empty()) {
    const Tensor numeric = differences(parameters.weights, [&](const Tensor& w) {
      reference::Parameters changed = parameters;
      changed.weights = w;
      return objective(inputs, changed);
    });
    check("weight_gradient", numeric, analytic.weights, magnitudes.weights, fast.weight_gradient);
  }
  if (!parameters.biases.empty()) {
    const Tensor numeric = differences(parameters.biases, [&](const Tensor& b) {
      reference::Parameters changed = parameters;
      changed.biases = b;
      return objective(inputs, changed);
    });
    check("bias_gradient", numeric, analytic.biases, magnitudes.biases, fast.bias_gradient);
  }
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << layer.name() << " disagrees with finite differences:\n" << message;
}

std::vector<float> RandomWeightMask(int64_t weights, double density, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(weights));
  for (int64_t i = 0; i < weights; ++i) order[i] = i;
  std::mt19937_64 engine(seed);
  std::shuffle(order.begin(), order.end(), engine);
  const int64_t kept = std::max<int64_t>(1, std::llround(density * static_cast<double>(weights)));
  std::vector<float> mask(static_cast<size_t>(weights), 0.0f);
  for (int64_t i = 0; i < std::min(kept, weights); ++i) mask[order[i]] = 1.0f;
  return mask;
}

void PruneWeights(std::vector<float> mask, LayerTestData* data) {
  PARSITY_CHECK(mask.size() == data->weights.size());
  data->weight_mask = std::move(mask);
  for (size_t i = 0; i < data->weights.size(); ++i) {
    if (data->weight_mask[i] == 0.0f) data->weights[i] = 0.0f;
  }
}

::testing::AssertionResult MatchesDenseExactly(const Layer& layer, const LayerTestData& data,
                                               bool sparse_weight_gradient) {
  PARSITY_CHECK(data.sparsity != nullptr && data.weight_mask.size() == data.weights.size());
  LayerTestData dense_data = data;
  dense_data.sparsity = nullptr;
  std::string message;
  int failures = 0;
  auto compare = [&](const std::string& what, const std::vector<float>& sparse, const std::vector<float>& dense,
                     const std::vector<float>* mask, float pruned_value) {
    for (size_t i = 0; i < sparse.size(); ++i) {
      const bool pruned = mask != nullptr && (*mask)[i] == 0.0f;
      const float want = pruned ? pruned_value : dense[i];
      if (!(sparse[i] == want) && failures++ < 5) {
        absl::StrAppend(&message, what, "[", i, "]: sparse ", sparse[i], ", want ", want, pruned ? " (pruned)" : "",
                        "\n");
      }
    }
  };
  for (const GradientMode mode : {GradientMode::kOverwrite, GradientMode::kAccumulate}) {
    const bool overwrite = mode == GradientMode::kOverwrite;
    const float input_start = overwrite ? kNaN : kInputGradientStart;
    const FastResult sparse = RunFast(layer, data, mode, input_start, kParameterGradientStart);
    const FastResult dense = RunFast(layer, dense_data, mode, input_start, kParameterGradientStart);
    const std::string tag = overwrite ? " (overwrite)" : " (accumulate)";
    compare("output" + tag, sparse.output, dense.output, nullptr, 0.0f);
    for (size_t j = 0; j < sparse.input_gradients.size(); ++j) {
      compare(absl::StrCat("input_gradient", j, tag), sparse.input_gradients[j], dense.input_gradients[j], nullptr,
              0.0f);
    }
    compare("weight_gradient" + tag, sparse.weight_gradient, dense.weight_gradient,
            sparse_weight_gradient ? &data.weight_mask : nullptr, kParameterGradientStart);
    compare("bias_gradient" + tag, sparse.bias_gradient, dense.bias_gradient, nullptr, 0.0f);
  }
  if (failures == 0) {
    ::testing::AssertionResult written = WritesParameterGradientsExactly(layer, data, sparse_weight_gradient);
    return written ? HonorsBufferSharing(layer, data) : written;
  }
  return ::testing::AssertionFailure() << layer.name() << ": sparse and dense kernels differ in " << failures
                                       << " values:\n"
                                       << message;
}

::testing::AssertionResult WritesParameterGradientsExactly(const Layer& layer, const LayerTestData& data,
                                                           bool sparse_weight_gradient) {
  const FastResult added = RunFast(layer, data, GradientMode::kOverwrite, kNaN, 0.0f, GradientMode::kAccumulate);
  const FastResult written = RunFast(layer, data, GradientMode::kOverwrite, kNaN, kNaN, GradientMode::kOverwrite);
  const bool untouched_pruned = data.sparsity != nullptr && sparse_weight_gradient;
  std::string message;
  int failures = 0;
  auto compare = [&](const std::string& what, const std::vector<float>& got, const std::vector<float>& want,
                     const std::vector<float>* mask) {
    for (size_t i = 0; i < got.size(); ++i) {
      const bool pruned = mask != nullptr && (*mask)[i] == 0.0f;
      // Bits, not ==: a written -0 where adding to +0 gives +0 is a difference.
      const bool ok = pruned ? std::isnan(got[i]) : std::memcmp(&got[i], &want[i], sizeof(float)) == 0;
      if (!ok && failures++ < 5) {
        absl::StrAppend(&message, what, "[", i, "]: written ", got[i], ", want ",
                        pruned ? std::string("untouched") : absl::StrCat(want[i], " (added to +0)"), "\n");
      }
    }
  };
  compare("weight_gradient", written.weight_gradient, added.weight_gradient,
          untouched_pruned ? &data.weight_mask : nullptr);
  compare("bias_gradient", written.bias_gradient, added.bias_gradient, nullptr);
  if (failures == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << layer.name() << ": overwritten parameter gradients differ in " << failures
                                       << " values:\n"
                                       << message;
}

::testing::AssertionResult HonorsBufferSharing(const Layer& layer, const LayerTestData& data) {
  const FastResult separate = RunFast(layer, data, GradientMode::kOverwrite, kNaN, kParameterGradientStart);
  std::string message;
  int failures = 0;
  auto compare = [&](const std::string& what, const std::vector<float>& got, const std::vector<float>& want) {
    for (size_t i = 0; i < got.size(); ++i) {
      if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0 && failures++ < 5) {
        absl::StrAppend(&message, what, "[", i, "]: ", got[i], ", separate buffers ", want[i], "\n");
      }
    }
  };
  auto compare_all = [&](const std::string& tag, const FastResult& shared) {
    for (size_t j = 0; j < shared.input_gradients.size(); ++j) {
      compare(absl::StrCat("input_gradient", j, tag), shared.input_gradients[j], separate.input_gradients[j]);
    }
    compare("weight_gradient" + tag, shared.weight_gradient, separate.weight_gradient);
    compare("bias_gradient" + tag, shared.bias_gradient, separate.bias_gradient);
  };
  if (!layer.BackwardReadsOutput()) {
    compare_all(" (NaN output)", RunFast(layer, data, GradientMode::kOverwrite, kNaN, kParameterGradientStart,
                                         GradientMode::kAccumulate, Sharing::kNaNOutput));
  }
  if (layer.OverwritesInputWithGradient()) {
    PARSITY_CHECK(data.inputs.size() == 1);
    compare_all(" (gradient over input)", RunFast(layer, data, GradientMode::kOverwrite, kNaN,
                                                  kParameterGradientStart, GradientMode::kAccumulate,
                                                  Sharing::kGradientOverInput));
  }
  if (failures == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << layer.name() << ": shared buffers change " << failures << " values:\n"
                                       << message;
}

}  // namespace parsity::nn::testing
