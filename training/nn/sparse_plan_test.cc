#include "training/nn/sparse_plan.h"

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/casts.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/check.h"
#include "tools/base/status_matchers.h"
#include "training/nn/internal/sparse_kernels.h"
#include "training/nn/networks.h"

namespace parsity::nn {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::HasSubstr;

// Keeps every entry whose index is a multiple of `every` (plus all biases), so each layer's density is about 1/every.
Mask EveryNth(const Network& network, int64_t every) {
  std::vector<float> values(network.parameter_count(), 0.0f);
  for (const ParameterView& view : network.views()) {
    for (int64_t i = 0; i < view.size; ++i) {
      if (view.kind == ParameterKind::kBiases || i % every == 0) values[view.offset + i] = 1.0f;
    }
  }
  auto mask = Mask::Create(std::move(values));
  PARSITY_CHECK_OK(mask.status());
  return *std::move(mask);
}

TEST(SparsePlanTest, RefusesAMaskOfAnotherSize) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("lenet_300_100"));
  EXPECT_THAT(SparsePlan::Create(*network, Mask::AllKept(10), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("10 entries")));
}

TEST(SparsePlanTest, ForcedSelectionsAndTheDescription) {
  if (!nn_internal::HasSparseKernels()) GTEST_SKIP() << "this build has no sparse kernels (no AVX-512)";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("simple_cnn"));
  const Mask mask = EveryNth(*network, 10);
  for (const KernelSelection selection : {KernelSelection::kSparse, KernelSelection::kDense}) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<SparsePlan> plan, SparsePlan::Create(*network, mask, {.selection = selection}));
    const KernelKind want = selection == KernelSelection::kSparse ? KernelKind::kSparse : KernelKind::kDense;
    const std::vector<LayerKernels> layers = plan->Describe(/*batch_size=*/128);
    ASSERT_EQ(layers.size(), 3u);
    EXPECT_EQ(layers[0].name, "conv1");
    EXPECT_FALSE(layers[0].has_input_gradient);  // It reads the network input.
    EXPECT_TRUE(layers[1].has_input_gradient);
    EXPECT_EQ(layers[1].kept_weights, 5120);      // Every 10th of conv2's 51,200 weights.
    EXPECT_NEAR(layers[1].density, 0.1, 1e-12);
    EXPECT_EQ(layers[1].batch, network->chunk_examples());  // The layers see chunks.
    for (const LayerKernels& layer : layers) {
      EXPECT_EQ(layer.forward, want);
      EXPECT_EQ(layer.weight_gradient, want);
      EXPECT_EQ(KernelSummary(layer), KernelKindName(want));
    }
    // One structure per weighted layer, none for the others, as the workspace expects.
    int weighted = 0;
    for (const LayerSparsity* sparsity : plan->layers()) weighted += sparsity != nullptr ? 1 : 0;
    EXPECT_EQ(weighted, 3);
    EXPECT_EQ(plan->layers().size(), network->nodes().size());
  }
}

