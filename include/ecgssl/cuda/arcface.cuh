#pragma once
/// \file arcface.cuh
/// arcface<T, cuda>: the additive angular margin loss of spec §6.3 on device embeddings, with
/// the host loss's options, labels, checks and messages (loss/arcface.hpp is its twin and
/// oracle). The class matrix W [classes, dim] is either declared in a parameter store and read
/// from the store's device mirror (a device_parameters<T>(store) alive while the loss runs, as
/// for the layers) or bound with bind_weights to caller-owned DEVICE memory. Labels are checked
/// on the host by the host class's static and uploaded once per set_targets; ê ŵᵀ and the two
/// gradient GEMMs run on cuBLAS, the normalisations, margin softmax and dcos in kernels with
/// fixed-shape reductions (deterministic; no atomics). Per-element math: detail/arcface_math.cuh.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <thrust/system/cuda/execution_policy.h>

#include "../core/error.hpp"
#include "../core/parameter_store.hpp"
#include "../core/tensor.hpp"
#include "../loss/arcface.hpp"
#include "../nn/detail/common.hpp"
#include "detail/arcface_math.cuh"
#include "detail/bce_math.cuh"
#include "detail/launch.cuh"
#include "device_buffer.cuh"
#include "device_tensor.cuh"
#include "wav2vec2_contrastive.cuh"

namespace ecgssl::cuda_detail::arc {

// One block per batch row b: probs[b] = softmax of the margin logits, row_loss[b], dphi[b].
template <class T>
__global__ void rows_kernel(const T* cos, const std::int64_t* labels, std::size_t batch, std::size_t classes,
                            margin_constants<T> k, T* probs, T* row_losses, T* dphi) {
  __shared__ acc_t<T> shared_sum[lanes];
  __shared__ T shared_max[lanes];
  for (std::size_t b = blockIdx.x; b < batch; b += gridDim.x) {
    const T* c = cos + b * classes;
    const auto y = static_cast<std::size_t>(labels[b]);
    T phi;
    T d;
    target_margin(c[y], k, &phi, &d);
    const T top = cmsc::block_max(shared_max, lane_logit_max(c, classes, y, phi, k.scale, threadIdx.x));
    const acc_t<T> sum = cmsc::block_sum(shared_sum, lane_logit_exp_sum(c, classes, y, phi, k.scale, top, threadIdx.x));
    if (threadIdx.x == 0) {
      row_losses[b] = row_loss(top, sum, phi, k.scale);
      dphi[b] = d;
    }
    for (std::size_t j = threadIdx.x; j < classes; j += lanes) {
      probs[b * classes + j] = probability(logit(j, y, c[j], phi, k.scale), top, sum);
    }
  }
}

// One thread per entry of dcos [batch, classes].
template <class T>
__global__ void dcos_kernel(const T* probs, const T* cos, const std::int64_t* labels, const T* dphi,
                            std::size_t batch, std::size_t classes, T scale_all, T* dcos) {
  ECGSSL_GRID_STRIDE_LOOP(e, batch * classes) {
    const std::size_t b = e / classes;
    const bool target = static_cast<std::size_t>(labels[b]) == e % classes;
    dcos[e] = dcos_entry(probs[e], cos[e], target, dphi[b], scale_all);
  }
}

}  // namespace ecgssl::cuda_detail::arc

namespace ecgssl {

/// ArcFace (spec §6.3) on the cuda backend: same options, labels, value and gradients (input
/// and W) as arcface<T, host>.
template <class T>
class arcface<T, cuda> {
 public:
  using scalar_type = T;
  using backend_type = cuda;
  using input_type = device_tensor<T, 2>;  // embeddings (not yet normalised): [batch, dim] on the device

  arcface(std::size_t classes, std::size_t dim, arcface_options options = {})
      : options_(options), classes_(classes), dim_(dim) {
    arcface<T, host> validate(classes, dim, options);  // the host's option checks and messages
    (void)validate;
  }

