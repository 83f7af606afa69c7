#include "training/nn/network.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "training/nn/activation.h"
#include "training/nn/convolution.h"
#include "training/nn/fully_connected.h"
#include "training/nn/parameter_buffer.h"
#include "training/nn/pooling.h"
#include "training/nn/reference.h"
#include "training/nn/residual.h"

namespace parsity::nn {
namespace {

Conv2DOptions Conv(int64_t kernel, int64_t channels, int64_t stride) {
  Conv2DOptions options;
  options.kernel_size = kernel;
  options.out_channels = channels;
  options.stride = stride;
  options.padding = Padding::kSame;
  return options;
}

// Every layer type, a tensor read by two layers (c1: ReLU and add; r2: conv and shortcut), chunks of 3 examples.
std::unique_ptr<Network> SmallGraph(int64_t chunk_examples) {
  NetworkBuilder builder("small_graph", ImageShape{6, 6, 2}, 10);
  const int c1 = builder.Add(std::make_unique<Conv2DLayer>("c1", builder.shape(0), Conv(3, 4, 1)), {0});
  const int r1 = builder.Add(std::make_unique<ReluLayer>("r1", builder.shape(c1)), {c1});
  const int c2 = builder.Add(std::make_unique<Conv2DLayer>("c2", builder.shape(r1), Conv(3, 4, 1)), {r1});
  const int a1 = builder.Add(std::make_unique<ResidualAddLayer>("a1", builder.shape(c2)), {c2, c1});
  const int r2 = builder.Add(std::make_unique<ReluLayer>("r2", builder.shape(a1)), {a1});
  const int c3 = builder.Add(std::make_unique<Conv2DLayer>("c3", builder.shape(r2), Conv(3, 8, 2)), {r2});
  const int s = builder.Add(std::make_unique<ShortcutLayer>("s", builder.shape(r2), 8), {r2});
  const int a2 = builder.Add(std::make_unique<ResidualAddLayer>("a2", builder.shape(c3)), {c3, s});
  const int m = builder.Add(std::make_unique<MaxPoolLayer>("m", builder.shape(a2), PoolOptions{2, 1}), {a2});
  const int p = builder.Add(std::make_unique<AveragePoolLayer>("p", builder.shape(m), PoolOptions{1, 1}), {m});
  const int g = builder.Add(std::make_unique<GlobalAveragePoolLayer>("g", builder.shape(p)), {p});
  builder.Add(std::make_unique<FullyConnectedLayer>("fc", builder.shape(g), 10), {g});
  return std::move(builder).Build(chunk_examples);
}

// A convolution into a tiling max-pool (7 x 7: its last row and column are outside every window) and a fully connected
// layer into a ReLU: the two patterns whose output gradient may share the output's memory. Chunks of 3 examples.
// Wrapped in NoSharing, the same layers, with the promises withheld so that nothing shares.
std::unique_ptr<Network> SharingGraph(bool no_sharing = false);

// Forwards everything to `inner` but keeps Layer's conservative sharing defaults.
class NoSharing : public Layer {
 public:
  explicit NoSharing(std::unique_ptr<Layer> inner)
      : Layer(inner->name(), inner->input_shapes(), inner->output_shape()), inner_(std::move(inner)) {}
  std::vector<ParameterSpec> parameter_specs() const override { return inner_->parameter_specs(); }
  int64_t ScratchFloats(int64_t batch) const override { return inner_->ScratchFloats(batch); }
  void Forward(const ForwardArguments& arguments) const override { inner_->Forward(arguments); }
  void Backward(const BackwardArguments& arguments) const override { inner_->Backward(arguments); }

