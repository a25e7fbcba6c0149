#pragma once
/// \file wav2vec2_contrastive.hpp
/// wav2vec 2.0 local contrastive loss (InfoNCE over cosine similarity / κ) at masked frames,
/// with K negatives drawn from the same segment's other masked frames (spec §4.1, Eq. 1-2).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "../core/backend.hpp"
#include "../core/error.hpp"
#include "../core/philox.hpp"
#include "../core/tensor.hpp"
#include "../core/threading.hpp"
#include "detail/common.hpp"
#include "detail/normalize_rows.hpp"

namespace ecgssl {

/// Inputs of the contrastive loss (and, shaped alike, their gradients).
template <class T>
struct contrastive_input {
  tensor<T, 3> predictions;  ///< c = final_proj(transformer out) at masked frames: [S, M, dim]
  tensor<T, 3> targets;      ///< q = project_q(quantized) at the same frames:     [S, M, dim]
};

/// How a negative that equals its positive is recognised (it then gets logit -inf, spec §4.1).
enum class identical_negatives {
  by_value,  ///< every component equal, as the reference does (rounding-dependent, spec §11)
  by_code,   ///< equal target codes given with set_target_codes (deterministic across precisions)
  keep,      ///< never masked
};

struct wav2vec2_contrastive_options {
  std::size_t num_negatives = 100;   ///< K
  double temperature = 0.1;          ///< κ (logit_temp)
  double cosine_eps = 1e-8;          ///< torch.cosine_similarity's eps: c/max(‖c‖,eps)·q/max(‖q‖,eps)
  identical_negatives identical = identical_negatives::by_value;
  std::uint64_t seed = 0;            ///< keys the negative sampling
};

/// L = Σ_{s,t} -log softmax(ℓ)_0, ℓ_0 = cos(c_t, q_t)/κ, ℓ_k = cos(c_t, q_{n_k})/κ, summed over the
/// S·M masked frames (sample_size = S·M). Negatives n_k for frame t of segment s: r uniform in
/// [0, M-2], n = r + (r >= t), drawn with replacement; draw k of frame t is index t·K + k of the
/// counter-based stream (seed, {negatives, step, s}), so it is independent of threads and
/// batch composition. `set_negatives` injects indices instead (parity tests).
template <class T, class Backend = host>
class wav2vec2_contrastive {
  static_assert(loss_detail::host_only_v<Backend>, "ecgssl: this operation has no specialisation for the requested backend");

 public:
  using scalar_type = T;
  using backend_type = Backend;
  using input_type = contrastive_input<T>;

  explicit wav2vec2_contrastive(wav2vec2_contrastive_options options = {}) : options_(options) {
    if (options.num_negatives == 0) {
      throw config_error(at_field("wav2vec2_contrastive.num_negatives"), "0", ">= 1");
    }
    if (!(options.temperature > 0)) {
      throw config_error(at_field("wav2vec2_contrastive.temperature"), std::to_string(options.temperature), "> 0");
    }
  }

  /// The update number that keys the sampling of the next forward.
  void set_step(std::int64_t step) { step_ = step; }

  /// Uses these negative indices ([S, M, K], each in [0, M) and != its frame) instead of
  /// sampling, until clear_negatives().
  void set_negatives(const tensor<std::int64_t, 3>& indices) {
    negatives_ = indices;
    injected_ = true;
  }
  void clear_negatives() { injected_ = false; }

  /// Code identity of each target frame ([S, M], e.g. g0·V + g1 of the Gumbel quantizer), used
  /// by identical_negatives::by_code.
  void set_target_codes(const tensor<std::int64_t, 2>& codes) { codes_ = codes; }

  /// Checks injected negatives ([S, M, K], each a masked-frame index of its segment other than
  /// the frame itself): a data_error naming the first bad entry. Shared by every backend.
  static void require_valid_negatives(const tensor<std::int64_t, 3>& negatives, std::size_t segments,
                                      std::size_t masked, std::size_t k) {
    require_shape(negatives.shape(), std::array<std::size_t, 3>{segments, masked, k}, "wav2vec2_contrastive.negatives");
    for (std::size_t i = 0; i < negatives.size(); ++i) {
      const auto v = negatives.data()[i];
      const std::size_t t = (i / k) % masked;
      if (v < 0 || static_cast<std::size_t>(v) >= masked || static_cast<std::size_t>(v) == t) {
        throw data_error(at_field("wav2vec2_contrastive.negatives"),
                         "index " + std::to_string(v) + " at flat position " + std::to_string(i),
                         "a masked-frame index in [0, " + std::to_string(masked) + ") other than the frame itself");
      }
    }
  }