// The gradient ranges: disjoint, holding every kept weight and every bias; with sparse weight gradients the lines of
// 16 pruned weights lie outside (when few lines hold a kept weight), with dense ones the whole buffer is inside.
TEST(SparsePlanTest, GradientRangesHoldWhatThePassesWrite) {
  if (!nn_internal::HasSparseKernels()) GTEST_SKIP() << "this build has no sparse kernels (no AVX-512)";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("lenet_300_100"));
  std::vector<float> values(network->parameter_count(), 0.0f);
  std::mt19937_64 engine(5);
  std::bernoulli_distribution kept(0.2);
  for (const ParameterView& view : network->views()) {
    for (int64_t i = 0; i < view.size; ++i) {
      // Weights: one line in 8 has about a fifth of its entries kept, the others none.
      const bool line_may_keep = ((view.offset + i) / 16) % 8 == 0;
      if (view.kind == ParameterKind::kBiases || (line_may_keep && kept(engine))) values[view.offset + i] = 1.0f;
    }
  }
  ASSERT_OK_AND_ASSIGN(Mask mask, Mask::Create(values));
  // Where many lines hold a kept weight, the whole tensor is one range.
  std::vector<float> dense_lines(values.size(), 1.0f);
  for (size_t i = 0; i < values.size(); i += 3) dense_lines[i] = 0.0f;
  ASSERT_OK_AND_ASSIGN(Mask many_lines, Mask::Create(dense_lines));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SparsePlan> many_lines_plan,
                       SparsePlan::Create(*network, many_lines, {.selection = KernelSelection::kSparse}));
  int64_t many_lines_covered = 0;
  many_lines_plan->ForEachGradientRange(8, 8, [&](int64_t begin, int64_t end) { many_lines_covered += end - begin; });
  EXPECT_EQ(many_lines_covered, network->parameter_count());
  // Half the lines kept: one-line runs are covered whole, runs of 8 lines stay runs (the pruned half is skipped).
  for (const int64_t run_lines : {1, 8}) {
    std::vector<float> half(values.size(), 0.0f);
    for (size_t i = 0; i < half.size(); ++i) half[i] = (i / 16 / run_lines) % 2 == 0 ? 1.0f : 0.0f;
    for (const ParameterView& view : network->views()) {
      if (view.kind != ParameterKind::kBiases) continue;
      for (int64_t i = 0; i < view.size; ++i) half[view.offset + i] = 1.0f;
    }
    ASSERT_OK_AND_ASSIGN(Mask half_mask, Mask::Create(half));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<SparsePlan> half_plan,
                         SparsePlan::Create(*network, half_mask, {.selection = KernelSelection::kSparse}));
    int64_t covered = 0;
    half_plan->ForEachGradientRange(8, 8, [&](int64_t begin, int64_t end) { covered += end - begin; });
    if (run_lines == 1) {
      EXPECT_EQ(covered, network->parameter_count());
    } else {
      EXPECT_LT(covered, network->parameter_count() * 6 / 10);
    }
  }
  for (const KernelSelection selection : {KernelSelection::kSparse, KernelSelection::kDense}) {
    SCOPED_TRACE(KernelSelectionName(selection));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<SparsePlan> plan, SparsePlan::Create(*network, mask, {.selection = selection}));
    for (const auto& [batch, other] : std::vector<std::pair<int64_t, int64_t>>{{2, 2}, {7, 8}, {300, 301}}) {
      std::vector<int> visits(network->parameter_count(), 0);
      plan->ForEachGradientRange(batch, other, [&](int64_t begin, int64_t end) {
        ASSERT_LE(0, begin);
        ASSERT_LE(begin, end);
        ASSERT_LE(end, network->parameter_count());
        for (int64_t i = begin; i < end; ++i) ++visits[i];
      });
      int64_t outside = 0;
      for (int64_t i = 0; i < network->parameter_count(); ++i) {
        ASSERT_LE(visits[i], 1) << "entry " << i << " visited twice";
        if (mask.is_kept(i)) {
          ASSERT_EQ(visits[i], 1) << "kept entry " << i;
        }
        outside += visits[i] == 0 ? 1 : 0;
      }
      if (selection == KernelSelection::kDense) {
        EXPECT_EQ(outside, 0);
      } else {
        EXPECT_GT(outside, network->parameter_count() / 2);  // 7 lines in 8 hold no kept weight.
      }
    }
  }
}