 private:
  std::unique_ptr<Layer> inner_;
};

std::unique_ptr<Network> SharingGraph(bool no_sharing) {
  NetworkBuilder builder(no_sharing ? "sharing_graph_withheld" : "sharing_graph", ImageShape{7, 7, 2}, 10);
  auto add = [&](std::unique_ptr<Layer> layer, int input) {
    if (no_sharing) layer = std::make_unique<NoSharing>(std::move(layer));
    return builder.Add(std::move(layer), {input});
  };
  const int c = add(std::make_unique<Conv2DLayer>("c", builder.shape(0), Conv(3, 5, 1)), 0);
  const int m = add(std::make_unique<MaxPoolLayer>("m", builder.shape(c), PoolOptions{2, 2}), c);
  const int r1 = add(std::make_unique<ReluLayer>("r1", builder.shape(m)), m);
  const int f1 = add(std::make_unique<FullyConnectedLayer>("f1", builder.shape(r1), 12), r1);
  const int r2 = add(std::make_unique<ReluLayer>("r2", builder.shape(f1)), f1);
  add(std::make_unique<FullyConnectedLayer>("f2", builder.shape(r2), 10), r2);
  return std::move(builder).Build(3);
}

struct Data {
  std::vector<float> inputs;
  std::vector<int32_t> labels;
};

Data RandomData(const Network& network, int64_t batch, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Data data;
  data.inputs.resize(batch * network.input_shape().size());
  for (float& value : data.inputs) value = normal(engine);
  for (int64_t i = 0; i < batch; ++i) data.labels.push_back(static_cast<int32_t>(engine() % 10));
  return data;
}

// Initialized parameters with random (nonzero) biases, so that bias gradients matter everywhere.
ParameterBuffer RandomParameters(const Network& network, uint64_t seed) {
  ParameterBuffer parameters(network.layout());
  std::mt19937_64 engine(seed);
  network.Initialize(engine, parameters.Span());
  std::normal_distribution<float> normal(0.0f, 0.1f);
  for (const ParameterView& view : network.views()) {
    if (view.kind != ParameterKind::kBiases) continue;
    for (float& value : Slice(parameters.Span(), view)) value = normal(engine);
  }
  return parameters;
}

TEST(NetworkBuilderTest, NamesViewsAndTensors) {
  const std::unique_ptr<Network> network = SmallGraph(3);
  EXPECT_EQ(network->name(), "small_graph");
  EXPECT_EQ(network->num_classes(), 10);
  EXPECT_EQ(network->input_shape(), (ImageShape{6, 6, 2}));
  std::vector<std::string> names;
  for (const ParameterView& view : network->views()) names.push_back(view.name);
  EXPECT_EQ(names, (std::vector<std::string>{"c1/weights", "c1/biases", "c2/weights", "c2/biases", "c3/weights",
                                             "c3/biases", "fc/weights", "fc/biases"}));
  EXPECT_EQ(network->parameter_count(), (72 + 4) + (144 + 4) + (288 + 8) + (80 + 10));
  EXPECT_EQ(network->tensor_shape(static_cast<int>(network->nodes().size())), (ImageShape{1, 1, 10}));
  EXPECT_EQ(network->chunk_examples(), 3);
  // Forward multiply-adds: convolutions and the fully connected layer.
  EXPECT_EQ(network->ForwardFlopsPerExample(), 2 * (36 * 4 * 18 + 36 * 4 * 36 + 9 * 8 * 36 + 80));
  // Training: three passes, except the input gradient of c1.
  EXPECT_EQ(network->TrainingFlopsPerExample(), 2 * (2 * 36 * 4 * 18 + 3 * (36 * 4 * 36 + 9 * 8 * 36 + 80)));
}

// Float gradient of the fast network vs the double reference, per view: max |fast - reference| over the view
// <= 2^8 * eps_float * max |reference| over the view (float rounding through a few layers; a wrong gradient is off
// by O(1) relative to the view's scale).
void ExpectGradientNearReference(const Network& network, const std::vector<float>& gradient,
                                 const reference::Tensor& expected) {
  const double tolerance = 256 * std::numeric_limits<float>::epsilon();
  for (const ParameterView& view : network.views()) {
    double scale = 0.0, error = 0.0;
    for (int64_t i = view.offset; i < view.offset + view.size; ++i) {
      scale = std::max(scale, std::fabs(expected[i]));
      error = std::max(error, std::fabs(gradient[i] - expected[i]));
    }
    EXPECT_LE(error, tolerance * scale) << view.name << " (scale " << scale << ")";
  }
}

TEST(NetworkTest, GradientAndLossMatchTheReferenceAcrossChunks) {
  const std::unique_ptr<Network> network = SmallGraph(3);
  const ParameterBuffer parameters = RandomParameters(*network, 1);
  // 7 examples: chunks of 3, 3 and 1.
  const Data data = RandomData(*network, 7, 2);
  const std::unique_ptr<Workspace> workspace = network->CreateWorkspace(7);
  std::vector<float> gradient(network->parameter_count(), 0.0f);
  const double loss = network->AccumulateGradient(parameters.Span(), data.inputs.data(), data.labels.data(), 7,
                                                  workspace.get(), absl::MakeSpan(gradient));
  reference::Tensor expected;
  const double expected_loss =
      reference::NetworkLoss(*network, reference::Tensor(parameters.Span().begin(), parameters.Span().end()),
                             reference::Tensor(data.inputs.begin(), data.inputs.end()), data.labels, &expected);
  EXPECT_NEAR(loss, expected_loss, 1024 * std::numeric_limits<float>::epsilon() * std::fabs(expected_loss));
  ExpectGradientNearReference(*network, gradient, expected);
}

TEST(NetworkTest, AccumulatesWithoutZeroingOrAveraging) {
  const std::unique_ptr<Network> network = SmallGraph(3);
  const ParameterBuffer parameters = RandomParameters(*network, 3);
  const Data data = RandomData(*network, 4, 4);
  const std::unique_ptr<Workspace> workspace = network->CreateWorkspace(4);
  std::vector<float> once(network->parameter_count(), 0.0f);
  const double loss = network->AccumulateGradient(parameters.Span(), data.inputs.data(), data.labels.data(), 4,
                                                  workspace.get(), absl::MakeSpan(once));
  std::vector<float> twice = once;
  const double again = network->AccumulateGradient(parameters.Span(), data.inputs.data(), data.labels.data(), 4,
                                                   workspace.get(), absl::MakeSpan(twice));
  EXPECT_EQ(loss, again);
  // Adding onto a nonzero buffer rounds differently from starting at zero: equal up to float rounding, relative to
  // the largest gradient entry.
  const double scale = std::fabs(
      *std::max_element(once.begin(), once.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); }));
  for (size_t i = 0; i < once.size(); ++i) {
    EXPECT_NEAR(twice[i], 2 * once[i], 64 * std::numeric_limits<float>::epsilon() * scale) << i;
  }
  // The sum over examples: one example at a time adds up to the batch (up to rounding).
  std::vector<float> one_by_one(network->parameter_count(), 0.0f);
  double loss_sum = 0.0;
  for (int64_t i = 0; i < 4; ++i) {
    loss_sum += network->AccumulateGradient(parameters.Span(), data.inputs.data() + i * 72, data.labels.data() + i, 1,
                                            workspace.get(), absl::MakeSpan(one_by_one));
  }
  EXPECT_NEAR(loss_sum, loss, 1e-5 * loss);
  for (size_t i = 0; i < once.size(); ++i) {
    EXPECT_NEAR(one_by_one[i], once[i], 64 * std::numeric_limits<float>::epsilon() * scale) << i;
  }
}

