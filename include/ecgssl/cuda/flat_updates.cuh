#pragma once
/// \file flat_updates.cuh
/// Optimizer updates over a model's flat parameter buffer (spec §5: Adam as fairseq implements
/// it; torch's Adam with L2 weight decay, AdamW, SGD with momentum) written with thrust, so the
/// same code runs on the GPU (nvcc) and, compiled by g++ with THRUST_DEVICE_SYSTEM=CPP, on the
/// host where CI tests it. The per-element formulas mirror include/ecgssl/optim/{adam, adamw,
/// sgd}.hpp term for term. Pointers are DEVICE pointers of the thrust device system (raw, so
/// device_buffer and thrust::device_vector storage both work); pass an execution policy such as
/// thrust::cuda::par.on(stream) to choose the stream.

#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../core/config.hpp"
#include "../optim/adam.hpp"
#include "../optim/adamw.hpp"
#include "../optim/sgd.hpp"

namespace ecgssl::flat_ops {

/// Where eps goes and how weight decay acts.
enum class adam_form {
  fairseq,  ///< p -= lr·wd·p first; denom = sqrt(v) + eps; step = lr·sqrt(1-β2^t)/(1-β1^t)
  pytorch,  ///< g += wd·p (L2); denom = sqrt(v)/sqrt(1-β2^t) + eps; step = lr/(1-β1^t)
  adamw,    ///< p ← p·(1 - lr·wd) (decoupled); denom and step as pytorch
};

/// Hyper-parameters of an Adam-family update (defaults: spec §5 pre-training).
struct adam_settings {
  double beta1 = 0.9;
  double beta2 = 0.98;
  double eps = 1e-6;
  double weight_decay = 0.01;
  double gradient_scale = 1.0;  ///< applied to every gradient as it is read
  adam_form form = adam_form::fairseq;
};

/// SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD).
struct sgd_settings {
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  double gradient_scale = 1.0;
};

/// The flat-buffer settings of the optim/ update policies (their hyper-parameters, the weight
/// decay and the per-step gradient_scale the optimizer sets), so a device optimizer can drive
/// adam_update / sgd_update from the same ecgssl::adam / adamw / sgd objects as the host.
inline adam_settings settings_of(const ecgssl::adam& a) {
  return {a.beta1, a.beta2, a.eps, a.weight_decay, a.gradient_scale,
          a.variant == ecgssl::adam_variant::fairseq ? adam_form::fairseq : adam_form::pytorch};
}
inline adam_settings settings_of(const ecgssl::adamw& a) {
  return {a.beta1, a.beta2, a.eps, a.weight_decay, a.gradient_scale, adam_form::adamw};
}
inline sgd_settings settings_of(const ecgssl::sgd& s) {
  return {s.momentum, s.dampening, s.weight_decay, s.nesterov, s.gradient_scale};
}

namespace detail {

/// One Adam-family update of element i, coefficients precomputed on the host per step.
template <class T>
struct adam_element {
  T* p;
  const T* g;
  T* m;
  T* v;
  T b1, b2, one_minus_b1, one_minus_b2, eps, scale, step_size, decay, inv_sqrt_correction2, wd;
  adam_form form;

  ECGSSL_HOST_DEVICE void operator()(std::size_t i) const {
    using std::sqrt;
    if (form == adam_form::fairseq) {
      const T gi = g[i] * scale;
      m[i] = m[i] * b1 + one_minus_b1 * gi;
      v[i] = v[i] * b2 + one_minus_b2 * gi * gi;
      p[i] = p[i] * decay - step_size * m[i] / (sqrt(v[i]) + eps);
    } else if (form == adam_form::pytorch) {
      const T gi = g[i] * scale + wd * p[i];
      m[i] = m[i] * b1 + one_minus_b1 * gi;
      v[i] = v[i] * b2 + one_minus_b2 * gi * gi;
      p[i] = p[i] - step_size * m[i] / (sqrt(v[i]) * inv_sqrt_correction2 + eps);
    } else {
      const T gi = g[i] * scale;
      const T pi = p[i] * decay;
      m[i] = m[i] * b1 + one_minus_b1 * gi;
      v[i] = v[i] * b2 + one_minus_b2 * gi * gi;
      p[i] = pi - step_size * m[i] / (sqrt(v[i]) * inv_sqrt_correction2 + eps);
    }
  }
};

/// One SGD update of element i.
template <class T>
struct sgd_element {
  T* p;
  const T* g;
  T* b;
  T lr, wd, mu, keep, scale;
  bool first, nesterov, use_momentum;