// A layer whose biases are all pruned (as SNIP prunes the zero-initialized biases) gets no bias gradient: its biases
// stay outside the gradient ranges and keep whatever the buffer held, while every other entry a pass writes (kept
// weights, and the biases of layers that keep some) has the bits of the pass without a plan.
TEST(SparsePlanTest, BiasesAllPrunedGetNoGradient) {
  if (!nn_internal::HasSparseKernels()) GTEST_SKIP() << "this build has no sparse kernels (no AVX-512)";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("lenet_300_100"));
  std::vector<float> values(network->parameter_count(), 0.0f);
  for (const ParameterView& view : network->views()) {
    for (int64_t i = 0; i < view.size; ++i) {
      const bool kept = view.kind == ParameterKind::kWeights ? i % 3 == 0
                        : view.name == "fc1/biases"          ? false
                        : view.name == "fc2/biases"          ? i % 2 == 0  // Some kept: the whole gradient is written.
                                                             : true;
      if (kept) values[view.offset + i] = 1.0f;
    }
  }
  ASSERT_OK_AND_ASSIGN(Mask mask, Mask::Create(values));
  std::vector<float> parameters(network->parameter_count());
  std::mt19937_64 engine(3);
  network->Initialize(engine, absl::MakeSpan(parameters));
  mask.Apply(absl::MakeSpan(parameters));
  const int64_t batch = 5;
  std::normal_distribution<float> pixel(0.0f, 1.0f);
  std::vector<float> inputs(batch * network->input_shape().size());
  for (float& value : inputs) value = pixel(engine);
  const std::vector<int32_t> labels = {0, 3, 9, 4, 7};
  std::vector<float> expected(network->parameter_count());
  network->WriteGradient(parameters, inputs.data(), labels.data(), batch, network->CreateWorkspace(batch).get(),
                         absl::MakeSpan(expected));
  // Dense kernels under the plan, so that every weight entry is written too and compared bit for bit.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SparsePlan> plan,
                       SparsePlan::Create(*network, mask, {.selection = KernelSelection::kDense}));
  const ParameterView* fc1_biases = *network->layout().Find("fc1/biases");
  for (size_t n = 0; n < network->nodes().size(); ++n) {
    if (plan->layers()[n] == nullptr) continue;
    EXPECT_EQ(plan->layers()[n]->biases_pruned(), network->nodes()[n].layer->name() == "fc1") << "node " << n;
  }
  plan->ForEachGradientRange(batch, batch, [&](int64_t begin, int64_t end) {
    EXPECT_TRUE(end <= fc1_biases->offset || begin >= fc1_biases->offset + fc1_biases->size) << begin << ", " << end;
  });
  const float sentinel = -12345.0f;
  std::vector<float> gradient(network->parameter_count(), sentinel);
  network->WriteGradient(parameters, inputs.data(), labels.data(), batch,
                         network->CreateWorkspace(batch, &plan->layers()).get(), absl::MakeSpan(gradient));
  for (int64_t i = 0; i < network->parameter_count(); ++i) {
    const bool in_fc1_biases = i >= fc1_biases->offset && i < fc1_biases->offset + fc1_biases->size;
    if (in_fc1_biases) {
      ASSERT_EQ(gradient[i], sentinel) << "entry " << i;
    } else {
      ASSERT_EQ(absl::bit_cast<uint32_t>(gradient[i]), absl::bit_cast<uint32_t>(expected[i])) << "entry " << i;
    }
  }
}

// LeNet-300-100 with its first layer's outputs kept at densities from 1% to 28% (by output number mod 10, so that
// sorting them packs the kept weights into fewer lines), every third entry of the other layers pruned, and half of the
// first layer's biases.
Mask UnevenFirstLayerMask(const Network& network) {
  std::vector<float> values(network.parameter_count(), 1.0f);
  for (const ParameterView& view : network.views()) {
    for (int64_t i = 0; i < view.size; ++i) {
      bool kept = i % 3 != 0;
      if (view.name == "fc1/weights") {
        const int64_t output = i % 300;
        kept = (i * 7919 % 100) < (output % 10) * 3 + 1;
      } else if (view.name == "fc1/biases") {
        kept = i % 2 == 0;
      }
      values[view.offset + i] = kept ? 1.0f : 0.0f;
    }
  }
  auto mask = Mask::Create(std::move(values));
  PARSITY_CHECK_OK(mask.status());
  return *std::move(mask);
}

int64_t KeptLines(absl::Span<const uint16_t> kept_bits) {
  int64_t lines = 0;
  for (const uint16_t bits : kept_bits) lines += bits != 0;
  return lines;
}