// WriteGradient is AccumulateGradient onto zeros without the zeros: the same bits from a buffer of NaN, over several
// chunks (7 examples in chunks of 3, 3 and 1), so the first chunk writes every parameter's entry.
TEST(NetworkTest, WriteGradientGivesTheBitsOfAddingToZeros) {
  const std::unique_ptr<Network> network = SmallGraph(3);
  const ParameterBuffer parameters = RandomParameters(*network, 5);
  const Data data = RandomData(*network, 7, 6);
  const std::unique_ptr<Workspace> workspace = network->CreateWorkspace(7);
  std::vector<float> added(network->parameter_count(), 0.0f);
  const double loss = network->AccumulateGradient(parameters.Span(), data.inputs.data(), data.labels.data(), 7,
                                                  workspace.get(), absl::MakeSpan(added));
  std::vector<float> written(network->parameter_count(), std::nanf(""));
  EXPECT_EQ(network->WriteGradient(parameters.Span(), data.inputs.data(), data.labels.data(), 7, workspace.get(),
                                   absl::MakeSpan(written)),
            loss);
  for (size_t i = 0; i < added.size(); ++i) {
    ASSERT_EQ(std::memcmp(&written[i], &added[i], sizeof(float)), 0) << "entry " << i << ": " << written[i];
  }
}

