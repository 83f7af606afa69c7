// The checks every layer's test runs (testonly): the fast float layer against the double reference
// (training/nn/reference.h), and both against central finite differences. Each returns an AssertionResult so that
// a test can also show that a wrong layer fails them.
//
//   LayerTestData data = MakeLayerTestData(conv, /*batch=*/2, InputValues::kGaussian, /*seed=*/1);
//   EXPECT_TRUE(MatchesReference(conv, data, /*reduction_length=*/5 * 5 * 3));
//   EXPECT_TRUE(MatchesFiniteDifferences(conv, data, 5 * 5 * 3));
//
// Tolerances, with eps = machine epsilon of the type computing and n = reduction_length + 4 (the longest sum of
// products any output or gradient element is, plus bias, scaling and accumulation roundings):
// - fast vs reference: |fast - reference| <= n * eps_float * A, where A is the same quantity computed with every term
//   replaced by its absolute value (reference::Terms::kAbsolute). This is the classical bound for a sum of n terms
//   in any order, so it holds for any blocking Eigen chooses, yet a wrong index or a missing term exceeds it.
// - finite differences: the objective is f = sum_i r_i * output_i for a fixed random r (so d f / d output = r).
//   Every layer is linear in each single coordinate near the test points (inputs stay further than the step from
//   ReLU and max-pool kinks), so a central difference with step h is exact up to the rounding of f, at most
//   (n + outputs) * eps_double * F where F = sum_i |r_i| * A_i; divided by h: the tolerance used.
#ifndef PARSITY_TRAINING_NN_LAYER_TESTING_H_
#define PARSITY_TRAINING_NN_LAYER_TESTING_H_

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "training/nn/layer.h"

namespace parsity::nn::testing {

// The implementations this build can run (kEigen, plus kDirect where available), for tests to loop over.
std::vector<Implementation> Implementations();
const char* ImplementationName(Implementation implementation);

// How input values are drawn.
enum class InputValues {
  kGaussian,      // N(0, 1).
  kAwayFromZero,  // N(0, 1) pushed out of (-1/8, 1/8): ReLU stays linear within the finite-difference step.
  kDistinct,      // Per example, a random permutation of distinct multiples of 1/16: max-pool windows have a unique
                  // maximum that stays so within the step.
};

// Inputs, parameters and an output gradient for one layer, all as floats.
struct LayerTestData {
  int64_t batch = 0;
  std::vector<std::vector<float>> inputs;  // One per layer input.
  std::vector<float> weights;              // N(0, 1/fan_in) when the layer has parameters.
  std::vector<float> biases;               // N(0, 1/4).
  std::vector<float> output_gradient;      // N(0, 1): the r of the objective.
  // A pruning mask over the weights (0 or 1 each; empty: dense), applied to `weights` by PruneWeights. With a mask
  // the layer computes f(mask * weights): the expected weight gradient is 0 at pruned entries, where a layer running
  // sparse kernels must leave the gradient untouched.
  std::vector<float> weight_mask;
  // The layer's sparse structures for weight_mask, passed to the layer when set (not owned).
  const LayerSparsity* sparsity = nullptr;
};

LayerTestData MakeLayerTestData(const Layer& layer, int64_t batch, InputValues values, uint64_t seed);

// A random mask keeping round(density * weights) weights (at least 1), chosen uniformly with `seed`.
std::vector<float> RandomWeightMask(int64_t weights, double density, uint64_t seed);

// Sets data->weight_mask = mask and zeroes the pruned weights (as the optimizers keep them).
void PruneWeights(std::vector<float> mask, LayerTestData* data);

// Runs the layer with data.sparsity and without it (the dense kernels on the same pruned weights), input gradients
// overwritten and accumulated, and requires equal values everywhere: outputs, input gradients, and the weight
// gradient at kept entries (at pruned ones a sparse weight-gradient kernel must leave the start value; pass false
// when the weight gradient runs dense, which computes them). Equal means == (so +0 == -0). Then runs
// WritesParameterGradientsExactly and HonorsBufferSharing.
::testing::AssertionResult MatchesDenseExactly(const Layer& layer, const LayerTestData& data,
                                               bool sparse_weight_gradient = true);

// Runs Backward with the parameter gradients overwritten (GradientMode::kOverwrite on buffers prefilled with NaN)
// and added to +0, and requires the same bits everywhere; with data.sparsity and a sparse weight gradient, pruned
// weight-gradient entries must instead still hold the NaN (left untouched). MatchesDenseExactly runs it too.
::testing::AssertionResult WritesParameterGradientsExactly(const Layer& layer, const LayerTestData& data,
                                                           bool sparse_weight_gradient = true);

// Checks the layer's buffer-sharing promises (Layer::BackwardReadsOutput, Layer::OverwritesInputWithGradient) by
// running Backward as a Network sharing buffers would, input gradients overwritten, against separate buffers: with
// a NaN-filled output when Backward claims not to read it, and with the input gradient written into a copy of the
// input that Backward also reads as the input, when the layer claims that is safe. Requires the same bits in every
// gradient (input, weights, biases). Layers that promise neither pass trivially.
::testing::AssertionResult HonorsBufferSharing(const Layer& layer, const LayerTestData& data);

// Runs Forward and Backward (input gradients both overwritten and accumulated, parameter gradients accumulated onto
// nonzero values; outputs and scratch prefilled with NaN to catch unwritten or uninitialized reads) and compares
// every element with the reference within the tolerance above. Then runs HonorsBufferSharing.
::testing::AssertionResult MatchesReference(const Layer& layer, const LayerTestData& data, int64_t reduction_length);

// Compares the reference's and the fast layer's gradients of f with central differences of the reference forward
// pass in double, for every input and parameter coordinate (step 1/64).
::testing::AssertionResult MatchesFiniteDifferences(const Layer& layer, const LayerTestData& data,
                                                    int64_t reduction_length);

}  // namespace parsity::nn::testing

#endif  // PARSITY_TRAINING_NN_LAYER_TESTING_H_
