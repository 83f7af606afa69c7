#include "training/nn/fully_connected.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"
#include "training/nn/layer_testing.h"

namespace parsity::nn {
namespace {

using testing::InputValues;
using testing::MakeLayerTestData;
using testing::MatchesFiniteDifferences;
using testing::MatchesReference;

TEST(FullyConnectedLayerTest, FlattensTheInputAndDeclaresParameters) {
  const FullyConnectedLayer fc("fc", ImageShape{4, 4, 64}, 10);
  EXPECT_EQ(fc.in_features(), 1024);
  EXPECT_EQ(fc.output_shape(), (ImageShape{1, 1, 10}));
  const std::vector<ParameterSpec> specs = fc.parameter_specs();
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].shape, (std::vector<int64_t>{1024, 10}));
  EXPECT_EQ(specs[0].fan_in, 1024);
  EXPECT_EQ(specs[1].shape, (std::vector<int64_t>{10}));
  EXPECT_EQ(fc.MultiplyAddsPerExample(), 10240);
}

TEST(FullyConnectedLayerTest, MatchesReferenceAndFiniteDifferences) {
  for (Implementation implementation : testing::Implementations()) {
    SCOPED_TRACE(testing::ImplementationName(implementation));
    const FullyConnectedLayer fc("fc", ImageShape{2, 3, 1}, 4, implementation);
    EXPECT_EQ(fc.implementation(), implementation);
    // MatchesReference checks the promise (a Network may then keep the output's gradient in its memory).
    EXPECT_FALSE(fc.BackwardReadsOutput());
    for (int64_t batch : {1, 3}) {
      const testing::LayerTestData data = MakeLayerTestData(fc, batch, InputValues::kGaussian, 2);
      EXPECT_TRUE(MatchesReference(fc, data, std::max<int64_t>(6, batch)));
      EXPECT_TRUE(MatchesFiniteDifferences(fc, data, std::max<int64_t>(6, batch)));
      EXPECT_TRUE(testing::WritesParameterGradientsExactly(fc, data));
    }
  }
}

TEST(FullyConnectedLayerTest, MatchesReferenceOnNetworkShapes) {
  struct Case {
    ImageShape input;
    int64_t out, batch;
  };
  for (Implementation implementation : testing::Implementations()) {
    SCOPED_TRACE(testing::ImplementationName(implementation));
    for (const Case& c : {Case{ImageShape{4, 4, 64}, 10, 5}, Case{ImageShape{28, 28, 1}, 300, 3},
                          Case{ImageShape{1, 1, 300}, 100, 70}, Case{ImageShape{1, 1, 64}, 10, 1}}) {
      const FullyConnectedLayer fc("fc", c.input, c.out, implementation);
      const testing::LayerTestData data = MakeLayerTestData(fc, c.batch, InputValues::kGaussian, 3);
      EXPECT_TRUE(MatchesReference(fc, data, std::max({c.input.size(), c.out, c.batch})));
      EXPECT_TRUE(testing::WritesParameterGradientsExactly(fc, data));
    }
  }
}

}  // namespace
}  // namespace parsity::nn