TEST(NetworkTest, EvaluateAgreesWithTheTrainingPass) {
  const std::unique_ptr<Network> network = SmallGraph(3);
  const ParameterBuffer parameters = RandomParameters(*network, 5);
  const Data data = RandomData(*network, 8, 6);
  const std::unique_ptr<Workspace> workspace = network->CreateWorkspace(8);
  std::vector<float> gradient(network->parameter_count(), 0.0f);
  const double training_loss = network->AccumulateGradient(parameters.Span(), data.inputs.data(), data.labels.data(), 8,
                                                           workspace.get(), absl::MakeSpan(gradient));
  int64_t correct = -1;
  const double loss =
      network->Evaluate(parameters.Span(), data.inputs.data(), data.labels.data(), 8, workspace.get(), &correct);
  EXPECT_EQ(loss, training_loss);
  // The reference's arg-max count.
  int64_t expected_correct = 0;
  for (int64_t i = 0; i < 8; ++i) {
    reference::Tensor probe;
    const reference::Tensor inputs(data.inputs.begin() + i * 72, data.inputs.begin() + (i + 1) * 72);
    const reference::Tensor all(parameters.Span().begin(), parameters.Span().end());
    double best_loss = std::numeric_limits<double>::infinity();
    int32_t best = 0;
    for (int32_t label = 0; label < 10; ++label) {
      const double candidate = reference::NetworkLoss(*network, all, inputs, {label}, nullptr);
      if (candidate < best_loss) best_loss = candidate, best = label;
    }
    expected_correct += best == data.labels[i] ? 1 : 0;
  }
  EXPECT_EQ(correct, expected_correct);
}

TEST(NetworkBuilderTest, SharesAGradientWithItsValuesOnlyWhereTheLayersPromiseIt) {
  const std::unique_ptr<Network> sharing = SharingGraph();
  // Tensors: 0 input, 1 conv (-> tiling max-pool), 2 max-pool (read by its own backward), 3 ReLU (-> fully
  // connected, which does not overwrite its input), 4 fully connected (-> ReLU), 5 ReLU, 6 logits.
  const std::vector<bool> expected = {false, true, false, false, true, false, false};
  for (int tensor = 0; tensor < static_cast<int>(expected.size()); ++tensor) {
    EXPECT_EQ(sharing->GradientSharesValues(tensor), expected[tensor]) << "tensor " << tensor;
  }
  // Two users (c1, r2), a convolution as user, an add as producer, overlapping windows: nothing shares.
  const std::unique_ptr<Network> small = SmallGraph(3);
  for (int tensor = 0; tensor <= static_cast<int>(small->nodes().size()); ++tensor) {
    EXPECT_FALSE(small->GradientSharesValues(tensor)) << "tensor " << tensor;
  }
  const std::unique_ptr<Network> withheld = SharingGraph(/*no_sharing=*/true);
  for (int tensor = 0; tensor <= static_cast<int>(withheld->nodes().size()); ++tensor) {
    EXPECT_FALSE(withheld->GradientSharesValues(tensor)) << "tensor " << tensor;
  }
}

