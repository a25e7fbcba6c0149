// Issue 8: a whole training step on the GPU against the same step on the host. A small
// classifier with every kind of encoder part (strided conv extractor, group norm, GELU, the
// [B, C, T] -> [B, T, C] transpose, layer norm, projection, transformer layers with dropout at
// every site, mean pooling, linear head), the BCE loss and the optimizer: three updates on each
// backend from the same parameters, data and dropout masks. The host side is the reference (its
// layers, loss and optimizer are proven by finite differences and PyTorch fixtures).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <ecgssl/core/parameter_store.hpp>
#include <ecgssl/core/philox.hpp>
#include <ecgssl/cuda/attention_kernels.cuh>
#include <ecgssl/cuda/bce_with_logits.cuh>
#include <ecgssl/cuda/conv1d_kernels.cuh>
#include <ecgssl/cuda/device_optimizer.cuh>
#include <ecgssl/cuda/device_parameters.cuh>
#include <ecgssl/cuda/device_tensor.cuh>
#include <ecgssl/cuda/elementwise_kernels.cuh>
#include <ecgssl/cuda/layout_kernels.cuh>
#include <ecgssl/cuda/linear_kernels.cuh>
#include <ecgssl/cuda/norm_kernels.cuh>
#include <ecgssl/loss/bce_with_logits.hpp>
#include <ecgssl/nn/conv1d.hpp>
#include <ecgssl/nn/gelu.hpp>
#include <ecgssl/nn/group_norm.hpp>
#include <ecgssl/nn/layer_norm.hpp>
#include <ecgssl/nn/linear.hpp>
#include <ecgssl/nn/repeat.hpp>
#include <ecgssl/nn/transformer_layer.hpp>
#include <ecgssl/optim/adam.hpp>
#include <ecgssl/optim/adamw.hpp>
#include <ecgssl/optim/fixed_schedule.hpp>
#include <ecgssl/optim/optimizer.hpp>
#include <ecgssl/optim/sgd.hpp>

#include "gpu_test_support.hpp"

namespace {

using ecgssl::device_tensor;
using ecgssl::tensor;

template <class T, std::size_t N>
tensor<T, N> random_tensor(const std::array<std::size_t, N>& shape, std::uint64_t stream, double scale = 1.0) {
  return gpu_test::random_tensor<T, N>(91, shape, stream, scale);
}
using gpu_test::relative_difference;
using gpu_test::tol;

// Host references of the layout kernels, written as the definitions.
template <class T>
tensor<T, 3> swap_last_axes(const tensor<T, 3>& x) {
  tensor<T, 3> y({x.shape()[0], x.shape()[2], x.shape()[1]});
  for (std::size_t b = 0; b < x.shape()[0]; ++b)
    for (std::size_t r = 0; r < x.shape()[1]; ++r)
      for (std::size_t c = 0; c < x.shape()[2]; ++c) y(b, c, r) = x(b, r, c);
  return y;
}
template <class T>
tensor<T, 2> mean_over_time(const tensor<T, 3>& x) {
  tensor<T, 2> y({x.shape()[0], x.shape()[2]});
  y.fill(T(0));
  for (std::size_t b = 0; b < x.shape()[0]; ++b)
    for (std::size_t t = 0; t < x.shape()[1]; ++t)
      for (std::size_t d = 0; d < x.shape()[2]; ++d) y(b, d) += x(b, t, d);
  for (auto& v : y) v /= static_cast<T>(x.shape()[1]);
  return y;
}

constexpr std::size_t leads = 3, channels = 8, dim = 16, classes = 5;

// The classifier on backend B. Activation and gradient buffers are members (reused per step).
template <class T, class B>
struct classifier {
  template <std::size_t N>
  using act = ecgssl::backend_tensor_t<T, N, B>;

  ecgssl::nn::conv1d<T, B> conv{ecgssl::nn::conv1d_options{leads, channels, 10, 5, 0, 1, 1, false}};
  ecgssl::nn::group_norm<T, B> norm{channels, channels};
  ecgssl::nn::gelu<T, B, 3> activation;
  ecgssl::nn::layer_norm<T, B, 3> feature_norm{channels};
  ecgssl::nn::linear<T, B, 3> projection{channels, dim};
  ecgssl::nn::repeat<ecgssl::nn::transformer_layer<T, B>> layers{2, [](std::size_t) {
    ecgssl::nn::transformer_layer_options o;
    o.dim = dim;
    o.heads = 2;
    o.ffn_dim = 32;
    o.dropout = 0.1;
    o.attention_dropout = 0.1;
    o.activation_dropout = 0.1;
    return ecgssl::nn::transformer_layer<T, B>(o);
  }};
  ecgssl::nn::linear<T, B, 2> head{dim, classes};
  ecgssl::bce_with_logits<T, B> loss{ecgssl::bce_normalization::mean};

