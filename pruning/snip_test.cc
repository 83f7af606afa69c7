#include "pruning/snip.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "training/data/synthetic_examples.h"
#include "pruning/selection.h"
#include "tools/base/status_matchers.h"
#include "training/data/batch_stream.h"
#include "training/nn/activation.h"
#include "training/nn/convolution.h"
#include "training/nn/fully_connected.h"
#include "training/nn/network.h"
#include "training/nn/networks.h"
#include "training/nn/pooling.h"
#include "training/nn/reference.h"
#include "training/trainer/trainer.h"

namespace parsity::pruning {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::HasSubstr;

// 6x6x1 -> conv 3x3 VALID, 3 channels -> ReLU -> max-pool 2x2/2 -> fc 12 -> 10: 160 parameters, every kind of
// layer Simple-CNN has.
std::unique_ptr<nn::Network> TinyNetwork() {
  nn::NetworkBuilder builder("tiny", nn::ImageShape{6, 6, 1}, 10);
  nn::Conv2DOptions conv;
  conv.kernel_size = 3;
  conv.out_channels = 3;
  const int c = builder.Add(std::make_unique<nn::Conv2DLayer>("conv", builder.shape(0), conv), {0});
  const int r = builder.Add(std::make_unique<nn::ReluLayer>("relu", builder.shape(c)), {c});
  const int p = builder.Add(std::make_unique<nn::MaxPoolLayer>("pool", builder.shape(r), nn::PoolOptions{2, 2}), {r});
  builder.Add(std::make_unique<nn::FullyConnectedLayer>("fc", builder.shape(p), 10), {p});
  return std::move(builder).Build(/*chunk_examples=*/32);
}

data::Examples RandomExamples(int64_t count, data::ImageShape shape, uint64_t seed) {
  data::Examples examples;
  examples.shape = shape;
  examples.num_classes = 10;
  std::mt19937_64 engine(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  examples.pixels.resize(count * shape.Size());
  for (float& value : examples.pixels) value = normal(engine);
  for (int64_t i = 0; i < count; ++i) examples.labels.push_back(static_cast<int32_t>(engine() % 10));
  return examples;
}

// An initialization with nonzero biases, so that every entry has a nonzero sensitivity to check.
std::vector<float> ParametersWithNonzeroBiases(const nn::Network& network, uint64_t seed) {
  std::vector<float> parameters(network.parameter_count());
  trainer::InitializeParameters(network, seed, absl::MakeSpan(parameters));
  std::mt19937_64 engine(seed + 1000);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (const nn::ParameterView& view : network.views()) {
    if (view.kind != nn::ParameterKind::kBiases) continue;
    for (float& value : nn::Slice(absl::MakeSpan(parameters), view)) value = normal(engine);
  }
  return parameters;
}

// One batch B of the sample, in double for the reference.
struct ReferenceBatch {
  nn::reference::Tensor inputs;
  std::vector<int32_t> labels;
};

std::vector<ReferenceBatch> ConsecutiveBatches(const data::Examples& examples, int64_t batch_size) {
  std::vector<ReferenceBatch> batches;
  for (int64_t begin = 0; begin < examples.size(); begin += batch_size) {
    const int64_t end = std::min(begin + batch_size, examples.size());
    ReferenceBatch batch;
    batch.inputs.assign(examples.example(begin), examples.example(begin) + (end - begin) * examples.shape.Size());
    batch.labels.assign(examples.labels.begin() + begin, examples.labels.begin() + end);
    batches.push_back(std::move(batch));
  }
  return batches;
}

std::vector<ReferenceBatch> StreamBatches(const data::Examples& examples, int64_t batch_size, int64_t count,
                                          uint64_t seed) {
  absl::StatusOr<data::BatchStream> stream = data::BatchStream::Create(&examples, batch_size, seed);
  EXPECT_THAT(stream, IsOk());
  std::vector<ReferenceBatch> batches;
  data::Batch batch;
  for (int64_t b = 0; b < count; ++b) {
    stream->Next(&batch);
    batches.push_back({nn::reference::Tensor(batch.pixels.begin(), batch.pixels.end()), batch.labels});
  }
  return batches;
}

// L(c) = sum_B (1/|B|) sum_{i in B} loss_i(c ⊙ w), in double through the reference network.
double SampleLoss(const nn::Network& network, const std::vector<float>& weights, const nn::reference::Tensor& c,
                  const std::vector<ReferenceBatch>& batches) {
  nn::reference::Tensor masked(weights.size());
  for (size_t j = 0; j < weights.size(); ++j) masked[j] = c[j] * static_cast<double>(weights[j]);
  double total = 0;
  for (const ReferenceBatch& batch : batches) {
    total += nn::reference::NetworkLoss(network, masked, batch.inputs, batch.labels, nullptr) /
             static_cast<double>(batch.labels.size());
  }
  return total;
}

// Checks every g_j against the central difference of L in c_j, in double (h = 1e-6, relative to w_j: small enough
// that few ReLU or max-pool kinks fall inside the step, large enough that double rounding stays near 1e-10). The
// fast g is a sum of float gradients, accurate to a few float epsilons of max_j |g_j| (about 1 observed); the
// tolerance is 32 float epsilons of it. A wrong formula (no product with w, a batch left out, a batch's sum instead
// of its mean) misses by 10% or more.
constexpr double kFloatEpsilon = std::numeric_limits<float>::epsilon();

void ExpectMatchesFiniteDifferences(const nn::Network& network, const std::vector<float>& parameters,
                                    const std::vector<double>& sensitivity,
                                    const std::vector<ReferenceBatch>& batches) {
  ASSERT_EQ(sensitivity.size(), parameters.size());
  const auto loss = [&](const nn::reference::Tensor& c) { return SampleLoss(network, parameters, c, batches); };
  const nn::reference::Tensor ones(parameters.size(), 1.0);
  std::vector<double> expected(parameters.size());
  double scale = 0;
  for (size_t j = 0; j < parameters.size(); ++j) {
    expected[j] = nn::reference::CentralDifference(loss, ones, static_cast<int64_t>(j), 1e-6);
    scale = std::max(scale, std::fabs(expected[j]));
  }
  ASSERT_GT(scale, 1e-3);
  int64_t nonzero = 0;
  for (size_t j = 0; j < parameters.size(); ++j) {
    EXPECT_NEAR(sensitivity[j], expected[j], 32 * kFloatEpsilon * scale) << "entry " << j;
    nonzero += std::fabs(expected[j]) > 1e-3 * scale ? 1 : 0;
  }
  // The check is not vacuous: most entries (biases included) have a clearly nonzero sensitivity.
  EXPECT_GT(nonzero, static_cast<int64_t>(parameters.size()) * 3 / 4);
}

TEST(ConnectionSensitivityTest, WholeSampleEqualsFiniteDifferencesOfTheMaskedLoss) {
  const std::unique_ptr<nn::Network> network = TinyNetwork();
  // 250 examples: batches of 100, 100 and a last, shorter one of 50.
  const data::Examples examples = RandomExamples(250, {6, 6, 1}, 5);
  const std::vector<float> parameters = ParametersWithNonzeroBiases(*network, 11);
  SnipOptions options;
  options.threads = 2;
  ASSERT_OK_AND_ASSIGN(const std::vector<double> sensitivity,
                       ConnectionSensitivity(*network, parameters, examples, options));
  ExpectMatchesFiniteDifferences(*network, parameters, sensitivity, ConsecutiveBatches(examples, 100));
}

TEST(ConnectionSensitivityTest, SampledBatchesEqualFiniteDifferencesOverTheStreamsFirstBatches) {
  const std::unique_ptr<nn::Network> network = TinyNetwork();
  const data::Examples examples = RandomExamples(250, {6, 6, 1}, 6);
  const std::vector<float> parameters = ParametersWithNonzeroBiases(*network, 12);
  SnipOptions options;
  options.batches = 2;
  options.sample_seed = 7;
  ASSERT_OK_AND_ASSIGN(const std::vector<double> sensitivity,
                       ConnectionSensitivity(*network, parameters, examples, options));
  ExpectMatchesFiniteDifferences(*network, parameters, sensitivity, StreamBatches(examples, 100, 2, 7));
  // Another seed samples other examples, so other sensitivities.
  options.sample_seed = 8;
  ASSERT_OK_AND_ASSIGN(const std::vector<double> other, ConnectionSensitivity(*network, parameters, examples, options));
  EXPECT_NE(other, sensitivity);
}

TEST(ConnectionSensitivityTest, IsTheSumOfPerBatchMeanGradientsTimesWeights) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<nn::Network> network, nn::CreateNetwork("simple_cnn"));
  const data::Examples examples = data::MakePatchExamples(350, 3);
  std::vector<float> parameters(network->parameter_count());
  trainer::InitializeParameters(*network, 4, absl::MakeSpan(parameters));

