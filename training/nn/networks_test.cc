#include "training/nn/networks.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/nn/activation.h"
#include "training/nn/convolution.h"
#include "training/nn/fully_connected.h"
#include "training/nn/parameter_buffer.h"
#include "training/nn/pooling.h"
#include "training/nn/reference.h"

namespace parsity::nn {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::HasSubstr;

int64_t CountOfKind(const Network& network, ParameterKind kind) {
  int64_t count = 0;
  for (const ParameterView& view : network.views()) count += view.kind == kind ? view.size : 0;
  return count;
}

TEST(CreateNetworkTest, RejectsUnknownNamesListingTheKnownOnes) {
  EXPECT_THAT(CreateNetwork("resnet50"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown network 'resnet50'; known networks: lenet_300_100, resnet8, simple_cnn")));
  EXPECT_EQ(KnownNetworkNames(), (std::vector<std::string>{"lenet_300_100", "resnet8", "simple_cnn"}));
}

TEST(CreateNetworkTest, SimpleCnnHasThePapersShapeAndParameterCount) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("simple_cnn"));
  EXPECT_EQ(network->input_shape(), (ImageShape{28, 28, 1}));
  EXPECT_EQ(network->num_classes(), 10);
  EXPECT_EQ(network->parameter_count(), 62346);
  EXPECT_EQ(CountOfKind(*network, ParameterKind::kWeights), 62240);
  EXPECT_EQ(CountOfKind(*network, ParameterKind::kBiases), 106);
  std::vector<std::string> names;
  for (const ParameterView& view : network->views()) names.push_back(view.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv1/weights", "conv1/biases", "conv2/weights", "conv2/biases",
                                             "fc/weights", "fc/biases"}));
  EXPECT_EQ(network->views()[0].shape, (std::vector<int64_t>{5, 5, 1, 32}));
  EXPECT_EQ(network->views()[0].fan_in, 25);
  EXPECT_EQ(network->views()[2].shape, (std::vector<int64_t>{5, 5, 32, 64}));
  EXPECT_EQ(network->views()[2].fan_in, 800);
  EXPECT_EQ(network->views()[4].shape, (std::vector<int64_t>{1024, 10}));
  EXPECT_EQ(network->views()[4].fan_in, 1024);
  EXPECT_EQ(network->ForwardFlopsPerExample(), 2 * (24 * 24 * 32 * 25 + 8 * 8 * 64 * 800 + 1024 * 10));
}

TEST(CreateNetworkTest, Resnet8HasThePapersParameterCount) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("resnet8"));
  EXPECT_EQ(network->input_shape(), (ImageShape{32, 32, 3}));
  EXPECT_EQ(network->parameter_count(), 75050);
  // 432 + 2 * 2304 + 4608 + 9216 + 18432 + 36864 conv weights + 640 fc weights; biases on every layer.
  EXPECT_EQ(CountOfKind(*network, ParameterKind::kWeights), 74800);
  EXPECT_EQ(CountOfKind(*network, ParameterKind::kBiases), 250);
  std::vector<std::string> names;
  for (const ParameterView& view : network->views()) {
    if (view.kind == ParameterKind::kWeights) names.push_back(view.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"conv1/weights", "block1/conv1/weights", "block1/conv2/weights",
                                             "block2/conv1/weights", "block2/conv2/weights", "block3/conv1/weights",
                                             "block3/conv2/weights", "fc/weights"}));
  ASSERT_OK_AND_ASSIGN(const ParameterView* block2, network->layout().Find("block2/conv1/weights"));
  EXPECT_EQ(block2->shape, (std::vector<int64_t>{3, 3, 16, 32}));
  EXPECT_EQ(block2->fan_in, 144);
  EXPECT_EQ(network->tensor_shape(static_cast<int>(network->nodes().size()) - 1), (ImageShape{1, 1, 64}));
}

TEST(CreateNetworkTest, Lenet300100HasThePapersParameterCount) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("lenet_300_100"));
  EXPECT_EQ(network->input_shape(), (ImageShape{28, 28, 1}));
  EXPECT_EQ(network->parameter_count(), 266610);
  EXPECT_EQ(CountOfKind(*network, ParameterKind::kBiases), 410);
  EXPECT_EQ(network->views()[0].shape, (std::vector<int64_t>{784, 300}));
}

// The simple CNN pools before its ReLUs (fewer elements to rectify); max-pooling and ReLU commute, so it must equal
// the literal conv -> ReLU -> pool network bit for bit, gradients included.
// Which layers' output gradients live in their values' memory (Network::GradientSharesValues), by name.
std::vector<std::string> SharedOutputs(const Network& network) {
  std::vector<std::string> names;
  for (size_t n = 0; n < network.nodes().size(); ++n) {
    if (network.GradientSharesValues(static_cast<int>(n) + 1)) names.push_back(network.nodes()[n].layer->name());
  }
  return names;
}

