#include "training/nn/reference.h"

#include <algorithm>
#include <cmath>

#include "tools/base/check.h"
#include "training/nn/activation.h"
#include "training/nn/convolution.h"
#include "training/nn/fully_connected.h"
#include "training/nn/pooling.h"
#include "training/nn/residual.h"

namespace parsity::nn::reference {
namespace {

double Term(double value, Terms terms) { return terms == Terms::kAbsolute ? std::fabs(value) : value; }

// Offset of element (b, y, x, c) of a batch of `shape` examples.
int64_t At(const ImageShape& shape, int64_t b, int64_t y, int64_t x, int64_t c) {
  return ((b * shape.height + y) * shape.width + x) * shape.channels + c;
}

// Output size and padding before, straight from TensorFlow's documentation of conv2d / pooling.
struct Geometry {
  int64_t output = 0;
  int64_t pad_before = 0;
};

Geometry Along(int64_t input, int64_t kernel, int64_t stride, Padding padding) {
  Geometry geometry;
  if (padding == Padding::kValid) {
    geometry.output = (input - kernel) / stride + 1;
  } else {
    geometry.output = (input + stride - 1) / stride;
    geometry.pad_before = std::max<int64_t>((geometry.output - 1) * stride + kernel - input, 0) / 2;
  }
  return geometry;
}

struct ConvGeometry {
  ImageShape in;
  ImageShape out;
  int64_t kernel, stride, pad_top, pad_left;
};

ConvGeometry GeometryOf(const Conv2DLayer& conv) {
  const Conv2DOptions& options = conv.options();
  ConvGeometry g;
  g.in = conv.input_shapes()[0];
  g.kernel = options.kernel_size;
  g.stride = options.stride;
  const Geometry rows = Along(g.in.height, g.kernel, g.stride, options.padding);
  const Geometry columns = Along(g.in.width, g.kernel, g.stride, options.padding);
  g.out = ImageShape{rows.output, columns.output, options.out_channels};
  g.pad_top = rows.pad_before;
  g.pad_left = columns.pad_before;
  PARSITY_CHECK(conv.output_shape() == g.out);
  return g;
}

int64_t WeightIndex(const ConvGeometry& g, int64_t ky, int64_t kx, int64_t c, int64_t o) {
  return ((ky * g.kernel + kx) * g.in.channels + c) * g.out.channels + o;
}

Tensor ConvForward(const Conv2DLayer& conv, const Tensor& x, const Parameters& p, int64_t batch, Terms terms) {
  const ConvGeometry g = GeometryOf(conv);
  Tensor y(batch * g.out.size());
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t oy = 0; oy < g.out.height; ++oy) {
      for (int64_t ox = 0; ox < g.out.width; ++ox) {
        for (int64_t o = 0; o < g.out.channels; ++o) {
          double sum = Term(p.biases[o], terms);
          for (int64_t ky = 0; ky < g.kernel; ++ky) {
            for (int64_t kx = 0; kx < g.kernel; ++kx) {
              const int64_t iy = oy * g.stride - g.pad_top + ky;
              const int64_t ix = ox * g.stride - g.pad_left + kx;
              if (iy < 0 || iy >= g.in.height || ix < 0 || ix >= g.in.width) continue;
              for (int64_t c = 0; c < g.in.channels; ++c) {
                sum += Term(x[At(g.in, b, iy, ix, c)] * p.weights[WeightIndex(g, ky, kx, c, o)], terms);
              }
            }
          }
          y[At(g.out, b, oy, ox, o)] = sum;
        }
      }
    }
  }
  return y;
}

Gradients ConvBackward(const Conv2DLayer& conv, const Tensor& x, const Parameters& p, const Tensor& dy, int64_t batch,
                       Terms terms) {
  const ConvGeometry g = GeometryOf(conv);
  Gradients gradients;
  gradients.inputs.assign(1, Tensor(x.size(), 0.0));
  gradients.weights.assign(p.weights.size(), 0.0);
  gradients.biases.assign(p.biases.size(), 0.0);
  Tensor& dx = gradients.inputs[0];
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t oy = 0; oy < g.out.height; ++oy) {
      for (int64_t ox = 0; ox < g.out.width; ++ox) {
        for (int64_t o = 0; o < g.out.channels; ++o) {
          const double upstream = dy[At(g.out, b, oy, ox, o)];
          gradients.biases[o] += Term(upstream, terms);
          for (int64_t ky = 0; ky < g.kernel; ++ky) {
            for (int64_t kx = 0; kx < g.kernel; ++kx) {
              const int64_t iy = oy * g.stride - g.pad_top + ky;
              const int64_t ix = ox * g.stride - g.pad_left + kx;
              if (iy < 0 || iy >= g.in.height || ix < 0 || ix >= g.in.width) continue;
              for (int64_t c = 0; c < g.in.channels; ++c) {
                const int64_t w = WeightIndex(g, ky, kx, c, o);
                const int64_t i = At(g.in, b, iy, ix, c);
                dx[i] += Term(upstream * p.weights[w], terms);
                gradients.weights[w] += Term(upstream * x[i], terms);
              }
            }
          }
        }
      }
    }
  }
  return gradients;
}