// Shared buffers change where values live, not what is computed: the reference's gradient, and the same bits (loss,
// gradient, evaluation) as the same layers on separate buffers, over chunks of 3, 3 and 1.
TEST(NetworkTest, SharedBuffersGiveTheBitsOfSeparateOnes) {
  const std::unique_ptr<Network> sharing = SharingGraph();
  const std::unique_ptr<Network> withheld = SharingGraph(/*no_sharing=*/true);
  const ParameterBuffer parameters = RandomParameters(*sharing, 11);
  const Data data = RandomData(*sharing, 7, 12);
  std::vector<float> shared_gradient(sharing->parameter_count(), std::nanf(""));
  std::vector<float> separate_gradient(withheld->parameter_count(), std::nanf(""));
  const std::unique_ptr<Workspace> shared_workspace = sharing->CreateWorkspace(7);
  const std::unique_ptr<Workspace> separate_workspace = withheld->CreateWorkspace(7);
  const double shared_loss = sharing->WriteGradient(parameters.Span(), data.inputs.data(), data.labels.data(), 7,
                                                    shared_workspace.get(), absl::MakeSpan(shared_gradient));
  const double separate_loss = withheld->WriteGradient(parameters.Span(), data.inputs.data(), data.labels.data(), 7,
                                                       separate_workspace.get(), absl::MakeSpan(separate_gradient));
  EXPECT_EQ(shared_loss, separate_loss);
  EXPECT_EQ(0, std::memcmp(shared_gradient.data(), separate_gradient.data(), shared_gradient.size() * sizeof(float)));
  reference::Tensor expected;
  reference::NetworkLoss(*sharing, reference::Tensor(parameters.Span().begin(), parameters.Span().end()),
                         reference::Tensor(data.inputs.begin(), data.inputs.end()), data.labels, &expected);
  ExpectGradientNearReference(*sharing, shared_gradient, expected);
  int64_t shared_correct = -1, separate_correct = -2;
  EXPECT_EQ(sharing->Evaluate(parameters.Span(), data.inputs.data(), data.labels.data(), 7, shared_workspace.get(),
                              &shared_correct),
            withheld->Evaluate(parameters.Span(), data.inputs.data(), data.labels.data(), 7,
                               separate_workspace.get(), &separate_correct));
  EXPECT_EQ(shared_correct, separate_correct);
}

TEST(NetworkTest, IsBitIdenticalAcrossCallsWorkspacesAndThreads) {
  const std::unique_ptr<Network> network = SmallGraph(3);
  const ParameterBuffer parameters = RandomParameters(*network, 7);
  const Data data = RandomData(*network, 10, 8);
  auto run = [&](Workspace* workspace, std::vector<float>* gradient, double* loss) {
    gradient->assign(network->parameter_count(), 0.0f);
    *loss = network->AccumulateGradient(parameters.Span(), data.inputs.data(), data.labels.data(), 10, workspace,
                                        absl::MakeSpan(*gradient));
  };
  const std::unique_ptr<Workspace> large = network->CreateWorkspace(64);
  const std::unique_ptr<Workspace> exact = network->CreateWorkspace(3);
  EXPECT_EQ(large->capacity(), 3);
  std::vector<float> first, second, third;
  double first_loss = 0, second_loss = 0, third_loss = 0;
  run(large.get(), &first, &first_loss);
  run(large.get(), &second, &second_loss);
  run(exact.get(), &third, &third_loss);
  EXPECT_EQ(first_loss, second_loss);
  EXPECT_EQ(first_loss, third_loss);
  EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(first.data(), third.data(), first.size() * sizeof(float)));
  // Four threads at once on one network, each with its own workspace and gradient.
  constexpr int kThreads = 4;
  std::vector<std::unique_ptr<Workspace>> workspaces;
  for (int t = 0; t < kThreads; ++t) workspaces.push_back(network->CreateWorkspace(10));
  std::vector<std::vector<float>> gradients(kThreads);
  std::vector<double> losses(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int repeat = 0; repeat < 5; ++repeat) run(workspaces[t].get(), &gradients[t], &losses[t]);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(losses[t], first_loss);
    EXPECT_EQ(0, std::memcmp(gradients[t].data(), first.data(), first.size() * sizeof(float))) << t;
  }
}

