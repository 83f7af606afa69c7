// The check of a whole result tree before a report aggregates it: every finished trial against its digest (or,
// for legacy trials, the agreement of its files), and every study.json against its trials.
#ifndef PARSITY_EXPERIMENTS_STUDY_RUNNER_STORE_VERIFICATION_H_
#define PARSITY_EXPERIMENTS_STUDY_RUNNER_STORE_VERIFICATION_H_

#include <string>

#include "absl/status/statusor.h"

namespace parsity::experiments {

// What VerifyStore found.
struct StoreVerification {
  int studies = 0;              // study.json files whose trials were checked.
  int trials = 0;               // Finished trials checked in them.
  int verified = 0;             // ... by their digests.
  int legacy = 0;               // ... without digests, by the agreement of their files.
  int damaged_moved_aside = 0;  // <trial>.damaged.<time> folders beside them (moved aside by a resume, retrained).
};

// Checks, for every study.json under `root` (FindStudyFiles, result_store.h), each finished trial of its folder
// (CheckStoredTrial without an expected TrialSpec, adopting nothing) and, when the folder holds trial folders at all,
// that trials 0 .. "trials" - 1 are all stored and give the study.json's steps_to_result, best_trial and status
// counts (AggregateStudy). A study.json without any trial folder (a hand-written fixture, a tree copied without its
// trials) is taken as is. Errors: DataLoss naming each damaged trial (up to 10) with its problem, or the study.json
// that disagrees with its trials, and saying to rerun the study (which moves damaged trials aside and retrains them);
// those of reading the files.
absl::StatusOr<StoreVerification> VerifyStore(const std::string& root);

}  // namespace parsity::experiments

#endif  // PARSITY_EXPERIMENTS_STUDY_RUNNER_STORE_VERIFICATION_H_