// `packed` (a plan that moves weights) computes what `plain` (one that keeps the network's layout) computes on
// `parameters`, bit for bit, given them in its order (`plan_order`): forward, both gradients, written and added, at
// batches of 1 to 256. `label` names the case in failure messages.
void ExpectTheSameBits(const Network& network, const Mask& mask, const SparsePlan& plain, const SparsePlan& packed,
                       const std::vector<float>& parameters, const std::vector<float>& plan_order, int label,
                       std::mt19937_64& engine) {
  std::normal_distribution<float> pixel(0.0f, 1.0f);
  for (const int64_t batch : {1, 2, 7, 16, 256}) {
    std::vector<float> inputs(batch * network.input_shape().size());
    for (float& value : inputs) value = pixel(engine);
    std::vector<int32_t> labels(batch);
    for (int64_t b = 0; b < batch; ++b) labels[b] = static_cast<int32_t>((b * 7) % 10);
    const float sentinel = -12345.0f;
    std::vector<float> expected(network.parameter_count(), sentinel);
    std::vector<float> gradient(network.parameter_count(), sentinel);
    auto plain_workspace = network.CreateWorkspace(batch, &plain.layers());
    auto packed_workspace = network.CreateWorkspace(batch, &packed.layers());
    EXPECT_EQ(network.WriteGradient(plan_order, inputs.data(), labels.data(), batch, packed_workspace.get(),
                                    absl::MakeSpan(gradient)),
              network.WriteGradient(parameters, inputs.data(), labels.data(), batch, plain_workspace.get(),
                                    absl::MakeSpan(expected)))
        << "batch " << batch;
    std::vector<float> written = gradient;
    packed.ToNetworkOrder(absl::MakeSpan(written));
    // Added onto what the first pass wrote: the kept entries' chains then start from their values.
    network.AccumulateGradient(plan_order, inputs.data(), labels.data(), batch, packed_workspace.get(),
                               absl::MakeSpan(gradient));
    std::vector<float> added_expected = expected;
    network.AccumulateGradient(parameters, inputs.data(), labels.data(), batch, plain_workspace.get(),
                               absl::MakeSpan(added_expected));
    packed.ToNetworkOrder(absl::MakeSpan(gradient));
    for (int64_t i = 0; i < network.parameter_count(); ++i) {
      if (mask.values()[i] == 0.0f) continue;  // Pruned entries: whatever each kernel leaves there.
      ASSERT_EQ(absl::bit_cast<uint32_t>(written[i]), absl::bit_cast<uint32_t>(expected[i]))
          << "entry " << i << ", batch " << batch << ", case " << label;
      ASSERT_EQ(absl::bit_cast<uint32_t>(gradient[i]), absl::bit_cast<uint32_t>(added_expected[i]))
          << "added, entry " << i << ", batch " << batch << ", case " << label;
    }
    int64_t correct = 0, expected_correct = 0;
    EXPECT_EQ(network.Evaluate(plan_order, inputs.data(), labels.data(), batch, packed_workspace.get(), &correct),
              network.Evaluate(parameters, inputs.data(), labels.data(), batch, plain_workspace.get(),
                               &expected_correct))
        << "batch " << batch;
    EXPECT_EQ(correct, expected_correct) << "batch " << batch;
  }
}