  ECGSSL_HOST_DEVICE void operator()(std::size_t i) const {
    if (!use_momentum) {
      p[i] -= lr * (g[i] * scale + wd * p[i]);
      return;
    }
    T d = g[i] * scale + wd * p[i];
    b[i] = first ? d : mu * b[i] + keep * d;
    d = nesterov ? d + mu * b[i] : b[i];
    p[i] -= lr * d;
  }
};

/// The per-step coefficients of an Adam-family update (host side, double precision).
template <class T>
adam_element<T> make_adam_element(T* params, const T* grads, T* exp_avg, T* exp_avg_sq,
                                  const adam_settings& s, double learning_rate, std::int64_t step) {
  const auto t = static_cast<double>(step);
  const double correction1 = 1.0 - std::pow(s.beta1, t);
  const double correction2 = 1.0 - std::pow(s.beta2, t);
  adam_element<T> e{};
  e.p = params;
  e.g = grads;
  e.m = exp_avg;
  e.v = exp_avg_sq;
  e.b1 = static_cast<T>(s.beta1);
  e.b2 = static_cast<T>(s.beta2);
  e.one_minus_b1 = static_cast<T>(1.0 - s.beta1);
  e.one_minus_b2 = static_cast<T>(1.0 - s.beta2);
  e.eps = static_cast<T>(s.eps);
  e.scale = static_cast<T>(s.gradient_scale);
  e.wd = static_cast<T>(s.weight_decay);
  e.decay = static_cast<T>(1.0 - learning_rate * s.weight_decay);
  e.inv_sqrt_correction2 = static_cast<T>(1.0 / std::sqrt(correction2));
  e.step_size = s.form == adam_form::fairseq
                    ? static_cast<T>(learning_rate * std::sqrt(correction2) / correction1)
                    : static_cast<T>(learning_rate / correction1);
  e.form = s.form;
  return e;
}

template <class T>
sgd_element<T> make_sgd_element(T* params, const T* grads, T* momentum_buffer,
                                const sgd_settings& s, double learning_rate, std::int64_t step) {
  sgd_element<T> e{};
  e.p = params;
  e.g = grads;
  e.b = momentum_buffer;
  e.lr = static_cast<T>(learning_rate);
  e.wd = static_cast<T>(s.weight_decay);
  e.mu = static_cast<T>(s.momentum);
  e.keep = static_cast<T>(1.0 - s.dampening);
  e.scale = static_cast<T>(s.gradient_scale);
  e.first = step <= 1;  // torch clones d into the buffer on its first step
  e.nesterov = s.nesterov;
  e.use_momentum = s.momentum != 0.0;
  return e;
}

}  // namespace detail

/// One Adam-family update of n parameters; `step` is the 1-based update number t. exp_avg and
/// exp_avg_sq (the moments, zero before the first step) are updated in place.
template <class Policy, class T>
void adam_update(const Policy& policy, T* params, const T* grads, T* exp_avg, T* exp_avg_sq,
                 std::size_t n, const adam_settings& settings, double learning_rate,
                 std::int64_t step) {
  thrust::for_each_n(
      policy, thrust::counting_iterator<std::size_t>(0), n,
      detail::make_adam_element(params, grads, exp_avg, exp_avg_sq, settings, learning_rate, step));
}
template <class T>
void adam_update(T* params, const T* grads, T* exp_avg, T* exp_avg_sq, std::size_t n,
                 const adam_settings& settings, double learning_rate, std::int64_t step) {
  adam_update(thrust::device, params, grads, exp_avg, exp_avg_sq, n, settings, learning_rate, step);
}

/// One SGD update of n parameters; momentum_buffer may be null when settings.momentum == 0.
template <class Policy, class T>
void sgd_update(const Policy& policy, T* params, const T* grads, T* momentum_buffer, std::size_t n,
                const sgd_settings& settings, double learning_rate, std::int64_t step) {
  thrust::for_each_n(
      policy, thrust::counting_iterator<std::size_t>(0), n,
      detail::make_sgd_element(params, grads, momentum_buffer, settings, learning_rate, step));
}
template <class T>
void sgd_update(T* params, const T* grads, T* momentum_buffer, std::size_t n,
                const sgd_settings& settings, double learning_rate, std::int64_t step) {
  sgd_update(thrust::device, params, grads, momentum_buffer, n, settings, learning_rate, step);
}

}  // namespace ecgssl::flat_ops