  act<3> c, n, a, t, f, p, e, dc, dn, da, dt, df, dp, de, dx;
  act<2> pooled, logits, dpooled, dlogits;

  void declare(ecgssl::parameter_store<T>& store) {
    conv.declare_parameters(store, "conv.");
    norm.declare_parameters(store, "norm.");
    feature_norm.declare_parameters(store, "layer_norm.");
    projection.declare_parameters(store, "projection.");
    layers.declare_parameters(store, "layers.");
    head.declare_parameters(store, "head.");
    conv.set_input_gradient(false);  // x is data
  }

  // One forward + backward; returns the loss. Gradients accumulate into the store (or mirror).
  T step(const act<3>& x, const tensor<T, 2>& targets, const ecgssl::random_stream& rng) {
    layers.set_random_stream(rng);
    conv.forward(x, c);
    norm.forward(c, n);
    activation.forward(n, a);
    swap_axes(a, t);
    feature_norm.forward(t, f);
    projection.forward(f, p);
    layers.forward(p, e);
    pool(e, pooled);
    head.forward(pooled, logits);
    loss.set_targets(targets);
    const T value = loss.forward(logits);

    zeroed(dlogits, logits.shape());
    loss.backward(T(1), dlogits);
    zeroed(dpooled, pooled.shape());
    head.backward(dlogits, dpooled);
    zeroed(de, e.shape());
    pool_backward(dpooled, de);
    zeroed(dp, p.shape());
    layers.backward(de, dp);
    zeroed(df, f.shape());
    projection.backward(dp, df);
    zeroed(dt, t.shape());
    feature_norm.backward(df, dt);
    zeroed(da, a.shape());
    swap_axes_backward(dt, da);
    zeroed(dn, n.shape());
    activation.backward(da, dn);
    zeroed(dc, c.shape());
    norm.backward(dn, dc);
    zeroed(dx, x.shape());
    conv.backward(dc, dx);
    return value;
  }