  /// Draws the negatives for a batch of S segments with M masked frames each (what forward
  /// does when none were injected).
  void sample_negatives(std::size_t segments, std::size_t masked) {
    require_enough_frames(masked);
    const std::size_t k = options_.num_negatives;
    negatives_.resize({segments, masked, k});
    parallel_for(static_cast<std::int64_t>(segments), [&](std::int64_t si) {
      const auto s = static_cast<std::size_t>(si);
      const random_stream rng(options_.seed, stream_id({static_cast<std::uint64_t>(rng_purpose::negatives),
                                                        static_cast<std::uint64_t>(step_), s}));
      std::int64_t* out = negatives_.data() + s * masked * k;
      // Draw i uses word i of the stream (random_stream::below(i, M-1)); one Philox block
      // serves four consecutive draws.
      const std::size_t draws = masked * k;
      const auto range = static_cast<std::uint64_t>(masked - 1);
      for (std::size_t block = 0; block * 4 < draws; ++block) {
        const auto words = rng.block(block);
        for (std::size_t w = 0; w < 4 && block * 4 + w < draws; ++w) {
          const std::size_t draw = block * 4 + w;
          const std::size_t t = draw / k;
          auto r = static_cast<std::int64_t>((static_cast<std::uint64_t>(words[w]) * range) >> 32);
          if (r >= static_cast<std::int64_t>(t)) ++r;
          out[draw] = r;
        }
      }
    });
  }

  T forward(const input_type& in) {
    const auto& c = in.predictions;
    const auto& q = in.targets;
    require_shape(q.shape(), c.shape(), "wav2vec2_contrastive.targets (shape of predictions)");
    const std::size_t segments = c.shape()[0];
    const std::size_t masked = c.shape()[1];
    const std::size_t dim = c.shape()[2];
    const std::size_t k = options_.num_negatives;
    if (segments == 0 || dim == 0) {
      throw shape_error(at_field("wav2vec2_contrastive.predictions"), "got shape " + shape_string(c.shape()),
                        "[segments >= 1, masked frames >= 2, dim >= 1]");
    }
    require_enough_frames(masked);
    loss_detail::require_finite(as_span(c), "wav2vec2_contrastive.predictions");
    loss_detail::require_finite(as_span(q), "wav2vec2_contrastive.targets");
    if (injected_) {
      require_valid_negatives(negatives_, segments, masked, k);
    } else {
      sample_negatives(segments, masked);
    }
    if (options_.identical == identical_negatives::by_code) {
      require_shape(codes_.shape(), std::array<std::size_t, 2>{segments, masked}, "wav2vec2_contrastive.target_codes");
    }
    const T eps = static_cast<T>(options_.cosine_eps);
    const std::size_t rows = segments * masked;
    loss_detail::normalize_rows(c.data(), rows, dim, eps, c_hat_, c_norm_);
    loss_detail::normalize_rows(q.data(), rows, dim, eps, q_hat_, q_norm_);
    // All pairwise cosines of a segment in one small GEMM ([M, dim]·[dim, M]), cheaper than
    // K+1 gathered dot products per frame when K > M.
    cosines_.resize({segments, masked, masked});
    logits_.resize({segments, masked, k + 1});
    frame_loss_.resize({segments, masked});
    const T inv_kappa = static_cast<T>(1.0 / options_.temperature);
    const T minus_inf = -std::numeric_limits<T>::infinity();
    parallel_for(static_cast<std::int64_t>(segments), [&](std::int64_t si) {
      const auto s = static_cast<std::size_t>(si);
      const auto mm = static_cast<Eigen::Index>(masked);
      const auto dd = static_cast<Eigen::Index>(dim);
      const const_matrix_map<T> ch(c_hat_.data() + s * masked * dim, mm, dd);
      const const_matrix_map<T> qh(q_hat_.data() + s * masked * dim, mm, dd);
      matrix_map<T> cos(cosines_.data() + s * masked * masked, mm, mm);
      cos.noalias() = ch * qh.transpose();
      const std::int64_t* neg = negatives_.data() + s * masked * k;
      const T* qs = q.data() + s * masked * dim;
      for (std::size_t t = 0; t < masked; ++t) {
        T* l = logits_.data() + (s * masked + t) * (k + 1);
        l[0] = cos(static_cast<Eigen::Index>(t), static_cast<Eigen::Index>(t)) * inv_kappa;
        for (std::size_t j = 0; j < k; ++j) {
          const auto n = static_cast<std::size_t>(neg[t * k + j]);
          l[j + 1] = same_target(qs, s, t, n, masked, dim) ? minus_inf
                                                            : cos(static_cast<Eigen::Index>(t), static_cast<Eigen::Index>(n)) * inv_kappa;
        }
        const T lse = loss_detail::log_sum_exp(std::span<const T>(l, k + 1));
        frame_loss_(s, t) = lse - l[0];
        // Keep probabilities for backward.
        for (std::size_t j = 0; j <= k; ++j) l[j] = std::exp(l[j] - lse);
      }
    });
    accumulator_t<T> total = 0;
    for (T v : frame_loss_) total += v;
    sample_size_ = rows;
    return static_cast<T>(total);
  }