TEST(NetworkTest, SmallWorkspacesTakeBatchesUpToTheirSize) {
  const std::unique_ptr<Network> network = SmallGraph(3);
  const ParameterBuffer parameters = RandomParameters(*network, 9);
  const Data data = RandomData(*network, 2, 10);
  const std::unique_ptr<Workspace> workspace = network->CreateWorkspace(2);
  EXPECT_EQ(workspace->capacity(), 2);
  std::vector<float> gradient(network->parameter_count(), 0.0f);
  network->AccumulateGradient(parameters.Span(), data.inputs.data(), data.labels.data(), 2, workspace.get(),
                              absl::MakeSpan(gradient));
  // An empty batch: no loss, no gradient.
  std::vector<float> untouched(network->parameter_count(), 0.0f);
  EXPECT_EQ(
      network->AccumulateGradient(parameters.Span(), nullptr, nullptr, 0, workspace.get(), absl::MakeSpan(untouched)),
      0.0);
  for (float value : untouched) EXPECT_EQ(value, 0.0f);
}

TEST(NetworkTest, UseSparsitiesRejectsAListOfTheWrongLength) {
  const std::unique_ptr<Network> network = SmallGraph(3);
  const std::unique_ptr<Workspace> workspace = network->CreateWorkspace(2);
  const LayerSparsities too_long(network->nodes().size() + 1, nullptr);
  const absl::Status status = network->UseSparsities(&too_long, workspace.get());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(absl::StrCat(network->nodes().size() + 1, " sparse structures for a network of ",
                                               network->nodes().size(), " nodes")),
            std::string::npos)
      << status;
  const LayerSparsities all_dense(network->nodes().size(), nullptr);
  EXPECT_TRUE(network->UseSparsities(&all_dense, workspace.get()).ok());
  EXPECT_TRUE(network->UseSparsities(nullptr, workspace.get()).ok());
}

TEST(NetworkDeathTest, RejectsMisuse) {
  const std::unique_ptr<Network> network = SmallGraph(3);
  const std::unique_ptr<Network> other = SmallGraph(3);
  const ParameterBuffer parameters = RandomParameters(*network, 11);
  const Data data = RandomData(*network, 3, 12);
  const std::unique_ptr<Workspace> small = network->CreateWorkspace(2);
  const std::unique_ptr<Workspace> foreign = other->CreateWorkspace(3);
  std::vector<float> gradient(network->parameter_count(), 0.0f);
  std::vector<float> short_gradient(5, 0.0f);
  EXPECT_DEATH(network->AccumulateGradient(parameters.Span(), data.inputs.data(), data.labels.data(), 3, small.get(),
                                           absl::MakeSpan(gradient)),
               "check failed");
  EXPECT_DEATH(network->AccumulateGradient(parameters.Span(), data.inputs.data(), data.labels.data(), 3, foreign.get(),
                                           absl::MakeSpan(gradient)),
               "check failed");
  EXPECT_DEATH(network->AccumulateGradient(parameters.Span(), data.inputs.data(), data.labels.data(), 2, small.get(),
                                           absl::MakeSpan(short_gradient)),
               "check failed");
}

TEST(NetworkBuilderDeathTest, RejectsMismatchedShapesAndUnusedTensors) {
  EXPECT_DEATH(
      {
        NetworkBuilder builder("bad", ImageShape{4, 4, 1}, 10);
        builder.Add(std::make_unique<FullyConnectedLayer>("fc", ImageShape{4, 4, 2}, 10), {0});
      },
      "check failed");
  EXPECT_DEATH(
      {
        NetworkBuilder builder("dangling", ImageShape{4, 4, 1}, 10);
        builder.Add(std::make_unique<ReluLayer>("unused", ImageShape{4, 4, 1}), {0});
        builder.Add(std::make_unique<FullyConnectedLayer>("fc", ImageShape{4, 4, 1}, 10), {0});
        std::move(builder).Build(4);
      },
      "check failed");
}

}  // namespace
}  // namespace parsity::nn