Tensor FullyConnectedForward(const FullyConnectedLayer& fc, const Tensor& x, const Parameters& p, int64_t batch,
                             Terms terms) {
  const int64_t in = fc.input_shapes()[0].size();
  const int64_t out = fc.output_shape().size();
  Tensor y(batch * out);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t o = 0; o < out; ++o) {
      double sum = Term(p.biases[o], terms);
      for (int64_t i = 0; i < in; ++i) sum += Term(x[b * in + i] * p.weights[i * out + o], terms);
      y[b * out + o] = sum;
    }
  }
  return y;
}

Gradients FullyConnectedBackward(const FullyConnectedLayer& fc, const Tensor& x, const Parameters& p, const Tensor& dy,
                                 int64_t batch, Terms terms) {
  const int64_t in = fc.input_shapes()[0].size();
  const int64_t out = fc.output_shape().size();
  Gradients gradients;
  gradients.inputs.assign(1, Tensor(x.size(), 0.0));
  gradients.weights.assign(p.weights.size(), 0.0);
  gradients.biases.assign(p.biases.size(), 0.0);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t o = 0; o < out; ++o) {
      const double upstream = dy[b * out + o];
      gradients.biases[o] += Term(upstream, terms);
      for (int64_t i = 0; i < in; ++i) {
        gradients.inputs[0][b * in + i] += Term(upstream * p.weights[i * out + o], terms);
        gradients.weights[i * out + o] += Term(upstream * x[b * in + i], terms);
      }
    }
  }
  return gradients;
}

// Pooling over windows of `window` with `stride`, VALID.
struct PoolGeometry {
  ImageShape in;
  ImageShape out;
  int64_t window, stride;
};

PoolGeometry PoolGeometryOf(const Layer& layer, const PoolOptions& options) {
  PoolGeometry g;
  g.in = layer.input_shapes()[0];
  g.window = options.window;
  g.stride = options.stride;
  g.out = ImageShape{Along(g.in.height, g.window, g.stride, Padding::kValid).output,
                     Along(g.in.width, g.window, g.stride, Padding::kValid).output, g.in.channels};
  PARSITY_CHECK(layer.output_shape() == g.out);
  return g;
}

// The input index of the first maximum (strictly greater replaces) of the window of output (b, oy, ox, c).
int64_t ArgMax(const PoolGeometry& g, const Tensor& x, int64_t b, int64_t oy, int64_t ox, int64_t c) {
  int64_t best = At(g.in, b, oy * g.stride, ox * g.stride, c);
  for (int64_t ky = 0; ky < g.window; ++ky) {
    for (int64_t kx = 0; kx < g.window; ++kx) {
      const int64_t i = At(g.in, b, oy * g.stride + ky, ox * g.stride + kx, c);
      if (x[i] > x[best]) best = i;
    }
  }
  return best;
}

Tensor PoolForward(const Layer& layer, const PoolOptions& options, bool max, const Tensor& x, int64_t batch,
                   Terms terms) {
  const PoolGeometry g = PoolGeometryOf(layer, options);
  Tensor y(batch * g.out.size());
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t oy = 0; oy < g.out.height; ++oy) {
      for (int64_t ox = 0; ox < g.out.width; ++ox) {
        for (int64_t c = 0; c < g.out.channels; ++c) {
          double value = 0.0;
          if (max) {
            value = Term(x[ArgMax(g, x, b, oy, ox, c)], terms);
          } else {
            for (int64_t ky = 0; ky < g.window; ++ky) {
              for (int64_t kx = 0; kx < g.window; ++kx) {
                value += Term(x[At(g.in, b, oy * g.stride + ky, ox * g.stride + kx, c)], terms);
              }
            }
            value /= static_cast<double>(g.window * g.window);
          }
          y[At(g.out, b, oy, ox, c)] = value;
        }
      }
    }
  }
  return y;
}

