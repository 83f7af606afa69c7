// Loads a data set exactly as training does (split, normalization) and prints what it holds: a quick check that a
// machine is set up. Human-readable lines on stderr, one JSON object as the last stdout line.
//
//   bazel run //experiments:inspect_data -- --dataset=fashion_mnist
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/base/json.h"
#include "tools/base/status_macros.h"
#include "training/data/dataset.h"

ABSL_FLAG(std::string, dataset, "mnist", "data set: mnist, fashion_mnist or cifar10");
ABSL_FLAG(std::string, data_dir, "", "directory of the data set's files (default: its install location)");

namespace parsity {
namespace {

JsonArray LabelHistogram(const data::Examples& examples) {
  std::vector<int64_t> counts(examples.num_classes, 0);
  for (const int32_t label : examples.labels) ++counts[label];
  JsonArray histogram;
  for (const int64_t count : counts) histogram.Add(count);
  return histogram;
}

JsonArray Floats(const std::vector<float>& values) {
  JsonArray array;
  for (const float value : values) array.Add(static_cast<double>(value));
  return array;
}

absl::Status Run() {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<data::Dataset> loaded = data::LoadDataset(absl::GetFlag(FLAGS_dataset), absl::GetFlag(FLAGS_data_dir));
  if (!loaded.ok()) {
    return absl::Status(loaded.status().code(), absl::StrCat("--dataset: ", loaded.status().message()));
  }
  const data::Dataset& dataset = *loaded;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "%s: %s examples; train %lld, validation %lld, test %lld; mean %s, stddev %s; %.2f s\n",
               dataset.name.c_str(), dataset.train.shape.ToString().c_str(),
               static_cast<long long>(dataset.train.size()), static_cast<long long>(dataset.validation.size()),
               static_cast<long long>(dataset.test.size()), absl::StrJoin(dataset.mean, ",").c_str(),
               absl::StrJoin(dataset.stddev, ",").c_str(), seconds);
  JsonObject summary;
  summary.Add("dataset", dataset.name).Add("shape", dataset.train.shape.ToString());
  summary.Add("train", dataset.train.size()).Add("validation", dataset.validation.size());
  summary.Add("test", dataset.test.size()).Add("mean", Floats(dataset.mean)).Add("stddev", Floats(dataset.stddev));
  summary.Add("train_label_histogram", LabelHistogram(dataset.train)).Add("load_seconds", seconds);
  std::cout << summary.ToString() << std::endl;
  return absl::OkStatus();
}

}  // namespace
}  // namespace parsity

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Loads a data set as training does and prints its sizes and statistics as JSON.");
  absl::ParseCommandLine(argc, argv);
  const absl::Status status = parsity::Run();
  if (!status.ok()) {
    std::fprintf(stderr, "inspect_data: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