// A plan that packs its layers' weights computes what the network's layout computes, with any kernel, bit for bit,
// once its buffers are moved into the plan's order and back: forward, both gradients, written and added.
TEST(SparsePlanTest, PackedWeightsGiveTheSameBits) {
  if (!nn_internal::HasSparseKernels()) GTEST_SKIP() << "this build has no sparse kernels (no AVX-512)";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("lenet_300_100"));
  const Mask mask = UnevenFirstLayerMask(*network);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SparsePlan> plain,
                       SparsePlan::Create(*network, mask, {.selection = KernelSelection::kSparse}));
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<SparsePlan> packed,
      SparsePlan::Create(*network, mask, {.selection = KernelSelection::kSparse, .pack_weights = true}));
  EXPECT_FALSE(plain->reordered());
  ASSERT_TRUE(packed->reordered());
  // Every layer runs sparse here, so every layer packs; the first layer's kept weights then fill whole lines.
  EXPECT_EQ(packed->layers()[0]->weight_order().size(), 784u * 300u);
  EXPECT_EQ(packed->layers()[2]->weight_order().size(), 300u * 100u);
  EXPECT_EQ(packed->layers()[4]->weight_order().size(), 100u * 10u);
  EXPECT_LT(KeptLines(packed->kept_bits()) * 3, KeptLines(plain->kept_bits()));
  EXPECT_THAT(SparsePlanJson(packed->Describe(2)), HasSubstr("\"weight_gradient\":\"sparse\",\"weights_packed\":true}"));
  EXPECT_THAT(SparsePlanJson(plain->Describe(2)), ::testing::Not(HasSubstr("weights_packed")));
  for (const int64_t batch : packed->layers()[0]->RepresentativeBatches()) {
    EXPECT_FALSE(packed->layers()[0]->Supports(Product::kForward, KernelKind::kSparseLines));
    EXPECT_EQ(packed->layers()[0]->kernel(Product::kForward, batch), KernelKind::kSparse);
  }

  // The plan's mask is the mask moved; moving there and back is the identity, and moving changes the buffer.
  std::vector<float> moved(mask.values().begin(), mask.values().end());
  packed->ToPlanOrder(absl::MakeSpan(moved));
  EXPECT_EQ(moved, std::vector<float>(packed->mask().values().begin(), packed->mask().values().end()));
  std::vector<float> parameters(network->parameter_count());
  std::mt19937_64 engine(4);
  network->Initialize(engine, absl::MakeSpan(parameters));
  mask.Apply(absl::MakeSpan(parameters));
  std::vector<float> plan_order = parameters;
  packed->ToPlanOrder(absl::MakeSpan(plan_order));
  EXPECT_NE(plan_order, parameters);
  std::vector<float> round_trip = plan_order;
  packed->ToNetworkOrder(absl::MakeSpan(round_trip));
  EXPECT_EQ(round_trip, parameters);

  for (const KernelKind kind : {KernelKind::kSparse, KernelKind::kSparseLines, KernelKind::kDense}) {
    // The network's layout runs the first layer on `kind`; the packed plan always on its sparse kernels.
    auto* first = const_cast<LayerSparsity*>(plain->layers()[0]);
    for (const int64_t b : first->RepresentativeBatches()) {
      first->set_kernel(Product::kForward, b, kind);
      first->set_kernel(Product::kWeightGradient, b, kind);
    }
    ExpectTheSameBits(*network, mask, *plain, *packed, parameters, plan_order, static_cast<int>(kind), engine);
  }
}

// A first layer packed for its dense_packed kernels (the other layers packed for their sparse ones) computes what the
// network's layout computes, bit for bit; its products run dense_packed at every batch, the dense kernels and lines,
// which read the network's layout, are refused, and the plan's mask holds its kept weights in whole lines.
TEST(SparsePlanTest, DensePackedFirstLayerGivesTheSameBits) {
  if (!nn_internal::HasSparseKernels()) GTEST_SKIP() << "this build has no sparse kernels (no AVX-512)";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("lenet_300_100"));
  const Mask mask = UnevenFirstLayerMask(*network);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SparsePlan> plain,
                       SparsePlan::Create(*network, mask, {.selection = KernelSelection::kSparse}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SparsePlan> packed,
                       SparsePlan::Create(*network, mask,
                                          {.selection = KernelSelection::kSparse,
                                           .pack_weights = true,
                                           .always_pack_dense = true}));
  const LayerSparsity& first = *packed->layers()[0];
  ASSERT_EQ(first.weight_order().size(), 784u * 300u);
  for (const int64_t batch : first.RepresentativeBatches()) {
    EXPECT_EQ(first.kernel(Product::kForward, batch), KernelKind::kDensePacked) << batch;
    EXPECT_EQ(first.kernel(Product::kWeightGradient, batch), KernelKind::kDensePacked) << batch;
  }
  EXPECT_FALSE(first.Supports(Product::kForward, KernelKind::kDense));
  EXPECT_FALSE(first.Supports(Product::kForward, KernelKind::kSparseLines));
  EXPECT_FALSE(first.Supports(Product::kInputGradient, KernelKind::kDensePacked));
  EXPECT_FALSE(plain->layers()[0]->Supports(Product::kForward, KernelKind::kDensePacked));
  // The kept weights fill whole lines from the start of the layer's weights.
  int64_t kept = 0;
  for (int64_t i = 0; i < 784 * 300; ++i) kept += mask.values()[i] != 0.0f;
  for (int64_t i = 0; i < 784 * 300; ++i) ASSERT_EQ(packed->mask().values()[i], i < kept ? 1.0f : 0.0f) << i;
  EXPECT_THAT(SparsePlanJson(packed->Describe(2)),
              HasSubstr("\"kernel\":\"sparse\",\"forward\":\"dense_packed\",\"weight_gradient\":\"dense_packed\","
                        "\"weights_packed\":true}"));

  std::vector<float> parameters(network->parameter_count());
  std::mt19937_64 engine(5);
  network->Initialize(engine, absl::MakeSpan(parameters));
  mask.Apply(absl::MakeSpan(parameters));
  std::vector<float> plan_order = parameters;
  packed->ToPlanOrder(absl::MakeSpan(plan_order));
  ExpectTheSameBits(*network, mask, *plain, *packed, parameters, plan_order, /*label=*/0, engine);
}

