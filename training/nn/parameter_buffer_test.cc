#include "training/nn/parameter_buffer.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace parsity::nn {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::HasSubstr;

ParameterLayout TwoLayers() {
  ParameterLayout layout;
  layout.Append("conv1/weights", {5, 5, 1, 32}, 25, ParameterKind::kWeights);
  layout.Append("conv1/biases", {32}, 25, ParameterKind::kBiases);
  layout.Append("fc/weights", {1024, 10}, 1024, ParameterKind::kWeights);
  layout.Append("fc/biases", {10}, 1024, ParameterKind::kBiases);
  return layout;
}

TEST(ParameterLayoutTest, ViewsTileTheBufferInOrder) {
  const ParameterLayout layout = TwoLayers();
  ASSERT_EQ(layout.views().size(), 4u);
  int64_t offset = 0;
  for (const ParameterView& view : layout.views()) {
    EXPECT_EQ(view.offset, offset) << view.name;
    int64_t size = 1;
    for (int64_t dimension : view.shape) size *= dimension;
    EXPECT_EQ(view.size, size) << view.name;
    offset += view.size;
  }
  EXPECT_EQ(layout.size(), offset);
  EXPECT_EQ(layout.size(), 800 + 32 + 10240 + 10);
  EXPECT_EQ(layout.views()[1].kind, ParameterKind::kBiases);
  EXPECT_EQ(layout.views()[2].fan_in, 1024);
}

TEST(ParameterLayoutTest, FindsViewsByName) {
  const ParameterLayout layout = TwoLayers();
  ASSERT_OK_AND_ASSIGN(const ParameterView* view, layout.Find("fc/weights"));
  EXPECT_EQ(view->offset, 832);
  EXPECT_THAT(layout.Find("fc2/weights"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("fc2/weights'; known views: conv1/weights")));
}

TEST(ParameterLayoutDeathTest, RejectsDuplicateNamesAndEmptyShapes) {
  ParameterLayout layout = TwoLayers();
  EXPECT_DEATH(layout.Append("fc/biases", {10}, 1, ParameterKind::kBiases), "check failed");
  EXPECT_DEATH(layout.Append("x", {0}, 1, ParameterKind::kBiases), "check failed");
}

TEST(ParameterBufferTest, IsZeroFilledAlignedAndSliceable) {
  ParameterBuffer buffer(TwoLayers());
  EXPECT_EQ(buffer.size(), 11082);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.data()) % 64, 0u);
  for (float value : buffer.Span()) EXPECT_EQ(value, 0.0f);
  ASSERT_OK_AND_ASSIGN(absl::Span<float> biases, buffer.Span("conv1/biases"));
  ASSERT_EQ(biases.size(), 32u);
  biases[3] = 7.0f;
  EXPECT_EQ(buffer.Span()[800 + 3], 7.0f);
  EXPECT_EQ(Slice(buffer.Span(), buffer.layout().views()[1])[3], 7.0f);
  const ParameterBuffer& constant = buffer;
  ASSERT_OK_AND_ASSIGN(absl::Span<const float> same, constant.Span("conv1/biases"));
  EXPECT_EQ(same[3], 7.0f);
  EXPECT_THAT(buffer.Span("nope"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(ParameterBufferTest, VectorViewDoesWholeBufferArithmetic) {
  ParameterBuffer a(TwoLayers());
  ParameterBuffer b(TwoLayers());
  b.Vector().setConstant(2.0f);
  a.Vector() += 0.5f * b.Vector();
  for (float value : a.Span()) EXPECT_EQ(value, 1.0f);
}

}  // namespace
}  // namespace parsity::nn
