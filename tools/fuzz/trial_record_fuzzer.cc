// Fuzz target: the trial-record parser, i.e. experiments/study_runner/result_store.h's ParseJson of a trial's
// metadata.json into a TrialRecord (what a resumed study reads back), and what a resume does next with the parsed
// TrialSpec (TrialFingerprint, TrialSpecDifferences). Besides not crashing: a rejected file gives DataLoss naming it,
// and an accepted record survives a JSON round trip (protobuf's writer, then ParseJson) unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "experiments/study_runner/records.pb.h"
#include "experiments/study_runner/result_store.h"
#include "experiments/study_runner/trial.h"
#include "google/protobuf/util/field_comparator.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "tools/fuzz/fuzz_check.h"

namespace {

using parsity::experiments::TrialRecord;

constexpr char kPath[] = "fuzz/0/metadata.json";

bool Equivalent(const TrialRecord& a, const TrialRecord& b) {
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differencer;
  differencer.set_field_comparator(&comparator);
  return differencer.Compare(a, b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  TrialRecord record;
  const absl::Status status = parsity::experiments::ParseJson(json, &record, kPath);
  if (!status.ok()) {
    parsity::fuzz::Log(status.ToString());
    FUZZ_CHECK(absl::IsDataLoss(status) && absl::StrContains(status.message(), kPath), status.ToString());
    return 0;
  }
  // Unknown enum numbers land in unknown fields, which JSON cannot write back.
  record.DiscardUnknownFields();
  std::string written;
  const auto write_status = google::protobuf::util::MessageToJsonString(record, &written);
  FUZZ_CHECK(write_status.ok(), std::string(write_status.message()));
  TrialRecord again;
  const absl::Status reparse = parsity::experiments::ParseJson(written, &again, kPath);
  FUZZ_CHECK(reparse.ok(), absl::StrCat(reparse.ToString(), " for ", written));
  FUZZ_CHECK(Equivalent(record, again), absl::StrCat("round trip changed the record: ", record.ShortDebugString(),
                                                     " -> ", written, " -> ", again.ShortDebugString()));
  if (record.has_trial_spec()) {
    FUZZ_CHECK(parsity::experiments::TrialFingerprint(record.trial_spec()).size() == 16, "fingerprint");
    (void)parsity::experiments::TrialSpecDifferences(record.trial_spec(), parsity::experiments::TrialSpec());
    (void)parsity::experiments::TrialSpecDifferences(parsity::experiments::TrialSpec(), record.trial_spec());
  }
  return 0;
}