  /// grad.predictions and grad.targets ([S, M, dim]) += upstream·dL/dc, upstream·dL/dq.
  void backward(T upstream, input_type& grad) {
    const std::size_t segments = c_hat_.shape()[0] / std::max<std::size_t>(1, cosines_.shape()[1]);
    const std::size_t masked = cosines_.shape()[1];
    const std::size_t dim = c_hat_.shape()[1];
    const std::size_t k = options_.num_negatives;
    const std::array<std::size_t, 3> shape{segments, masked, dim};
    require_shape(grad.predictions.shape(), shape, "wav2vec2_contrastive.grad.predictions");
    require_shape(grad.targets.shape(), shape, "wav2vec2_contrastive.grad.targets");
    const T scale = upstream / static_cast<T>(options_.temperature);
    dcos_.resize({segments, masked, masked});
    dc_hat_.resize({segments * masked, dim});
    dq_hat_.resize({segments * masked, dim});
    parallel_for(static_cast<std::int64_t>(segments), [&](std::int64_t si) {
      const auto s = static_cast<std::size_t>(si);
      const auto mm = static_cast<Eigen::Index>(masked);
      const auto dd = static_cast<Eigen::Index>(dim);
      // dcos[t, n]: the softmax gradient of every logit that used the pair (t, n); repeated
      // negatives add up.
      matrix_map<T> dcos(dcos_.data() + s * masked * masked, mm, mm);
      dcos.setZero();
      const std::int64_t* neg = negatives_.data() + s * masked * k;
      for (std::size_t t = 0; t < masked; ++t) {
        const T* p = logits_.data() + (s * masked + t) * (k + 1);
        const auto ti = static_cast<Eigen::Index>(t);
        dcos(ti, ti) += scale * (p[0] - T(1));
        for (std::size_t j = 0; j < k; ++j) dcos(ti, static_cast<Eigen::Index>(neg[t * k + j])) += scale * p[j + 1];
      }
      const const_matrix_map<T> ch(c_hat_.data() + s * masked * dim, mm, dd);
      const const_matrix_map<T> qh(q_hat_.data() + s * masked * dim, mm, dd);
      matrix_map<T>(dc_hat_.data() + s * masked * dim, mm, dd).noalias() = dcos * qh;
      matrix_map<T>(dq_hat_.data() + s * masked * dim, mm, dd).noalias() = dcos.transpose() * ch;
    });
    const T eps = static_cast<T>(options_.cosine_eps);
    loss_detail::normalize_rows_backward(c_hat_.data(), c_norm_.data(), dc_hat_.data(), segments * masked, dim, eps,
                                         grad.predictions.data());
    loss_detail::normalize_rows_backward(q_hat_.data(), q_norm_.data(), dq_hat_.data(), segments * masked, dim, eps,
                                         grad.targets.data());
  }

  /// S·M of the last forward: the number of masked frames (fairseq's sample_size).
  [[nodiscard]] std::size_t sample_size() const { return sample_size_; }
  /// Negative indices of the last forward: [S, M, K].
  [[nodiscard]] const tensor<std::int64_t, 3>& negatives() const { return negatives_; }
  /// Softmax probabilities of the last forward: [S, M, K+1] (column 0 = the positive; a masked
  /// identical negative has probability 0).
  [[nodiscard]] const tensor<T, 3>& probabilities() const { return logits_; }
  /// Per-frame losses of the last forward: [S, M].
  [[nodiscard]] const tensor<T, 2>& frame_losses() const { return frame_loss_; }
  [[nodiscard]] const wav2vec2_contrastive_options& options() const { return options_; }

 private:
  void require_enough_frames(std::size_t masked) const {
    if (masked < 2) {
      throw shape_error(at_field("wav2vec2_contrastive.masked_frames"), std::to_string(masked) + " masked frames per segment",
                        ">= 2 (negatives come from the segment's other masked frames)");
    }
  }

  bool same_target(const T* qs, std::size_t s, std::size_t t, std::size_t n, std::size_t masked, std::size_t dim) const {
    switch (options_.identical) {
      case identical_negatives::keep:
        return false;
      case identical_negatives::by_code:
        return codes_(s, t) == codes_(s, n);
      case identical_negatives::by_value:
      default: {
        (void)masked;
        const T* a = qs + t * dim;
        const T* b = qs + n * dim;
        for (std::size_t d = 0; d < dim; ++d) {
          if (a[d] != b[d]) return false;
        }
        return true;
      }
    }
  }

  wav2vec2_contrastive_options options_;
  std::int64_t step_ = 0;
  bool injected_ = false;
  tensor<std::int64_t, 3> negatives_;
  tensor<std::int64_t, 2> codes_;
  tensor<T, 2> c_hat_, q_hat_, dc_hat_, dq_hat_, frame_loss_;
  tensor<T, 3> cosines_, logits_, dcos_;
  std::vector<T> c_norm_, q_norm_;
  std::size_t sample_size_ = 0;
};

}  // namespace ecgssl