  // Separately: each batch's summed gradient straight from the network, divided by the batch size, added up.
  const std::unique_ptr<nn::Workspace> workspace = network->CreateWorkspace(100);
  std::vector<double> expected(parameters.size(), 0.0);
  std::vector<float> batch_gradient(parameters.size());
  for (int64_t begin = 0; begin < examples.size(); begin += 100) {
    const int64_t batch = std::min<int64_t>(100, examples.size() - begin);
    std::fill(batch_gradient.begin(), batch_gradient.end(), 0.0f);
    network->AccumulateGradient(parameters, examples.example(begin), examples.labels.data() + begin, batch,
                                workspace.get(), absl::MakeSpan(batch_gradient));
    for (size_t j = 0; j < parameters.size(); ++j) expected[j] += batch_gradient[j] / static_cast<double>(batch);
  }
  double scale = 0;
  for (size_t j = 0; j < parameters.size(); ++j) {
    expected[j] *= parameters[j];
    scale = std::max(scale, std::fabs(expected[j]));
  }
  ASSERT_GT(scale, 0);

  for (const int threads : {1, 2}) {
    SnipOptions options;
    options.threads = threads;
    ASSERT_OK_AND_ASSIGN(const std::vector<double> sensitivity,
                         ConnectionSensitivity(*network, parameters, examples, options));
    // Only the float summation order inside a batch differs (chunks, threads, where 1/|B| is applied): 64 float
    // epsilons of the largest entry (about 13 observed, on entries where a batch's terms cancel).
    for (size_t j = 0; j < parameters.size(); ++j) {
      ASSERT_NEAR(sensitivity[j], expected[j], 64 * kFloatEpsilon * scale) << "entry " << j << " threads " << threads;
    }
    // Deterministic: the same call again gives the same bits.
    ASSERT_OK_AND_ASSIGN(const std::vector<double> again,
                         ConnectionSensitivity(*network, parameters, examples, options));
    EXPECT_EQ(again, sensitivity);
  }
}