TEST(CreateNetworkTest, SharesTheGradientsOfOutputsThatFeedOnlyAPoolOrAReLU) {
  EXPECT_EQ(SharedOutputs(**CreateNetwork("simple_cnn")), (std::vector<std::string>{"conv1", "conv2"}));
  EXPECT_EQ(SharedOutputs(**CreateNetwork("lenet_300_100")), (std::vector<std::string>{"fc1", "fc2"}));
  // A block's second convolution and its shortcut feed the add; the first convolution feeds relu2 alone.
  EXPECT_EQ(SharedOutputs(**CreateNetwork("resnet8")),
            (std::vector<std::string>{"block1/conv1", "block2/conv1", "block3/conv1"}));
}

// Which layers may take their gradient through the max-pool above them (Network::FusedPool), by name.
std::vector<std::string> PoolFusedLayers(const Network& network) {
  std::vector<std::string> names;
  for (size_t n = 0; n < network.nodes().size(); ++n) {
    const int pool = network.FusedPool(static_cast<int>(n));
    if (pool >= 0) names.push_back(network.nodes()[n].layer->name() + "+" + network.nodes()[pool].layer->name());
  }
  return names;
}

TEST(CreateNetworkTest, FusesOnlyTheFirstConvolutionWithItsPool) {
  // conv2 also feeds a pool alone, but needs its input gradient.
  EXPECT_EQ(PoolFusedLayers(**CreateNetwork("simple_cnn")), (std::vector<std::string>{"conv1+pool1"}));
  EXPECT_TRUE(PoolFusedLayers(**CreateNetwork("lenet_300_100")).empty());
  EXPECT_TRUE(PoolFusedLayers(**CreateNetwork("resnet8")).empty());
}

// The literal order below has no fusion (conv1 feeds a ReLU), so this also holds Simple-CNN's fused conv1 + pool1
// (Layer::TakesPooledGradient) to the unfused bits.
TEST(CreateNetworkTest, SimpleCnnEqualsTheLiteralLayerOrder) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("simple_cnn"));
  NetworkBuilder builder("literal", ImageShape{28, 28, 1}, 10);
  Conv2DOptions conv;
  conv.kernel_size = 5;
  conv.out_channels = 32;
  int x = builder.Add(std::make_unique<Conv2DLayer>("conv1", builder.shape(0), conv), {0});
  x = builder.Add(std::make_unique<ReluLayer>("relu1", builder.shape(x)), {x});
  x = builder.Add(std::make_unique<MaxPoolLayer>("pool1", builder.shape(x), PoolOptions{2, 2}), {x});
  conv.out_channels = 64;
  x = builder.Add(std::make_unique<Conv2DLayer>("conv2", builder.shape(x), conv), {x});
  x = builder.Add(std::make_unique<ReluLayer>("relu2", builder.shape(x)), {x});
  x = builder.Add(std::make_unique<MaxPoolLayer>("pool2", builder.shape(x), PoolOptions{2, 2}), {x});
  builder.Add(std::make_unique<FullyConnectedLayer>("fc", builder.shape(x), 10), {x});
  const std::unique_ptr<Network> literal = std::move(builder).Build(network->chunk_examples());
  ASSERT_EQ(literal->parameter_count(), network->parameter_count());

  ParameterBuffer parameters(network->layout());
  std::mt19937_64 engine(3);
  network->Initialize(engine, parameters.Span());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> inputs(5 * 784);
  for (float& value : inputs) value = normal(engine);
  const std::vector<int32_t> labels = {1, 2, 3, 4, 5};
  std::vector<float> gradient(network->parameter_count(), 0.0f);
  std::vector<float> literal_gradient(network->parameter_count(), 0.0f);
  const std::unique_ptr<Workspace> workspace = network->CreateWorkspace(5);
  const std::unique_ptr<Workspace> literal_workspace = literal->CreateWorkspace(5);
  EXPECT_EQ(network->AccumulateGradient(parameters.Span(), inputs.data(), labels.data(), 5, workspace.get(),
                                        absl::MakeSpan(gradient)),
            literal->AccumulateGradient(parameters.Span(), inputs.data(), labels.data(), 5, literal_workspace.get(),
                                        absl::MakeSpan(literal_gradient)));
  EXPECT_EQ(gradient, literal_gradient);
}

// Whole-network gradient checks. The fast float gradient is compared with the double reference on every
// coordinate, per view: max |fast - reference| <= 2^8 eps_float * max |reference| (observed: < 21). The reference's own
// gradient is compared with central differences of the reference loss on a few random coordinates per view: step h =
// 2^-24 (small, so that no ReLU or max-pool kink lies within it), tolerance 2^6 eps_double * (1 + |loss|) / h ~ 2e-6
// (observed: < 4e-8) plus 2^-20 relative. Inputs, labels and parameters (biases too) are random.
struct GradientCheck {
  std::vector<float> fast;     // Network::AccumulateGradient.
  reference::Tensor analytic;  // reference::NetworkLoss's gradient.
  reference::Tensor parameters;
  reference::Tensor inputs;
  std::vector<int32_t> labels;
  double fast_loss = 0.0;
  double reference_loss = 0.0;
};

