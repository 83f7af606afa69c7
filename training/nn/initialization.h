// Parameter initialization as in the paper's code (TensorFlow 1's variance_scaling_initializer defaults): weights
// from a truncated normal with standard deviation sqrt(1 / fan_in) AFTER truncation, biases zero.
//
//   std::mt19937_64 engine(trial_seed);
//   InitializeParameters(network->layout(), engine, parameters.Span());   // what Network::Initialize does
//
// Math: z ~ N(0, 1) conditioned on |z| <= 2 (rejection: redraw until inside), whose standard deviation is
// kTruncatedNormalStddev = 0.87962566103423978; weight = z * sqrt(1 / fan_in) / kTruncatedNormalStddev, so
// |weight| <= 2 sqrt(1 / fan_in) / kTruncatedNormalStddev and the weights' standard deviation is sqrt(1 / fan_in).
// Normals come from Box-Muller on the engine's raw 64-bit outputs (not std::normal_distribution, whose output
// differs between standard libraries), so a seed gives the same parameters with every compiler.
#ifndef PARSITY_TRAINING_NN_INITIALIZATION_H_
#define PARSITY_TRAINING_NN_INITIALIZATION_H_

#include <random>

#include "absl/types/span.h"
#include "training/nn/parameter_buffer.h"

namespace parsity::nn {

// Standard deviation of N(0, 1) truncated to [-2, 2].
inline constexpr double kTruncatedNormalStddev = 0.87962566103423978;

// A uniform double in (0, 1]: the top 53 bits of one engine output, plus one, times 2^-53.
double UniformOpenClosed(std::mt19937_64& engine);

// One N(0, 1) draw: Box-Muller's cosine branch on two uniforms (two engine outputs; the sine branch is unused so
// that no state is hidden between calls).
double StandardNormal(std::mt19937_64& engine);

// One N(0, 1) draw conditioned on [-2, 2], by rejection (accepts about 95.4% of draws).
double TruncatedStandardNormal(std::mt19937_64& engine);

// Fills `parameters` view by view in layout order: WEIGHTS element by element (row-major) with
// TruncatedStandardNormal * sqrt(1 / fan_in) / kTruncatedNormalStddev, BIASES with 0.
// REQUIRES: parameters.size() == layout.size().
void InitializeParameters(const ParameterLayout& layout, std::mt19937_64& engine, absl::Span<float> parameters);

}  // namespace parsity::nn

#endif  // PARSITY_TRAINING_NN_INITIALIZATION_H_
