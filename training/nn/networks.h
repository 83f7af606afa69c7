// The networks of the study, built by name (experiments/PROTOCOL.md, "Networks").
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Network> network, CreateNetwork("resnet8"));
//   ParameterBuffer parameters(network->layout());
//   network->Initialize(engine, parameters.Span());
//
// - "simple_cnn" (28x28x1): conv1 5x5 1->32 VALID, ReLU, max-pool 2x2/2; conv2 5x5 32->64 VALID, ReLU, max-pool
//   2x2/2; fc 1024->10. 62,346 parameters (62,240 weights, 106 biases). Built as conv, max-pool, ReLU: ReLU and
//   max-pooling commute, values and gradients alike, and the ReLU then touches a quarter of the values.
// - "resnet8" (32x32x3, no batch norm): conv1 3x3 3->16 SAME; blocks 1..3 with 16, 32, 64 channels and strides 1, 2,
//   2, each pre-activation: r = ReLU(x); y = conv2(ReLU(conv1(r))) + shortcut, where conv1 carries the stride, the
//   shortcut is x itself when the shape is kept and, when it changes, 2x2 average pooling with stride 2 of r followed
//   by zero channels (as in the paper authors' code, namhoonlee/effect-dps-public edps/network.py, which pools the
//   activated input); then ReLU, global average pooling, fc 64->10. Every convolution has a bias, as in that code,
//   which is what makes the count 75,050: 74,800 conv and fc weights + 240 conv biases (16 + 2*16 + 2*32 + 2*64) +
//   10 fc biases.
// - "lenet_300_100" (28x28x1 flattened): fc1 784->300, ReLU, fc2 300->100, ReLU, fc3 100->10. 266,610 parameters.
// All output 10 logits; parameter views are named "<layer>/weights" and "<layer>/biases", e.g. "conv1/weights",
// "block2/conv1/biases", "fc/weights", "fc3/biases".
#ifndef PARSITY_TRAINING_NN_NETWORKS_H_
#define PARSITY_TRAINING_NN_NETWORKS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "training/nn/network.h"

namespace parsity::nn {

// The names CreateNetwork accepts, sorted.
std::vector<std::string> KnownNetworkNames();

// Builds the network called `name`. Errors: InvalidArgument naming `name` and listing the known names.
absl::StatusOr<std::unique_ptr<Network>> CreateNetwork(absl::string_view name);

}  // namespace parsity::nn

#endif  // PARSITY_TRAINING_NN_NETWORKS_H_