GradientCheck RunGradients(const Network& network, int64_t batch, uint64_t seed) {
  GradientCheck check;
  ParameterBuffer parameters(network.layout());
  std::mt19937_64 engine(seed);
  network.Initialize(engine, parameters.Span());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const ParameterView& view : network.views()) {
    if (view.kind != ParameterKind::kBiases) continue;
    for (float& value : Slice(parameters.Span(), view)) value = 0.1f * normal(engine);
  }
  std::vector<float> inputs(batch * network.input_shape().size());
  for (float& value : inputs) value = normal(engine);
  for (int64_t i = 0; i < batch; ++i) check.labels.push_back(static_cast<int32_t>(engine() % 10));
  check.fast.assign(network.parameter_count(), 0.0f);
  const std::unique_ptr<Workspace> workspace = network.CreateWorkspace(batch);
  check.fast_loss = network.AccumulateGradient(parameters.Span(), inputs.data(), check.labels.data(), batch,
                                               workspace.get(), absl::MakeSpan(check.fast));
  check.parameters.assign(parameters.Span().begin(), parameters.Span().end());
  check.inputs.assign(inputs.begin(), inputs.end());
  check.reference_loss = reference::NetworkLoss(network, check.parameters, check.inputs, check.labels, &check.analytic);
  return check;
}

::testing::AssertionResult FastMatchesReference(const Network& network, const std::vector<float>& fast,
                                                const reference::Tensor& analytic) {
  const double tolerance = 256 * std::numeric_limits<float>::epsilon();
  bool ok = true;
  std::string message;
  for (const ParameterView& view : network.views()) {
    double scale = 0.0, error = 0.0;
    for (int64_t i = view.offset; i < view.offset + view.size; ++i) {
      scale = std::max(scale, std::fabs(analytic[i]));
      error = std::max(error, std::fabs(fast[i] - analytic[i]));
    }
    if (!(error <= tolerance * scale)) {
      ok = false;
      message += view.name + ": max error " + std::to_string(error / scale / std::numeric_limits<float>::epsilon()) +
                 " eps_float * max |reference| > " + std::to_string(tolerance / std::numeric_limits<float>::epsilon()) +
                 "\n";
    }
  }
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << message;
}

class NetworkGradientTest : public ::testing::TestWithParam<const char*> {};

TEST_P(NetworkGradientTest, MatchesReferenceAndFiniteDifferences) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork(GetParam()));
  // Three examples (more than one chunk for no network; chunking is tested in network_test).
  const GradientCheck check = RunGradients(*network, 3, 17);
  EXPECT_NEAR(check.fast_loss, check.reference_loss,
              1024 * std::numeric_limits<float>::epsilon() * std::fabs(check.reference_loss));
  EXPECT_TRUE(FastMatchesReference(*network, check.fast, check.analytic));

  const double step = std::ldexp(1.0, -24);
  const double tolerance = 64 * std::numeric_limits<double>::epsilon() * (1.0 + std::fabs(check.reference_loss)) / step;
  auto loss = [&](const reference::Tensor& parameters) {
    return reference::NetworkLoss(*network, parameters, check.inputs, check.labels, nullptr);
  };
  std::mt19937_64 engine(5);
  for (const ParameterView& view : network->views()) {
    for (int sample = 0; sample < 2; ++sample) {
      const int64_t i = view.offset + static_cast<int64_t>(engine() % static_cast<uint64_t>(view.size));
      const double numeric = reference::CentralDifference(loss, check.parameters, i, step);
      EXPECT_NEAR(check.analytic[i], numeric, tolerance + std::ldexp(std::fabs(numeric), -20))
          << view.name << "[" << i - view.offset << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Networks, NetworkGradientTest, ::testing::Values("simple_cnn", "resnet8", "lenet_300_100"));

// The check above must be able to fail: a gradient off in a single coordinate of one view is caught.
TEST(NetworkGradientCheckTest, DetectsACorruptedGradient) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("lenet_300_100"));
  const GradientCheck check = RunGradients(*network, 2, 19);
  ASSERT_TRUE(FastMatchesReference(*network, check.fast, check.analytic));
  std::vector<float> corrupted = check.fast;
  const ParameterView& view = network->views()[2];
  corrupted[view.offset + 7] += 0.01f * static_cast<float>(std::fabs(check.analytic[view.offset + 7]) + 0.01);
  EXPECT_FALSE(FastMatchesReference(*network, corrupted, check.analytic));
}

}  // namespace
}  // namespace parsity::nn