Gradients PoolBackward(const Layer& layer, const PoolOptions& options, bool max, const Tensor& x, const Tensor& dy,
                       int64_t batch, Terms terms) {
  const PoolGeometry g = PoolGeometryOf(layer, options);
  Gradients gradients;
  gradients.inputs.assign(1, Tensor(x.size(), 0.0));
  Tensor& dx = gradients.inputs[0];
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t oy = 0; oy < g.out.height; ++oy) {
      for (int64_t ox = 0; ox < g.out.width; ++ox) {
        for (int64_t c = 0; c < g.out.channels; ++c) {
          const double upstream = Term(dy[At(g.out, b, oy, ox, c)], terms);
          if (max) {
            dx[ArgMax(g, x, b, oy, ox, c)] += upstream;
            continue;
          }
          for (int64_t ky = 0; ky < g.window; ++ky) {
            for (int64_t kx = 0; kx < g.window; ++kx) {
              dx[At(g.in, b, oy * g.stride + ky, ox * g.stride + kx, c)] +=
                  upstream / static_cast<double>(g.window * g.window);
            }
          }
        }
      }
    }
  }
  return gradients;
}

Tensor GlobalAveragePoolForward(const Layer& layer, const Tensor& x, int64_t batch, Terms terms) {
  const ImageShape in = layer.input_shapes()[0];
  PARSITY_CHECK(layer.output_shape() == (ImageShape{1, 1, in.channels}));
  Tensor y(batch * in.channels, 0.0);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t c = 0; c < in.channels; ++c) {
      double sum = 0.0;
      for (int64_t iy = 0; iy < in.height; ++iy) {
        for (int64_t ix = 0; ix < in.width; ++ix) sum += Term(x[At(in, b, iy, ix, c)], terms);
      }
      y[b * in.channels + c] = sum / static_cast<double>(in.height * in.width);
    }
  }
  return y;
}

Gradients GlobalAveragePoolBackward(const Layer& layer, const Tensor& dy, int64_t batch, Terms terms) {
  const ImageShape in = layer.input_shapes()[0];
  Gradients gradients;
  gradients.inputs.assign(1, Tensor(batch * in.size(), 0.0));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t iy = 0; iy < in.height; ++iy) {
      for (int64_t ix = 0; ix < in.width; ++ix) {
        for (int64_t c = 0; c < in.channels; ++c) {
          gradients.inputs[0][At(in, b, iy, ix, c)] =
              Term(dy[b * in.channels + c], terms) / static_cast<double>(in.height * in.width);
        }
      }
    }
  }
  return gradients;
}

Tensor ShortcutForward(const Layer& layer, const Tensor& x, int64_t batch, Terms terms) {
  const ImageShape in = layer.input_shapes()[0];
  const ImageShape out = layer.output_shape();
  PARSITY_CHECK(out.height == in.height / 2 && out.width == in.width / 2 && out.channels >= in.channels);
  Tensor y(batch * out.size(), 0.0);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t oy = 0; oy < out.height; ++oy) {
      for (int64_t ox = 0; ox < out.width; ++ox) {
        for (int64_t c = 0; c < in.channels; ++c) {
          double sum = 0.0;
          for (int64_t dy = 0; dy < 2; ++dy) {
            for (int64_t dx = 0; dx < 2; ++dx) sum += Term(x[At(in, b, 2 * oy + dy, 2 * ox + dx, c)], terms);
          }
          y[At(out, b, oy, ox, c)] = sum / 4.0;
        }
      }
    }
  }
  return y;
}

Gradients ShortcutBackward(const Layer& layer, const Tensor& dy, int64_t batch, Terms terms) {
  const ImageShape in = layer.input_shapes()[0];
  const ImageShape out = layer.output_shape();
  Gradients gradients;
  gradients.inputs.assign(1, Tensor(batch * in.size(), 0.0));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t iy = 0; iy < in.height; ++iy) {
      for (int64_t ix = 0; ix < in.width; ++ix) {
        for (int64_t c = 0; c < in.channels; ++c) {
          gradients.inputs[0][At(in, b, iy, ix, c)] = Term(dy[At(out, b, iy / 2, ix / 2, c)], terms) / 4.0;
        }
      }
    }
  }
  return gradients;
}

}  // namespace