// Line kernels read the network's layout: packing hands their products to the sparse kernels, whatever the plan chose.
TEST(SparsePlanTest, PackingReplacesLineKernels) {
  if (!nn_internal::HasSparseKernels()) GTEST_SKIP() << "this build has no sparse kernels (no AVX-512)";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("lenet_300_100"));
  const Mask mask = UnevenFirstLayerMask(*network);
  const Network::Node& first = network->nodes()[0];
  std::unique_ptr<LayerSparsity> sparsity = first.layer->CreateSparsity(
      mask.values().subspan(first.weights_offset, 784 * 300), network->chunk_examples());
  ASSERT_NE(sparsity, nullptr);
  const std::vector<int64_t> batches = sparsity->RepresentativeBatches();
  for (size_t c = 0; c < batches.size(); ++c) {
    sparsity->set_kernel(Product::kForward, batches[c], c % 2 == 0 ? KernelKind::kSparseLines : KernelKind::kSparse);
    sparsity->set_kernel(Product::kWeightGradient, batches[c], KernelKind::kSparseLines);
  }
  ASSERT_TRUE(sparsity->PackWeights());
  EXPECT_EQ(sparsity->weight_order().size(), 784u * 300u);
  EXPECT_FALSE(sparsity->Supports(Product::kWeightGradient, KernelKind::kSparseLines));
  for (const int64_t batch : batches) {
    EXPECT_EQ(sparsity->kernel(Product::kForward, batch), KernelKind::kSparse) << batch;
    EXPECT_EQ(sparsity->kernel(Product::kWeightGradient, batch), KernelKind::kSparse) << batch;
  }
}

TEST(SparsePlanTest, JsonNamesEveryLayerAndItsKernels) {
  LayerKernels first;
  first.name = "conv1";
  first.density = 0.5;
  first.kept_weights = 400;
  first.has_input_gradient = false;
  first.forward = KernelKind::kDense;
  first.weight_gradient = KernelKind::kSparse;
  LayerKernels second;
  second.name = "fc";
  second.density = 0.25;
  second.kept_weights = 10;
  second.forward = second.input_gradient = second.weight_gradient = KernelKind::kSparse;
  EXPECT_EQ(SparsePlanJson({first, second}),
            "[{\"name\":\"conv1\",\"density\":0.5,\"kept_weights\":400,\"kernel\":\"mixed\",\"forward\":\"dense\","
            "\"weight_gradient\":\"sparse\"},{\"name\":\"fc\",\"density\":0.25,\"kept_weights\":10,\"kernel\":"
            "\"sparse\",\"forward\":\"sparse\",\"input_gradient\":\"sparse\",\"weight_gradient\":\"sparse\"}]");
}

TEST(SparsePlanTest, DenseDescriptionAndSelectionNames) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Network> network, CreateNetwork("lenet_300_100"));
  const std::vector<LayerKernels> layers = DescribeDense(*network, 8);
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0].kept_weights, 784 * 300);
  EXPECT_EQ(KernelSummary(layers[2]), "dense");
  EXPECT_EQ(layers[2].batch, 8);
  for (const char* name : {"auto", "dense", "sparse"}) {
    ASSERT_OK_AND_ASSIGN(const KernelSelection selection, ParseKernelSelection(name));
    EXPECT_STREQ(KernelSelectionName(selection), name);
  }
  EXPECT_THAT(ParseKernelSelection("fast"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"fast\"")));
}

}  // namespace
}  // namespace parsity::nn
