// What MPI ranks compare before training to prove they hold the same data: each rank loads its own copy of the data
// set (and of any sample drawn from it), and data-parallel training is only correct when the copies agree.
//
//   const std::vector<uint64_t> fingerprints = ExamplesFingerprints({&dataset.train, &dataset.validation});
//   RETURN_IF_ERROR(reducer->CheckBytesIdentical(fingerprints.data(), fingerprints.size() * sizeof(uint64_t),
//                                                "data sets (--dataset, --data_dir)"));
#ifndef PARSITY_EXPERIMENTS_DATA_FINGERPRINTS_H_
#define PARSITY_EXPERIMENTS_DATA_FINGERPRINTS_H_

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "training/data/examples.h"

namespace parsity::experiments {

// Two 64-bit fingerprints (distributed::Fingerprint64) per set of examples, its pixels' and its labels', in order.
std::vector<uint64_t> ExamplesFingerprints(std::initializer_list<const data::Examples*> sets);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_DATA_FINGERPRINTS_H_