Tensor Forward(const Layer& layer, const std::vector<const Tensor*>& inputs, const Parameters& parameters,
               int64_t batch, Terms terms) {
  PARSITY_CHECK(inputs.size() == layer.input_shapes().size());
  for (size_t j = 0; j < inputs.size(); ++j) {
    PARSITY_CHECK(static_cast<int64_t>(inputs[j]->size()) == batch * layer.input_shapes()[j].size());
  }
  const Tensor& x = *inputs[0];
  if (const auto* conv = dynamic_cast<const Conv2DLayer*>(&layer))
    return ConvForward(*conv, x, parameters, batch, terms);
  if (const auto* fc = dynamic_cast<const FullyConnectedLayer*>(&layer)) {
    return FullyConnectedForward(*fc, x, parameters, batch, terms);
  }
  if (const auto* pool = dynamic_cast<const MaxPoolLayer*>(&layer)) {
    return PoolForward(layer, pool->options(), /*max=*/true, x, batch, terms);
  }
  if (const auto* pool = dynamic_cast<const AveragePoolLayer*>(&layer)) {
    return PoolForward(layer, pool->options(), /*max=*/false, x, batch, terms);
  }
  if (dynamic_cast<const GlobalAveragePoolLayer*>(&layer) != nullptr) {
    return GlobalAveragePoolForward(layer, x, batch, terms);
  }
  if (dynamic_cast<const ShortcutLayer*>(&layer) != nullptr) return ShortcutForward(layer, x, batch, terms);
  if (dynamic_cast<const ReluLayer*>(&layer) != nullptr) {
    Tensor y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] > 0.0 ? Term(x[i], terms) : 0.0;
    return y;
  }
  if (dynamic_cast<const ResidualAddLayer*>(&layer) != nullptr) {
    Tensor y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = Term(x[i], terms) + Term((*inputs[1])[i], terms);
    return y;
  }
  PARSITY_CHECK(false && "no reference for this layer type");
  return {};
}

Gradients Backward(const Layer& layer, const std::vector<const Tensor*>& inputs, const Parameters& parameters,
                   const Tensor& output_gradient, int64_t batch, Terms terms) {
  PARSITY_CHECK(inputs.size() == layer.input_shapes().size());
  PARSITY_CHECK(static_cast<int64_t>(output_gradient.size()) == batch * layer.output_shape().size());
  const Tensor& x = *inputs[0];
  const Tensor& dy = output_gradient;
  if (const auto* conv = dynamic_cast<const Conv2DLayer*>(&layer)) {
    return ConvBackward(*conv, x, parameters, dy, batch, terms);
  }
  if (const auto* fc = dynamic_cast<const FullyConnectedLayer*>(&layer)) {
    return FullyConnectedBackward(*fc, x, parameters, dy, batch, terms);
  }
  if (const auto* pool = dynamic_cast<const MaxPoolLayer*>(&layer)) {
    return PoolBackward(layer, pool->options(), /*max=*/true, x, dy, batch, terms);
  }
  if (const auto* pool = dynamic_cast<const AveragePoolLayer*>(&layer)) {
    return PoolBackward(layer, pool->options(), /*max=*/false, x, dy, batch, terms);
  }
  if (dynamic_cast<const GlobalAveragePoolLayer*>(&layer) != nullptr) {
    return GlobalAveragePoolBackward(layer, dy, batch, terms);
  }
  if (dynamic_cast<const ShortcutLayer*>(&layer) != nullptr) return ShortcutBackward(layer, dy, batch, terms);
  Gradients gradients;
  if (dynamic_cast<const ReluLayer*>(&layer) != nullptr) {
    gradients.inputs.assign(1, Tensor(x.size()));
    for (size_t i = 0; i < x.size(); ++i) gradients.inputs[0][i] = x[i] > 0.0 ? Term(dy[i], terms) : 0.0;
    return gradients;
  }
  if (dynamic_cast<const ResidualAddLayer*>(&layer) != nullptr) {
    Tensor copy(dy.size());
    for (size_t i = 0; i < dy.size(); ++i) copy[i] = Term(dy[i], terms);
    gradients.inputs.assign(2, copy);
    return gradients;
  }
  PARSITY_CHECK(false && "no reference for this layer type");
  return {};
}

