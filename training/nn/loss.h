// Softmax cross-entropy on logits, summed over the batch, computed stably through log-sum-exp.
//
//   double loss_sum = SoftmaxCrossEntropy(logits, labels, batch, 10, logits_gradient);
//   int64_t correct = CountCorrect(logits, labels, batch, 10);
//
// Math, per example i with logits z (num_classes floats) and label y:
//   loss_i = log(sum_j exp(z_j)) - z_y = m + log(sum_j exp(z_j - m)) - z_y,  m = max_j z_j (no overflow),
//   d loss_i / d z_j = softmax(z)_j - [j == y].
// Sums of losses are returned in double; per-example arithmetic is in double, gradients are rounded to float.
// NaN or infinite logits give a NaN or infinite loss (a diverged run must look diverged).
#ifndef PARSITY_TRAINING_NN_LOSS_H_
#define PARSITY_TRAINING_NN_LOSS_H_

#include <cstdint>

namespace parsity::nn {

// Returns sum_i loss_i over the `batch` examples of `logits` (batch x num_classes, row-major). When
// `logits_gradient` is not null, overwrites it (batch x num_classes) with d (sum_i loss_i) / d logits.
// REQUIRES: every label in [0, num_classes), num_classes >= 1 (a bad label aborts).
double SoftmaxCrossEntropy(const float* logits, const int32_t* labels, int64_t batch, int num_classes,
                           float* logits_gradient);

// The number of examples whose largest logit (the first, on ties) is at the label's index. With `correct_flags`
// (batch bytes) also writes 1 there for each such example and 0 for the others.
int64_t CountCorrect(const float* logits, const int32_t* labels, int64_t batch, int num_classes,
                     uint8_t* correct_flags = nullptr);

}  // namespace parsity::nn

#endif  // PARSITY_TRAINING_NN_LOSS_H_
