#include "theory/trajectory_measurement.h"

#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"
#include "training/data/synthetic_examples.h"
#include "training/nn/networks.h"

namespace parsity::theory {
namespace {

class TrajectoryMeasurementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(network_, nn::CreateNetwork("lenet_300_100"));
    dataset_ = data::MakePatchDataset(600, 100, /*mislabel_every=*/50);
    parameters_.resize(network_->parameter_count());
    std::mt19937_64 engine(3);
    network_->Initialize(engine, absl::MakeSpan(parameters_));
    next_ = parameters_;
    for (size_t i = 0; i < next_.size(); i += 7) next_[i] += 1e-3f;
  }

  std::unique_ptr<nn::Network> network_;
  data::Dataset dataset_;
  std::vector<float> parameters_, next_;
};

TEST_F(TrajectoryMeasurementTest, SampleIsAShuffledPrefixOrTheWholeSet) {
  data::Examples storage;
  std::mt19937_64 engine(5);
  EXPECT_EQ(SampleExamples(dataset_.train, 0, engine, &storage), &dataset_.train);
  EXPECT_EQ(SampleExamples(dataset_.train, 600, engine, &storage), &dataset_.train);
  EXPECT_EQ(engine(), std::mt19937_64(5)());  // The whole set draws nothing.
  std::mt19937_64 first(9), second(9);
  const data::Examples* sample = SampleExamples(dataset_.train, 50, first, &storage);
  ASSERT_EQ(sample, &storage);
  EXPECT_EQ(sample->size(), 50);
  data::Examples again;
  SampleExamples(dataset_.train, 50, second, &again);
  EXPECT_EQ(sample->labels, again.labels);
  EXPECT_EQ(sample->pixels, again.pixels);
}

// The hook measures exactly at the due steps, with the caller's seeds, and gives what the estimators give when
// called directly on the same oracles.
TEST_F(TrajectoryMeasurementTest, MeasuresAtDueStepsAsTheEstimatorsDo) {
  data::Examples storage;
  std::mt19937_64 engine(1);
  const data::Examples* sample = SampleExamples(dataset_.train, 200, engine, &storage);
  ASSERT_OK_AND_ASSIGN(TrajectoryOracles oracles,
                       CreateTrajectoryOracles(network_.get(), sample, &dataset_.train, nullptr, {.threads = 1}));
  TrajectorySchedule schedule;
  schedule.lipschitz_interval = 4;
  schedule.hessian = true;
  schedule.hessian_options.max_iterations = 5;
  schedule.noise_interval = 6;
  schedule.noise_sample = 50;
  schedule.two_batch = {{8, 32}};
  schedule.two_batch_pairs = 3;
  int seed_calls = 0;
  std::vector<TrajectoryMeasurement> measured;
  auto hook = TrajectoryMeasurementHook(
      &oracles, schedule,
      [&] {
        ++seed_calls;
        return MeasurementSeeds{.hessian = 11, .noise = 22, .two_batch = 33};
      },
      [&](const TrajectoryMeasurement& m) { measured.push_back(m); });
  // The trainer's after_step_due: the hook measures exactly at the steps it names.
  const std::function<bool(int64_t)> due = TrajectoryMeasurementDue(schedule);
  for (int64_t step = 1; step <= 12; ++step) {
    const size_t before = measured.size();
    hook(step, parameters_, next_);
    EXPECT_EQ(measured.size() > before, due(step)) << "step " << step;
  }
  // Due: 4 (L), 6 (noise), 8 (L), 12 (both).
  ASSERT_EQ(measured.size(), 4u);
  EXPECT_EQ(seed_calls, 4);
  const int64_t steps[] = {4, 6, 8, 12};
  for (size_t i = 0; i < 4; ++i) {
    const TrajectoryMeasurement& m = measured[i];
    EXPECT_EQ(m.step, steps[i]);
    EXPECT_EQ(m.lipschitz.has_value(), m.step % 4 == 0);
    EXPECT_EQ(m.hessian.has_value(), m.step % 4 == 0);
    EXPECT_EQ(m.noise.has_value(), m.step % 6 == 0);
    EXPECT_EQ(m.two_batch.has_value(), m.step % 6 == 0);
    EXPECT_TRUE(m.failures.empty());
  }
  ASSERT_OK_AND_ASSIGN(const TrajectoryLipschitzEstimate lipschitz,
                       EstimateTrajectoryLipschitz(*oracles.full, parameters_, next_));
  EXPECT_EQ(measured[0].lipschitz->lipschitz, lipschitz.lipschitz);
  ASSERT_OK_AND_ASSIGN(const GradientNoiseEstimate noise,
                       EstimateGradientNoise(*oracles.noise_mean, parameters_, {.sample_size = 50, .seed = 22}));
  EXPECT_EQ(measured[1].noise->covariance_trace, noise.covariance_trace);
  ASSERT_OK_AND_ASSIGN(const HessianEigenvalueEstimate hessian,
                       EstimateHessianTopEigenvalue(*oracles.full, parameters_,
                                                            {.max_iterations = 5, .seed = 11}));
  EXPECT_EQ(measured[0].hessian->eigenvalue, hessian.eigenvalue);
  // Later Hessian estimates start from the previous eigenvector (a warm start), not from the seed.
  EXPECT_EQ(measured[2].hessian->iterations <= 5, true);
}

TEST_F(TrajectoryMeasurementTest, AFailedEstimateIsReportedAndTheOthersStillRun) {
  ASSERT_OK_AND_ASSIGN(TrajectoryOracles oracles, CreateTrajectoryOracles(network_.get(), &dataset_.train,
                                                                          &dataset_.train, nullptr, {.threads = 1}));
  TrajectorySchedule schedule;
  schedule.lipschitz_interval = 1;
  schedule.noise_interval = 1;
  schedule.noise_sample = 1;  // Below the estimator's minimum of 2: its error is reported.
  std::vector<TrajectoryMeasurement> measured;
  auto hook = TrajectoryMeasurementHook(&oracles, schedule, [] { return MeasurementSeeds{}; },
                                        [&](const TrajectoryMeasurement& m) { measured.push_back(m); });
  hook(1, parameters_, next_);
  ASSERT_EQ(measured.size(), 1u);
  EXPECT_TRUE(measured[0].lipschitz.has_value());
  EXPECT_FALSE(measured[0].noise.has_value());
  ASSERT_EQ(measured[0].failures.size(), 1u);
  EXPECT_EQ(measured[0].failures[0].first, "gradient noise");
}

}  // namespace
}  // namespace parsity::theory
