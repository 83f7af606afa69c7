#include "training/nn/residual.h"

#include "gtest/gtest.h"
#include "training/nn/layer_testing.h"

namespace parsity::nn {
namespace {

using testing::InputValues;
using testing::MakeLayerTestData;
using testing::MatchesFiniteDifferences;
using testing::MatchesReference;

TEST(ResidualAddLayerTest, MatchesReferenceAndFiniteDifferences) {
  const ResidualAddLayer add("add", ImageShape{3, 3, 5});
  const testing::LayerTestData data = MakeLayerTestData(add, 2, InputValues::kGaussian, 1);
  EXPECT_TRUE(MatchesReference(add, data, 2));
  EXPECT_TRUE(MatchesFiniteDifferences(add, data, 2));
}

TEST(ShortcutLayerTest, HalvesTheImageAndAppendsZeroChannels) {
  const ShortcutLayer shortcut("shortcut", ImageShape{32, 32, 16}, 32);
  EXPECT_EQ(shortcut.output_shape(), (ImageShape{16, 16, 32}));
  EXPECT_TRUE(shortcut.parameter_specs().empty());
}

TEST(ShortcutLayerTest, MatchesReferenceAndFiniteDifferences) {
  const ShortcutLayer shortcut("shortcut", ImageShape{4, 6, 3}, 5);
  const testing::LayerTestData data = MakeLayerTestData(shortcut, 2, InputValues::kGaussian, 2);
  EXPECT_TRUE(MatchesReference(shortcut, data, 4));
  EXPECT_TRUE(MatchesFiniteDifferences(shortcut, data, 4));
  // The networks' shapes.
  for (const ImageShape& input : {ImageShape{32, 32, 16}, ImageShape{16, 16, 32}}) {
    const ShortcutLayer network_shortcut("shortcut", input, 2 * input.channels);
    EXPECT_TRUE(
        MatchesReference(network_shortcut, MakeLayerTestData(network_shortcut, 3, InputValues::kGaussian, 3), 4));
  }
}

}  // namespace
}  // namespace parsity::nn