  /// Adds `<prefix>weight` [classes, dim] to the store and binds it; forward and backward use
  /// the store's device mirror (device_parameters<T>), W's gradient accumulates there.
  void declare_parameters(parameter_store<T>& store, const std::string& prefix) {
    weight_param_ = store.add(prefix + "weight", {classes_, dim_});
  }

  /// Uses caller-owned W [classes, dim] (row-major) and its gradient buffer, both DEVICE memory
  /// (e.g. device_buffer<T>::data()) that outlives the loss's use.
  void bind_weights(std::span<const T> weight, std::span<T> weight_grad) {
    arcface<T, host>::require_weight_buffers(weight.size(), weight_grad.size(), classes_, dim_);
    weight_ = weight;
    weight_grad_ = weight_grad;
    weight_param_ = {};
  }

  /// The reference initialisation (spec §3.10) of W declared in a store, written to the store's
  /// HOST values (as every initialisation): upload them to the device mirror afterwards
  /// (device_parameters<T>(store) or its upload_values()). Bound device weights: initialise a host
  /// copy with arcface<T, host>::initialize_weights and copy it to the device.
  void initialize(std::uint64_t seed, std::uint64_t stream = 0) {
    arcface<T, host>::initialize_parameter(weight_param_, classes_, dim_, seed, stream);
  }

  /// Class index per batch row (host memory), each in [0, classes); uploaded once.
  void set_targets(std::span<const std::int64_t> labels) {
    arcface<T, host>::require_valid_labels(labels, classes_);
    batch_ = labels.size();
    labels_.resize(batch_);
    labels_.copy_from_host(labels);
  }

