#include "training/optimizers/optimizer_factory.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/nn/mask.h"

namespace parsity::optimizers {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

OptimizerConfig ConfigNamed(absl::string_view name) {
  OptimizerConfig config;
  config.name = std::string(name);
  return config;
}

TEST(OptimizerFactoryTest, CreatesEveryListedOptimizerUnderItsName) {
  EXPECT_THAT(OptimizerNames(), ElementsAre("sgd", "momentum", "nesterov", "adam"));
  const nn::Mask mask = nn::Mask::AllKept(10);
  for (const absl::string_view name : OptimizerNames()) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Optimizer> optimizer, CreateOptimizer(ConfigNamed(name), 10, &mask));
    EXPECT_EQ(optimizer->name(), name);
    EXPECT_EQ(optimizer->size(), 10);
    ASSERT_NE(optimizer->mask(), nullptr);
    EXPECT_EQ(optimizer->mask()->size(), 10);
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Optimizer> unmasked, CreateOptimizer(ConfigNamed(name), 10, nullptr));
    EXPECT_EQ(unmasked->mask(), nullptr);
  }
}

TEST(OptimizerFactoryTest, UnknownNameListsTheKnownNames) {
  EXPECT_THAT(CreateOptimizer(ConfigNamed("adagrad"), 10, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"adagrad\" is unknown; expected one of: sgd, momentum, nesterov, adam")));
}

TEST(OptimizerFactoryTest, RejectsBadShapesForEveryOptimizer) {
  const nn::Mask mask = nn::Mask::AllKept(9);
  for (const absl::string_view name : OptimizerNames()) {
    EXPECT_THAT(CreateOptimizer(ConfigNamed(name), 0, nullptr),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parameter_count must be positive; got 0")))
        << name;
    EXPECT_THAT(CreateOptimizer(ConfigNamed(name), 10, &mask),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Mask size 9")))
        << name;
  }
}

TEST(OptimizerFactoryTest, RejectsBadMetaparametersNamingTheFieldAndValue) {
  for (const absl::string_view name : {"momentum", "nesterov"}) {
    OptimizerConfig config = ConfigNamed(name);
    config.momentum = 1.0f;
    EXPECT_THAT(CreateOptimizer(config, 10, nullptr),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("momentum must be in [0, 1); got 1")));
    config.momentum = -0.25f;
    EXPECT_THAT(CreateOptimizer(config, 10, nullptr),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("momentum must be in [0, 1); got -0.25")));
  }
  OptimizerConfig adam = ConfigNamed("adam");
  adam.beta1 = 1.5f;
  EXPECT_THAT(CreateOptimizer(adam, 10, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beta1 must be in [0, 1); got 1.5")));
  adam = ConfigNamed("adam");
  adam.beta2 = 1.0f;
  EXPECT_THAT(CreateOptimizer(adam, 10, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("beta2 must be in [0, 1); got 1")));
  adam = ConfigNamed("adam");
  adam.epsilon = -1e-8f;
  EXPECT_THAT(CreateOptimizer(adam, 10, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("epsilon must be finite and > 0; got -1e-08")));
}

TEST(OptimizerFactoryTest, FieldsTheOptimizerDoesNotUseAreNotValidated) {
  OptimizerConfig sgd = ConfigNamed("sgd");
  sgd.momentum = 7.0f;
  sgd.epsilon = 0.0f;
  EXPECT_THAT(CreateOptimizer(sgd, 10, nullptr), IsOk());
  OptimizerConfig momentum = ConfigNamed("momentum");
  momentum.beta1 = 2.0f;
  EXPECT_THAT(CreateOptimizer(momentum, 10, nullptr), IsOk());
}

}  // namespace
}  // namespace parsity::optimizers
