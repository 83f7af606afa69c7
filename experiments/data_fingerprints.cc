#include "experiments/data_fingerprints.h"

#include "training/distributed/mpi_gradient_reducer.h"

namespace parsity::experiments {

std::vector<uint64_t> ExamplesFingerprints(std::initializer_list<const data::Examples*> sets) {
  std::vector<uint64_t> fingerprints;
  for (const data::Examples* examples : sets) {
    fingerprints.push_back(
        distributed::Fingerprint64(examples->pixels.data(), examples->pixels.size() * sizeof(float)));
    fingerprints.push_back(
        distributed::Fingerprint64(examples->labels.data(), examples->labels.size() * sizeof(int32_t)));
  }
  return fingerprints;
}

}  // namespace parsity::experiments
