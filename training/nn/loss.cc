#include "training/nn/loss.h"

#include <cmath>

#include "tools/base/check.h"

namespace parsity::nn {

double SoftmaxCrossEntropy(const float* logits, const int32_t* labels, int64_t batch, int num_classes,
                           float* logits_gradient) {
  PARSITY_CHECK(num_classes >= 1);
  double loss_sum = 0.0;
  for (int64_t example = 0; example < batch; ++example) {
    const float* z = logits + example * num_classes;
    const int32_t label = labels[example];
    PARSITY_CHECK(label >= 0 && label < num_classes);
    double maximum = z[0];
    for (int j = 1; j < num_classes; ++j) maximum = z[j] > maximum ? z[j] : maximum;
    double exp_sum = 0.0;
    for (int j = 0; j < num_classes; ++j) exp_sum += std::exp(z[j] - maximum);
    const double log_sum_exp = maximum + std::log(exp_sum);
    loss_sum += log_sum_exp - z[label];
    if (logits_gradient != nullptr) {
      float* gradient = logits_gradient + example * num_classes;
      for (int j = 0; j < num_classes; ++j) {
        const double probability = std::exp(z[j] - log_sum_exp);
        gradient[j] = static_cast<float>(j == label ? probability - 1.0 : probability);
      }
    }
  }
  return loss_sum;
}

int64_t CountCorrect(const float* logits, const int32_t* labels, int64_t batch, int num_classes,
                     uint8_t* correct_flags) {
  int64_t correct = 0;
  for (int64_t example = 0; example < batch; ++example) {
    const float* z = logits + example * num_classes;
    int best = 0;
    for (int j = 1; j < num_classes; ++j) {
      if (z[j] > z[best]) best = j;
    }
    const bool is_correct = best == labels[example];
    if (correct_flags != nullptr) correct_flags[example] = is_correct ? 1 : 0;
    correct += is_correct ? 1 : 0;
  }
  return correct;
}

}  // namespace parsity::nn