  template <class Gradient, class Shape>
  static void zeroed(Gradient& g, const Shape& shape) {
    if constexpr (std::is_same_v<B, ecgssl::host>) {
      g.resize(shape);
      g.fill(T(0));
    } else {
      g.ensure_shape(shape);
      g.zero();
    }
  }
  static void swap_axes(const act<3>& x, act<3>& y) {
    if constexpr (std::is_same_v<B, ecgssl::host>) {
      y = swap_last_axes(x);
    } else {
      ecgssl::cuda_layout::swap_last_axes(x, y);
    }
  }
  static void swap_axes_backward(const act<3>& dy, act<3>& dx) {
    if constexpr (std::is_same_v<B, ecgssl::host>) {
      dx += swap_last_axes(dy);
    } else {
      ecgssl::cuda_layout::swap_last_axes_backward(dy, dx);
    }
  }
  static void pool(const act<3>& x, act<2>& y) {
    if constexpr (std::is_same_v<B, ecgssl::host>) {
      y = mean_over_time(x);
    } else {
      ecgssl::cuda_layout::mean_over_time(x, y);
    }
  }
  static void pool_backward(const act<2>& dy, act<3>& dx) {
    if constexpr (std::is_same_v<B, ecgssl::host>) {
      const auto frames = static_cast<T>(dx.shape()[1]);
      for (std::size_t b = 0; b < dx.shape()[0]; ++b)
        for (std::size_t t = 0; t < dx.shape()[1]; ++t)
          for (std::size_t d = 0; d < dx.shape()[2]; ++d) dx(b, t, d) += dy(b, d) / frames;
    } else {
      ecgssl::cuda_layout::mean_over_time_backward(dy, dx);
    }
  }
};

// Every entry but those whose exact gradient is zero (attention's key bias: softmax ignores a
// shift shared by all keys), whose updates are driven by rounding noise on both backends.
bool exact_gradient_is_zero(const std::string& name) { return name.find("k_proj.bias") != std::string::npos; }

template <class T, class Update>
void check_training_steps(Update update, ecgssl::optimizer_options options, bool with_groups) {
  classifier<T, ecgssl::host> h;
  classifier<T, ecgssl::cuda> d;
  ecgssl::parameter_store<T> hs;
  ecgssl::parameter_store<T> ds;
  h.declare(hs);
  d.declare(ds);
  hs.allocate();
  ds.allocate();
  REQUIRE(hs.size() == ds.size());
  const ecgssl::random_stream init(5, 9);
  for (std::size_t i = 0; i < hs.size(); ++i) hs.values()[i] = ds.values()[i] = static_cast<T>(init.uniform(i) - 0.5);
  ecgssl::device_parameters<T> mirror(ds);

  const double rate = 1e-3;
  ecgssl::optimizer<Update, ecgssl::fixed_schedule, T> host_opt(hs, update, {rate}, options);
  ecgssl::device_optimizer<Update, ecgssl::fixed_schedule, T> device_opt(ds, mirror, update, {rate}, options);
  if (with_groups) {
    // The fine-tuning set-up (spec §6.1): the extractor frozen, the head on a larger rate.
    for (auto group : {ecgssl::parameter_group{.name = "cnn", .prefixes = {"conv."}, .frozen = true},
                       ecgssl::parameter_group{.name = "head", .prefixes = {"head."}, .learning_rate_multiplier = 10.0,
                                               .weight_decay = 0.05}}) {
      host_opt.add_group(group);
      device_opt.add_group(group);
    }
  }

  const auto x = random_tensor<T, 3>({4, leads, 256}, 1);
  auto targets = random_tensor<T, 2>({4, classes}, 2);
  for (auto& v : targets) v = v > T(0) ? T(1) : T(0);
  const device_tensor<T, 3> device_x(x);

  for (int step = 0; step < 3; ++step) {
    INFO("update " << step);
    const ecgssl::random_stream rng(17, ecgssl::stream_id({2, static_cast<std::uint64_t>(step)}));
    hs.zero_grad();
    mirror.zero_grads();
    const T host_loss = h.step(x, targets, rng);
    const T device_loss = d.step(device_x, targets, rng);
    CHECK(std::abs(static_cast<double>(device_loss) - host_loss) <= tol<T>(1e-5, 1e-12) * std::abs(static_cast<double>(host_loss)));

    // The gradient of every parameter, before the update.
    mirror.download_grads(ds);
    double scale = 1e-30;
    for (std::size_t i = 0; i < hs.size(); ++i) scale = std::max(scale, std::abs(static_cast<double>(hs.grads()[i])));
    for (const auto& entry : hs.entries()) {
      INFO("gradient of " << entry.name);
      CHECK(relative_difference(ds.grads().data() + entry.offset, hs.grads().data() + entry.offset, entry.size,
                                scale) <= tol<T>(1e-4, 1e-10));
    }

    const double host_norm = host_opt.step();
    const double device_norm = device_opt.step();
    if (options.max_gradient_norm > 0 && step == 0) CHECK(host_norm > options.max_gradient_norm);  // clipping acts
    CHECK(std::abs(device_norm - host_norm) <= tol<T>(1e-5, 1e-12) * std::max(1.0, host_norm));
    CHECK(device_opt.step_count() == host_opt.step_count());
  }

  mirror.download_values(ds);
  for (const auto& entry : hs.entries()) {
    INFO("parameter " << entry.name);
    const T* device_values = ds.values().data() + entry.offset;
    const T* host_values = hs.values().data() + entry.offset;
    if (exact_gradient_is_zero(entry.name)) {
      // Noise-driven on both sides: each update moves an element by at most about the rate.
      for (std::size_t i = 0; i < entry.size; ++i) {
        CHECK(std::abs(static_cast<double>(device_values[i]) - host_values[i]) <= 2 * 3 * rate + 1e-6);
      }
      continue;
    }
    CHECK(relative_difference(device_values, host_values, entry.size, 0.5) <= tol<T>(2e-5, 1e-10));
  }
  if (with_groups) {
    // Frozen entries did not move on the device.
    const auto& conv = *hs.find("conv.weight");
    for (std::size_t i = 0; i < conv.size; ++i) {
      CHECK(ds.values()[conv.offset + i] == static_cast<T>(init.uniform(conv.offset + i) - 0.5));
    }
  }

  // The device state reaches a host optimizer (for checkpoints) equal to the host's own.
  ecgssl::optimizer<Update, ecgssl::fixed_schedule, T> restored(ds, update, {rate}, options);
  device_opt.download_state(restored);
  CHECK(restored.step_count() == 3);
  auto expected = host_opt.state_tensors();
  auto actual = restored.state_tensors();
  REQUIRE(actual.size() == expected.size());
  // Each kind of state (exp_avg, exp_avg_sq, momentum_buffer) is compared relative to its
  // largest element over the whole model, as the gradients are.
  const auto kind = [](const std::string& name) { return name.substr(0, name.find('.', name.find('.') + 1)); };
  for (std::size_t k = 0; k < actual.size(); ++k) {
    if (exact_gradient_is_zero(actual[k].name)) continue;
    INFO("state " << actual[k].name);
    REQUIRE(actual[k].name == expected[k].name);
    double mag = 1e-30;
    for (std::size_t j = 0; j < expected.size(); ++j) {
      if (kind(expected[j].name) != kind(expected[k].name) || exact_gradient_is_zero(expected[j].name)) continue;
      for (auto v : expected[j].values) mag = std::max(mag, std::abs(static_cast<double>(v)));
    }
    CHECK(relative_difference(actual[k].values.data(), expected[k].values.data(), actual[k].values.size(), mag) <=
          tol<T>(1e-4, 1e-9));
  }
}

}  // namespace

