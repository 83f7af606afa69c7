// Learning-rate schedules from the paper: constant, or linear decay from lr0 to alpha lr0 over T steps, then flat.
// A Schedule is a small immutable value, validated once at creation.
//
//   ASSIGN_OR_RETURN(Schedule schedule, Schedule::LinearDecay(/*initial_learning_rate=*/0.1f,
//                                                             /*decay_steps=*/30000, /*end_factor=*/0.01f));
//   optimizer->Step(schedule.LearningRate(step), gradient, parameters);   // step = 0, 1, 2, ...
#ifndef PARSITY_TRAINING_OPTIMIZERS_SCHEDULE_H_
#define PARSITY_TRAINING_OPTIMIZERS_SCHEDULE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace parsity::optimizers {

// A schedule by name. The zero defaults are invalid on purpose: set every field the named schedule uses; fields it
// does not use are ignored and not validated.
struct ScheduleConfig {
  std::string name = "constant";    // One of ScheduleNames().
  float initial_learning_rate = 0;  // lr0, both schedules: finite, > 0.
  int64_t decay_steps = 0;          // T, "linear_decay": >= 1.
  float end_factor = 0;             // alpha, "linear_decay": in (0, 1].
};

// "constant", "linear_decay".
absl::Span<const absl::string_view> ScheduleNames();

class Schedule {
 public:
  // Creates the schedule `config.name`. Errors: InvalidArgument naming the field and value (an unknown name lists
  // ScheduleNames()).
  static absl::StatusOr<Schedule> Create(const ScheduleConfig& config);

  // lr(t) = lr0. Errors: InvalidArgument unless initial_learning_rate is finite and > 0.
  static absl::StatusOr<Schedule> Constant(float initial_learning_rate);

  // lr(t) = lr0 (1 - (1 - alpha) min(t, T) / T): lr0 at t = 0, alpha lr0 from t = T on.
  // Errors: InvalidArgument unless initial_learning_rate is finite and > 0, decay_steps >= 1 and end_factor is in
  // (0, 1].
  static absl::StatusOr<Schedule> LinearDecay(float initial_learning_rate, int64_t decay_steps, float end_factor);

  // The learning rate for the update at step t; t counts updates from 0 (the first update uses lr0). Computed in
  // double, rounded to float once. REQUIRES: step >= 0 (checked).
  float LearningRate(int64_t step) const;

  // "constant" or "linear_decay".
  absl::string_view name() const { return decay_steps_ == 0 ? "constant" : "linear_decay"; }
  float initial_learning_rate() const { return initial_learning_rate_; }
  // T, or 0 for a constant schedule.
  int64_t decay_steps() const { return decay_steps_; }
  // alpha, or 1 for a constant schedule.
  float end_factor() const { return end_factor_; }

 private:
  Schedule(float initial_learning_rate, int64_t decay_steps, float end_factor)
      : initial_learning_rate_(initial_learning_rate), decay_steps_(decay_steps), end_factor_(end_factor) {}

  float initial_learning_rate_;
  int64_t decay_steps_;  // 0: constant.
  float end_factor_;
};

}  // namespace parsity::optimizers

#endif  // PARSITY_TRAINING_OPTIMIZERS_SCHEDULE_H_