TEST(ConnectionSensitivityTest, ZeroBiasesHaveZeroSaliencyAndArePrunedFirst) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<nn::Network> network, nn::CreateNetwork("simple_cnn"));
  const data::Examples examples = data::MakePatchExamples(300, 3);
  std::vector<float> parameters(network->parameter_count());
  trainer::InitializeParameters(*network, 0, absl::MakeSpan(parameters));
  ASSERT_OK_AND_ASSIGN(const std::vector<double> sensitivity,
                       ConnectionSensitivity(*network, parameters, examples, SnipOptions{}));
  const std::vector<double> saliency = SnipSaliency(sensitivity);
  int64_t nonzero_weights = 0;
  for (const nn::ParameterView& view : network->views()) {
    for (int64_t j = view.offset; j < view.offset + view.size; ++j) {
      if (view.kind == nn::ParameterKind::kBiases) {
        EXPECT_EQ(parameters[j], 0.0f);
        EXPECT_EQ(saliency[j], 0.0) << view.name;
      } else {
        nonzero_weights += saliency[j] != 0.0 ? 1 : 0;
      }
    }
  }
  // Whenever fewer entries are kept than weights have a nonzero saliency, no bias survives.
  for (const double sparsity : {0.5, 0.9, 0.99}) {
    ASSERT_LT(KeptCount(network->parameter_count(), sparsity), nonzero_weights);
    ASSERT_OK_AND_ASSIGN(nn::Mask mask, SelectTopScores(saliency, network->layout(), sparsity, {}));
    for (const nn::ParameterView& view : network->views()) {
      if (view.kind != nn::ParameterKind::kBiases) continue;
      for (int64_t j = view.offset; j < view.offset + view.size; ++j) {
        EXPECT_FALSE(mask.is_kept(j)) << view.name << " at sparsity " << sparsity;
      }
    }
  }
}

TEST(SnipSaliencyTest, IsTheNormalizedAbsoluteSensitivity) {
  const std::vector<double> saliency = SnipSaliency({2.0, -1.0, 0.0, -1.0});
  EXPECT_EQ(saliency, (std::vector<double>{0.5, 0.25, 0.0, 0.25}));
  EXPECT_EQ(SnipSaliency({0.0, -0.0}), (std::vector<double>{0.0, 0.0}));
  EXPECT_TRUE(SnipSaliency({}).empty());
}

TEST(ConnectionSensitivityTest, RejectsBadArguments) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<nn::Network> network, nn::CreateNetwork("simple_cnn"));
  const data::Examples examples = data::MakePatchExamples(350, 3);
  const std::vector<float> parameters(network->parameter_count(), 0.01f);
  const auto run = [&](const SnipOptions& options) {
    return ConnectionSensitivity(*network, parameters, examples, options).status();
  };
  SnipOptions options;
  options.batches = -1;
  EXPECT_THAT(run(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("snip_batches: -1")));
  options.batches = 4;  // 350 examples hold 3 batches of 100.
  EXPECT_THAT(run(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("snip_batches: 4 batches of 100 examples are more than the 350")));
  options.batches = int64_t{1} << 62;
  EXPECT_THAT(run(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("snip_batches")));
  options.batches = 3;
  EXPECT_THAT(run(options), IsOk());
  options = SnipOptions{};
  options.batch_size = 0;
  EXPECT_THAT(run(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_size: 0")));
  options = SnipOptions{};
  options.threads = 0;
  EXPECT_THAT(run(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("threads: 0")));

  EXPECT_THAT(ConnectionSensitivity(*network, absl::MakeConstSpan(parameters).subspan(1), examples, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("62345")));
  EXPECT_THAT(ConnectionSensitivity(*network, parameters, RandomExamples(10, {6, 6, 1}, 1), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("6x6x1")));
  data::Examples empty = examples;
  empty.pixels.clear();
  empty.labels.clear();
  EXPECT_THAT(ConnectionSensitivity(*network, parameters, empty, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
}

}  // namespace
}  // namespace parsity::pruning