TEST_SUITE("with_device") {
  TEST_CASE_TEMPLATE("layout kernels on cuda: swapped axes and the mean over time, forward and backward", T,
                     float, double) {
    const auto x = random_tensor<T, 3>({3, 5, 7}, 11);
    const device_tensor<T, 3> dx_in(x);
    device_tensor<T, 3> swapped;
    ecgssl::cuda_layout::swap_last_axes(dx_in, swapped);
    const auto expected = swap_last_axes(x);
    CHECK(swapped.shape() == std::array<std::size_t, 3>{3, 7, 5});
    const auto got = swapped.to_host();
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got.data()[i] == expected.data()[i]);

    // Backward accumulates onto a non-zero start: start + swap(dy).
    const auto start = random_tensor<T, 3>({3, 5, 7}, 12);
    const auto dy = random_tensor<T, 3>({3, 7, 5}, 13);
    device_tensor<T, 3> grad(start);
    ecgssl::cuda_layout::swap_last_axes_backward(device_tensor<T, 3>(dy), grad);
    const auto back = grad.to_host();
    for (std::size_t b = 0; b < 3; ++b)
      for (std::size_t r = 0; r < 5; ++r)
        for (std::size_t c = 0; c < 7; ++c) CHECK(back(b, r, c) == start(b, r, c) + dy(b, c, r));

    device_tensor<T, 2> pooled;
    ecgssl::cuda_layout::mean_over_time(dx_in, pooled);
    const auto mean = mean_over_time(x);
    const auto pooled_host = pooled.to_host();
    for (std::size_t i = 0; i < mean.size(); ++i) {
      CHECK(std::abs(static_cast<double>(pooled_host.data()[i]) - mean.data()[i]) <= tol<T>(1e-6, 1e-15));
    }
    const auto dpool = random_tensor<T, 2>({3, 7}, 14);
    device_tensor<T, 3> dframes(start);
    ecgssl::cuda_layout::mean_over_time_backward(device_tensor<T, 2>(dpool), dframes);
    const auto dframes_host = dframes.to_host();
    for (std::size_t b = 0; b < 3; ++b)
      for (std::size_t t = 0; t < 5; ++t)
        for (std::size_t d = 0; d < 7; ++d) {
          CHECK(std::abs(static_cast<double>(dframes_host(b, t, d)) - (start(b, t, d) + dpool(b, d) / T(5))) <=
                tol<T>(1e-6, 1e-15));
        }
    device_tensor<T, 3> empty_frames(std::array<std::size_t, 3>{2, 0, 4});
    CHECK_THROWS_AS(ecgssl::cuda_layout::mean_over_time(empty_frames, pooled), ecgssl::shape_error);
  }

  TEST_CASE_TEMPLATE("a whole training step on cuda matches the host: fairseq Adam", T, float, double) {
    ecgssl::adam update;
    update.beta2 = 0.98;
    update.eps = 1e-6;
    update.weight_decay = 0.01;
    check_training_steps<T>(update, {}, false);
  }

  TEST_CASE_TEMPLATE("a whole training step on cuda matches the host: AdamW, frozen extractor, head group, clipping",
                     T, float, double) {
    ecgssl::adamw update;
    ecgssl::optimizer_options options;
    options.max_gradient_norm = 0.05;  // below the gradients' norm: clipping acts
    check_training_steps<T>(update, options, true);
  }

  TEST_CASE_TEMPLATE("a whole training step on cuda matches the host: SGD with Nesterov momentum", T, float,
                     double) {
    ecgssl::sgd update;
    update.momentum = 0.9;
    update.nesterov = true;
    update.weight_decay = 1e-4;
    check_training_steps<T>(update, {}, false);
  }
}  // TEST_SUITE with_device
