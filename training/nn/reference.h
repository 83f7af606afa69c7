// Plain reference implementations (naive loops, double precision) of every layer, the loss and whole networks,
// plus central finite differences: what the fast float code in training/nn is tested against. testonly.
//
//   reference::Tensor output = reference::Forward(conv, {&input}, parameters, batch);
//   reference::Gradients gradients = reference::Backward(conv, {&input}, parameters, output_gradient, batch);
//   double slope = reference::CentralDifference([&](const reference::Tensor& x) { return Objective(x); }, input, i, h);
//
// Every function here is written from the layer's documented math, independently of the fast code: it shares only
// the layers' public configuration (shapes and options), and recomputes SAME padding itself.
//
// Absolute mode (Terms::kAbsolute) replaces every product and sum term by its absolute value while keeping the
// signed data's decisions (max-pool routing, ReLU masks). Its result bounds the rounding error of any summation order
// of the same terms: |fast - exact| <= n * epsilon * absolute, n the number of terms summed.
#ifndef PARSITY_TRAINING_NN_REFERENCE_H_
#define PARSITY_TRAINING_NN_REFERENCE_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "training/nn/layer.h"
#include "training/nn/network.h"

namespace parsity::nn::reference {

// A batch of examples, or a parameter tensor, in double, in the same layout as the fast code.
using Tensor = std::vector<double>;

enum class Terms { kSigned, kAbsolute };

struct Parameters {
  Tensor weights;  // Empty for parameter-free layers.
  Tensor biases;
};

struct Gradients {
  std::vector<Tensor> inputs;  // d objective / d input, one per input.
  Tensor weights;              // d objective / d weights (empty without parameters).
  Tensor biases;
};

// The output of `layer` (a Conv2DLayer, MaxPoolLayer, AveragePoolLayer, GlobalAveragePoolLayer, ReluLayer,
// FullyConnectedLayer, ShortcutLayer or ResidualAddLayer; anything else aborts) on `batch` examples.
Tensor Forward(const Layer& layer, const std::vector<const Tensor*>& inputs, const Parameters& parameters,
               int64_t batch, Terms terms = Terms::kSigned);

// Gradients of the objective given d objective / d output. In absolute mode the inputs' signs still decide max-pool
// routing and ReLU masks.
Gradients Backward(const Layer& layer, const std::vector<const Tensor*>& inputs, const Parameters& parameters,
                   const Tensor& output_gradient, int64_t batch, Terms terms = Terms::kSigned);

// Sum over examples of log(sum_j exp(z_j)) - z_label, computed as the plain definition in long double; when
// `logits_gradient` is not null, writes softmax - one_hot.
double SoftmaxCrossEntropy(const Tensor& logits, const std::vector<int32_t>& labels, int num_classes,
                           Tensor* logits_gradient);

// The network's parameters of node `node` cut out of a whole double parameter vector.
Parameters NodeParameters(const Network& network, int node, const Tensor& parameters);

// Sum of per-example losses of `network` in double; when `gradient` is not null, sets it to the gradient with
// respect to all parameters (size parameter_count()).
double NetworkLoss(const Network& network, const Tensor& parameters, const Tensor& inputs,
                   const std::vector<int32_t>& labels, Tensor* gradient);

// (f(x + h e_i) - f(x - h e_i)) / (2 h).
double CentralDifference(const std::function<double(const Tensor&)>& f, Tensor x, int64_t i, double h);

}  // namespace parsity::nn::reference

#endif  // PARSITY_TRAINING_NN_REFERENCE_H_