double SoftmaxCrossEntropy(const Tensor& logits, const std::vector<int32_t>& labels, int num_classes,
                           Tensor* logits_gradient) {
  const int64_t batch = static_cast<int64_t>(labels.size());
  PARSITY_CHECK(static_cast<int64_t>(logits.size()) == batch * num_classes);
  if (logits_gradient != nullptr) logits_gradient->assign(logits.size(), 0.0);
  long double loss = 0.0L;
  for (int64_t b = 0; b < batch; ++b) {
    long double exp_sum = 0.0L;
    for (int j = 0; j < num_classes; ++j) exp_sum += std::exp(static_cast<long double>(logits[b * num_classes + j]));
    loss += std::log(exp_sum) - logits[b * num_classes + labels[b]];
    if (logits_gradient == nullptr) continue;
    for (int j = 0; j < num_classes; ++j) {
      const long double probability = std::exp(static_cast<long double>(logits[b * num_classes + j])) / exp_sum;
      (*logits_gradient)[b * num_classes + j] = static_cast<double>(probability - (j == labels[b] ? 1.0L : 0.0L));
    }
  }
  return static_cast<double>(loss);
}

Parameters NodeParameters(const Network& network, int node, const Tensor& parameters) {
  const Network::Node& n = network.nodes()[node];
  Parameters result;
  for (const ParameterSpec& spec : n.layer->parameter_specs()) {
    int64_t size = 1;
    for (int64_t dimension : spec.shape) size *= dimension;
    const int64_t offset = spec.kind == ParameterKind::kWeights ? n.weights_offset : n.biases_offset;
    Tensor& target = spec.kind == ParameterKind::kWeights ? result.weights : result.biases;
    target.assign(parameters.begin() + offset, parameters.begin() + offset + size);
  }
  return result;
}

double NetworkLoss(const Network& network, const Tensor& parameters, const Tensor& inputs,
                   const std::vector<int32_t>& labels, Tensor* gradient) {
  const int64_t batch = static_cast<int64_t>(labels.size());
  PARSITY_CHECK(static_cast<int64_t>(parameters.size()) == network.parameter_count());
  const std::vector<Network::Node>& nodes = network.nodes();
  std::vector<Tensor> tensors(nodes.size() + 1);
  tensors[0] = inputs;
  std::vector<Parameters> node_parameters;
  for (size_t n = 0; n < nodes.size(); ++n) {
    node_parameters.push_back(NodeParameters(network, static_cast<int>(n), parameters));
    std::vector<const Tensor*> node_inputs;
    for (int tensor : nodes[n].inputs) node_inputs.push_back(&tensors[tensor]);
    tensors[n + 1] = Forward(*nodes[n].layer, node_inputs, node_parameters[n], batch);
  }
  std::vector<Tensor> tensor_gradients(nodes.size() + 1);
  const double loss =
      SoftmaxCrossEntropy(tensors.back(), labels, network.num_classes(), gradient ? &tensor_gradients.back() : nullptr);
  if (gradient == nullptr) return loss;
  gradient->assign(parameters.size(), 0.0);
  for (size_t t = 0; t + 1 < tensors.size(); ++t) tensor_gradients[t].assign(tensors[t].size(), 0.0);
  for (size_t n = nodes.size(); n-- > 0;) {
    std::vector<const Tensor*> node_inputs;
    for (int tensor : nodes[n].inputs) node_inputs.push_back(&tensors[tensor]);
    const Gradients g = Backward(*nodes[n].layer, node_inputs, node_parameters[n], tensor_gradients[n + 1], batch);
    for (size_t j = 0; j < nodes[n].inputs.size(); ++j) {
      Tensor& target = tensor_gradients[nodes[n].inputs[j]];
      for (size_t i = 0; i < target.size(); ++i) target[i] += g.inputs[j][i];
    }
    for (size_t i = 0; i < g.weights.size(); ++i) (*gradient)[nodes[n].weights_offset + i] += g.weights[i];
    for (size_t i = 0; i < g.biases.size(); ++i) (*gradient)[nodes[n].biases_offset + i] += g.biases[i];
  }
  return loss;
}

double CentralDifference(const std::function<double(const Tensor&)>& f, Tensor x, int64_t i, double h) {
  const double center = x[i];
  const double above = center + h;
  const double below = center - h;
  x[i] = above;
  const double f_above = f(x);
  x[i] = below;
  const double f_below = f(x);
  return (f_above - f_below) / (above - below);
}

}  // namespace parsity::nn::reference
