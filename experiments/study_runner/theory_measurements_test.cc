#include "experiments/study_runner/theory_measurements.h"

#include <vector>

#include "gtest/gtest.h"

namespace parsity::experiments {
namespace {

StudyRecord Record(const char* optimizer, double sparsity, int64_t batch_size, int best_trial) {
  StudyRecord record;
  record.set_dataset("mnist");
  record.set_model("simple_cnn");
  record.set_optimizer(optimizer);
  record.set_sparsity(sparsity);
  record.set_batch_size(batch_size);
  record.set_best_trial(best_trial);
  return record;
}

// One output folder may hold two workloads that differ only in their optimizer; the theory step must retrain its own
// workload's best trial, not the other's.
TEST(FindStudyRecordTest, MatchesTheOptimizerToo) {
  const std::vector<StudyRecord> records = {Record("sgd", 0.9, 32, 3), Record("momentum", 0.9, 32, 7),
                                            Record("sgd", 0, 32, 1), Record("sgd", 0.9, 64, 2)};
  StudySpec spec;
  spec.set_dataset("mnist");
  spec.set_network("simple_cnn");
  spec.mutable_optimizer()->set_name("sgd");
  const StudyRecord* found = FindStudyRecord(records, spec, 0.9, 32);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->best_trial(), 3);
  spec.mutable_optimizer()->set_name("momentum");
  found = FindStudyRecord(records, spec, 0.9, 32);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->best_trial(), 7);
  spec.mutable_optimizer()->set_name("adam");
  EXPECT_EQ(FindStudyRecord(records, spec, 0.9, 32), nullptr);
  spec.mutable_optimizer()->set_name("sgd");
  EXPECT_EQ(FindStudyRecord(records, spec, 0.5, 32), nullptr);
  spec.set_network("resnet8");
  EXPECT_EQ(FindStudyRecord(records, spec, 0.9, 32), nullptr);
}

TEST(FindStudyRecordTest, TwoRecordsOfOneStudyAreAmbiguous) {
  StudySpec spec;
  spec.set_dataset("mnist");
  spec.set_network("simple_cnn");
  spec.mutable_optimizer()->set_name("sgd");
  EXPECT_EQ(FindStudyRecord({Record("sgd", 0.9, 32, 3), Record("sgd", 0.9, 32, 4)}, spec, 0.9, 32), nullptr);
}

}  // namespace
}  // namespace parsity::experiments
