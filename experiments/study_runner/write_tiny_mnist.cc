// Writes the tiny MNIST-shaped data set of tiny_mnist.h for shell tests: write_tiny_mnist DIR [TRAIN [TEST]].
#include <cstdio>
#include <cstdlib>
#include <string>

#include "experiments/study_runner/tiny_mnist.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: write_tiny_mnist DIR [TRAIN_COUNT [TEST_COUNT]]\n");
    return 2;
  }
  const int train = argc > 2 ? std::atoi(argv[2]) : 600;
  const int test = argc > 3 ? std::atoi(argv[3]) : 100;
  const absl::Status status = parsity::experiments::WriteTinyMnist(argv[1], train, test);
  if (!status.ok()) {
    std::fprintf(stderr, "write_tiny_mnist: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