  /// x: [batch, dim] (device). Blocking: the loss comes back to the host.
  T forward(const input_type& x) {
    namespace ar = cuda_detail::arc;
    const std::size_t batch = x.shape()[0];
    require_shape(x.shape(), std::array<std::size_t, 2>{batch_, dim_}, "arcface.embeddings ([labels, dim])");
    if (batch == 0) throw shape_error(at_field("arcface.embeddings"), "an empty batch", "at least one row");
    cuda_detail::bce::require_finite(thrust::cuda::par.on(cuda_detail::stream()), x.data(), x.size(),
                                     "arcface.embeddings");
    const T* weight = weights();
    const T eps = static_cast<T>(options_.norm_eps);
    const cudaStream_t s = cuda_detail::stream();
    embedding_hat_.ensure_shape(x.shape());
    embedding_norm_.resize(batch);
    cuda_detail::w2v::normalize_rows_kernel<<<cuda_detail::cmsc::blocks_for_lines(batch), ar::lanes, 0, s>>>(
        x.data(), batch, dim_, eps, embedding_hat_.data(), embedding_norm_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    weight_hat_.ensure_shape(std::array<std::size_t, 2>{classes_, dim_});
    weight_norm_.resize(classes_);
    cuda_detail::w2v::normalize_rows_kernel<<<cuda_detail::cmsc::blocks_for_lines(classes_), ar::lanes, 0, s>>>(
        weight, classes_, dim_, eps, weight_hat_.data(), weight_norm_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    cos_.ensure_shape(std::array<std::size_t, 2>{batch, classes_});
    const auto bi = static_cast<std::int64_t>(batch), di = static_cast<std::int64_t>(dim_),
               ci = static_cast<std::int64_t>(classes_);
    cuda_detail::run(ar::cosines_plan(bi, di, ci), T(1), weight_hat_.data(), embedding_hat_.data(), T(0), cos_.data());
    probs_.ensure_shape(std::array<std::size_t, 2>{batch, classes_});
    row_loss_.resize(batch);
    target_derivative_.resize(batch);
    ar::rows_kernel<<<cuda_detail::cmsc::blocks_for_lines(batch), ar::lanes, 0, s>>>(
        cos_.data(), labels_.data(), batch, classes_, ar::make_margin_constants<T>(options_.scale, options_.margin),
        probs_.data(), row_loss_.data(), target_derivative_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    total_.resize(1);
    cuda_detail::w2v::sum_kernel<<<1, ar::lanes, 0, s>>>(row_loss_.data(), batch, total_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    std::array<ar::acc_t<T>, 1> total{};
    total_.copy_to_host(std::span<ar::acc_t<T>>(total));
    return static_cast<T>(total[0] / static_cast<ar::acc_t<T>>(batch));
  }

  /// grad: [batch, dim] (device) += upstream·dL/dx; W's gradient (device) += upstream·dL/dW.
  void backward(T upstream, input_type& grad) {
    namespace ar = cuda_detail::arc;
    const std::size_t batch = batch_;
    require_shape(grad.shape(), std::array<std::size_t, 2>{batch, dim_}, "arcface.grad");
    T* weight_grad = weight_gradients();
    if (batch == 0) return;
    const cudaStream_t s = cuda_detail::stream();
    dcos_.ensure_shape(std::array<std::size_t, 2>{batch, classes_});
    const T scale_all = upstream * static_cast<T>(options_.scale) / static_cast<T>(batch);
    ar::dcos_kernel<<<cuda_detail::grid_for(batch * classes_), cuda_detail::block_size, 0, s>>>(
        probs_.data(), cos_.data(), labels_.data(), target_derivative_.data(), batch, classes_, scale_all,
        dcos_.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    const T eps = static_cast<T>(options_.norm_eps);
    const auto bi = static_cast<std::int64_t>(batch), di = static_cast<std::int64_t>(dim_),
               ci = static_cast<std::int64_t>(classes_);
    // Through ê (·ŵᵀ) and the normalisation of x.
    d_hat_.ensure_shape(std::array<std::size_t, 2>{batch, dim_});
    cuda_detail::run(ar::embedding_grad_plan(bi, di, ci), T(1), weight_hat_.data(), dcos_.data(), T(0), d_hat_.data());
    cuda_detail::w2v::normalize_rows_backward_kernel<<<cuda_detail::cmsc::blocks_for_lines(batch), ar::lanes, 0, s>>>(
        embedding_hat_.data(), embedding_norm_.data(), d_hat_.data(), batch, dim_, eps, grad.data());
    ECGSSL_CUDA_CHECK_LAUNCH();
    // Through ŵ and the row normalisation of W.
    d_weight_hat_.ensure_shape(std::array<std::size_t, 2>{classes_, dim_});
    cuda_detail::run(ar::weight_grad_plan(bi, di, ci), T(1), embedding_hat_.data(), dcos_.data(), T(0),
                     d_weight_hat_.data());
    cuda_detail::w2v::normalize_rows_backward_kernel<<<cuda_detail::cmsc::blocks_for_lines(classes_), ar::lanes, 0, s>>>(
        weight_hat_.data(), weight_norm_.data(), d_weight_hat_.data(), classes_, dim_, eps, weight_grad);
    ECGSSL_CUDA_CHECK_LAUNCH();
  }

  /// Raw ê·ŵᵀ of the last forward: [batch, classes] (device).
  [[nodiscard]] const device_tensor<T, 2>& cosines() const { return cos_; }
  /// Softmax of the margin logits of the last forward: [batch, classes] (device).
  [[nodiscard]] const device_tensor<T, 2>& probabilities() const { return probs_; }
  [[nodiscard]] const arcface_options& options() const { return options_; }

 private:
  const T* weights() const {
    if (weight_param_.valid()) return nn::detail::values_of<cuda>(weight_param_);
    arcface<T, host>::require_weights_provided(!weight_.empty());
    return weight_.data();
  }
  T* weight_gradients() const {
    if (weight_param_.valid()) return nn::detail::grads_of<cuda>(weight_param_);
    return weight_grad_.data();
  }

  arcface_options options_;
  std::size_t classes_;
  std::size_t dim_;
  std::size_t batch_ = 0;
  parameter<T> weight_param_;
  std::span<const T> weight_;
  std::span<T> weight_grad_;
  device_buffer<std::int64_t> labels_;
  device_buffer<T> embedding_norm_, weight_norm_, target_derivative_, row_loss_;
  device_buffer<cuda_detail::arc::acc_t<T>> total_;
  device_tensor<T, 2> embedding_hat_, weight_hat_, cos_, probs_, dcos_, d_hat_, d_weight_hat_;
};

}  // namespace ecgssl
