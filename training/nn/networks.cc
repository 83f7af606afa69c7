#include "training/nn/networks.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "training/nn/activation.h"
#include "training/nn/convolution.h"
#include "training/nn/fully_connected.h"
#include "training/nn/pooling.h"
#include "training/nn/residual.h"

namespace parsity::nn {
namespace {

constexpr int kNumClasses = 10;

// Examples per forward/backward pass (Network::chunk_examples): small enough for a chunk's activations to stay in
// the 2 MiB level-2 cache. Measured with network_benchmark at batch 512: resnet8 ran 107-111 GFLOP/s with chunks of
// 2 to 8 and 87-100 with 16 or 32; simple_cnn and lenet_300_100 were flat within noise from 4 to 32 and 64 to 512.
constexpr int64_t kSimpleCnnChunk = 16;
constexpr int64_t kResnet8Chunk = 8;
constexpr int64_t kLenetChunk = 256;

// Adds layers to a builder with less ceremony.
class Stack {
 public:
  Stack(std::string name, ImageShape input_shape) : builder_(std::move(name), input_shape, kNumClasses) {}

  int Conv(const std::string& name, int input, int64_t kernel, int64_t out_channels, int64_t stride, Padding padding) {
    Conv2DOptions options;
    options.kernel_size = kernel;
    options.out_channels = out_channels;
    options.stride = stride;
    options.padding = padding;
    return builder_.Add(std::make_unique<Conv2DLayer>(name, builder_.shape(input), options), {input});
  }
  int Relu(const std::string& name, int input) {
    return builder_.Add(std::make_unique<ReluLayer>(name, builder_.shape(input)), {input});
  }
  int MaxPool(const std::string& name, int input) {
    return builder_.Add(std::make_unique<MaxPoolLayer>(name, builder_.shape(input), PoolOptions{2, 2}), {input});
  }
  int FullyConnected(const std::string& name, int input, int64_t out_features) {
    return builder_.Add(std::make_unique<FullyConnectedLayer>(name, builder_.shape(input), out_features), {input});
  }
  int GlobalAveragePool(const std::string& name, int input) {
    return builder_.Add(std::make_unique<GlobalAveragePoolLayer>(name, builder_.shape(input)), {input});
  }
  int Shortcut(const std::string& name, int input, int64_t out_channels) {
    return builder_.Add(std::make_unique<ShortcutLayer>(name, builder_.shape(input), out_channels), {input});
  }
  int Add(const std::string& name, int a, int b) {
    return builder_.Add(std::make_unique<ResidualAddLayer>(name, builder_.shape(a)), {a, b});
  }
  const ImageShape& shape(int tensor) const { return builder_.shape(tensor); }
  std::unique_ptr<Network> Build(int64_t chunk_examples) { return std::move(builder_).Build(chunk_examples); }

 private:
  NetworkBuilder builder_;
};

// ReLU and max-pooling commute (max(relu(a), relu(b)) = relu(max(a, b)), and both route the gradient to the same
// element), so the ReLUs run after the pools, on a quarter of the values.
std::unique_ptr<Network> SimpleCnn() {
  Stack net("simple_cnn", ImageShape{28, 28, 1});
  int x = net.Conv("conv1", NetworkBuilder::kInput, 5, 32, 1, Padding::kValid);
  x = net.Relu("relu1", net.MaxPool("pool1", x));
  x = net.Conv("conv2", x, 5, 64, 1, Padding::kValid);
  x = net.Relu("relu2", net.MaxPool("pool2", x));
  net.FullyConnected("fc", x, kNumClasses);
  return net.Build(kSimpleCnnChunk);
}

// One pre-activation residual block; see networks.h.
int ResidualBlock(Stack& net, const std::string& name, int x, int64_t out_channels, int64_t stride) {
  const int activated = net.Relu(name + "/relu1", x);
  int y = net.Conv(name + "/conv1", activated, 3, out_channels, stride, Padding::kSame);
  y = net.Relu(name + "/relu2", y);
  y = net.Conv(name + "/conv2", y, 3, out_channels, 1, Padding::kSame);
  const bool same_shape = stride == 1 && net.shape(x).channels == out_channels;
  const int shortcut = same_shape ? x : net.Shortcut(name + "/shortcut", activated, out_channels);
  return net.Add(name + "/add", y, shortcut);
}

std::unique_ptr<Network> Resnet8() {
  Stack net("resnet8", ImageShape{32, 32, 3});
  int x = net.Conv("conv1", NetworkBuilder::kInput, 3, 16, 1, Padding::kSame);
  x = ResidualBlock(net, "block1", x, 16, 1);
  x = ResidualBlock(net, "block2", x, 32, 2);
  x = ResidualBlock(net, "block3", x, 64, 2);
  x = net.GlobalAveragePool("global_pool", net.Relu("relu", x));
  net.FullyConnected("fc", x, kNumClasses);
  return net.Build(kResnet8Chunk);
}

std::unique_ptr<Network> Lenet300100() {
  Stack net("lenet_300_100", ImageShape{28, 28, 1});
  int x = net.Relu("relu1", net.FullyConnected("fc1", NetworkBuilder::kInput, 300));
  x = net.Relu("relu2", net.FullyConnected("fc2", x, 100));
  net.FullyConnected("fc3", x, kNumClasses);
  return net.Build(kLenetChunk);
}

}  // namespace

std::vector<std::string> KnownNetworkNames() { return {"lenet_300_100", "resnet8", "simple_cnn"}; }

absl::StatusOr<std::unique_ptr<Network>> CreateNetwork(absl::string_view name) {
  if (name == "simple_cnn") return SimpleCnn();
  if (name == "resnet8") return Resnet8();
  if (name == "lenet_300_100") return Lenet300100();
  return absl::InvalidArgumentError(
      absl::StrCat("unknown network '", name, "'; known networks: ", absl::StrJoin(KnownNetworkNames(), ", ")));
}

}  // namespace parsity::nn
