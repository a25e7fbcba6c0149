#pragma once
/// \file onednn_matmul.hpp
/// The one place that speaks oneDNN: a bf16 x bf16 -> float32 matrix product on contiguous
/// row-major operands, for oneDNN's 2.x API (Debian's libdnnl-dev) and 3.x API (vcpkg and Conan
/// `onednn`), which differ only in how a primitive descriptor is made. Built with
/// ECGSSL_WITH_ONEDNN (CMake option of the same name); without it, or where oneDNN would only
/// run its reference kernel (a CPU with neither AVX512-BF16 nor AMX, nor AVX2-VNNI-2 in 3.x),
/// nn/detail/gemm.hpp computes the same products as float32 products of bf16-rounded operands.
///
/// Each thread keeps its own engine, stream and primitives, created once per shape and reused:
/// a oneDNN primitive's library-managed scratchpad may not be shared by concurrent executions,
/// and our product panels run concurrently (nn/detail/gemm.hpp). Inside a panel oneDNN runs on
/// the calling thread (OpenMP does not nest), so its kernels see the same thread count as ours.

#include <cstdint>
#include <string>

#if defined(ECGSSL_WITH_ONEDNN)
// oneDNN's C API: nvcc (CUDA 13, -std=c++20) stops with an internal error on the C++ header
// dnnl.hpp, and the CUDA translation units include this file too; one API for all units keeps
// every inline function here identical across them.
#include <oneapi/dnnl/dnnl.h>

#include <map>
#include <tuple>
#endif

namespace ecgssl::nn::detail {

#if defined(ECGSSL_WITH_ONEDNN)

/// Where the elements of the three matrices of a product c[m x n] (+)= a[m x k] * b[k x n] lie:
/// each operand's row and column strides in elements, so a transposed or sliced operand is
/// read where it is (no copy), and c's row stride (c is always row-major, unit column stride).
struct product_layout {
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t a_row = 0, a_col = 1;
  std::int64_t b_row = 0, b_col = 1;
  std::int64_t c_row = 0;
  bool accumulate = false;  ///< c += a * b (oneDNN's sum post-op) instead of c = a * b

  /// Dense row-major a, b and c.
  static product_layout row_major(std::int64_t m, std::int64_t n, std::int64_t k) {
    return product_layout{m, n, k, k, 1, n, 1, n, false};
  }
  auto key() const { return std::make_tuple(m, n, k, a_row, a_col, b_row, b_col, c_row, accumulate); }
};

/// Products with float32 results and operands of one type: bf16 (what the library uses) or f32
/// (so the adapter can be tested, and measured, on CPUs without bf16 kernels).
class onednn_matmul {
 public:
  /// The calling thread's instance for bf16 operands.
  static onednn_matmul& local() {
    thread_local onednn_matmul instance(dnnl_bf16);
    return instance;
  }

  explicit onednn_matmul(dnnl_data_type_t operand_type) : operand_type_(operand_type) {
    if (dnnl_engine_create(&engine_, dnnl_cpu, 0) != dnnl_success) engine_ = nullptr;
    if (engine_ != nullptr && dnnl_stream_create(&stream_, engine_, dnnl_stream_default_flags) != dnnl_success) stream_ = nullptr;
  }
  onednn_matmul(const onednn_matmul&) = delete;
  onednn_matmul& operator=(const onednn_matmul&) = delete;
  ~onednn_matmul() {
    for (auto& [shape, p] : cache_) p.release();
    if (stream_ != nullptr) dnnl_stream_destroy(stream_);
    if (engine_ != nullptr) dnnl_engine_destroy(engine_);
  }

  /// The product `layout` describes, a and b of the operand type (bf16: the bit patterns as
  /// std::uint16_t) pointing at their element [0, 0]. Returns false (and computes nothing)
  /// where oneDNN offers no kernel better than its reference one for this layout.
  bool run(const product_layout& layout, const void* a, const void* b, float* c) {
    prepared* p = prepared_for(layout);
    if (p == nullptr || p->primitive == nullptr) return false;
    dnnl_memory_set_data_handle(p->a, const_cast<void*>(a));
    dnnl_memory_set_data_handle(p->b, const_cast<void*>(b));
    dnnl_memory_set_data_handle(p->c, c);
    const dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, p->a}, {DNNL_ARG_WEIGHTS, p->b}, {DNNL_ARG_DST, p->c}};
    if (dnnl_primitive_execute(p->primitive, stream_, 3, args) != dnnl_success) return false;
    return dnnl_stream_wait(stream_) == dnnl_success;
  }

  /// c[m x n] = a[m x k] * b[k x n], every operand dense and row-major.
  bool run(std::int64_t m, std::int64_t n, std::int64_t k, const void* a, const void* b, float* c) {
    return run(product_layout::row_major(m, n, k), a, b, c);
  }

  /// Whether run() computes products of this layout (false where only the reference kernel exists).
  bool has_kernel(const product_layout& layout) {
    const prepared* p = prepared_for(layout);
    return p != nullptr && p->primitive != nullptr;
  }
  bool has_kernel(std::int64_t m, std::int64_t n, std::int64_t k) { return has_kernel(product_layout::row_major(m, n, k)); }

  /// oneDNN's name for the kernel it picks for a product of the given layout ("ref:any"
  /// is its portable reference loop; "brg:avx512_core_amx" a tile kernel), or "none".
  std::string kernel_for(const product_layout& layout) {
    prepared* p = prepared_for(layout);
    return p == nullptr ? std::string("none") : p->kernel;
  }
  std::string kernel_for(std::int64_t m, std::int64_t n, std::int64_t k) { return kernel_for(product_layout::row_major(m, n, k)); }

 private:
  struct prepared {
    dnnl_primitive_t primitive = nullptr;  ///< null where only the reference kernel exists
    dnnl_memory_t a = nullptr, b = nullptr, c = nullptr;
    std::string kernel;
    void release() {
      if (primitive != nullptr) dnnl_primitive_destroy(primitive);
      for (auto* mem : {a, b, c}) {
        if (mem != nullptr) dnnl_memory_destroy(mem);
      }
      primitive = nullptr;
      a = b = c = nullptr;
    }
  };
  using layout_key = decltype(product_layout{}.key());

  /// The primitive and memory objects of one layout, made on first use; null if oneDNN refused.
  prepared* prepared_for(const product_layout& layout) {
    if (engine_ == nullptr || stream_ == nullptr) return nullptr;
    const auto key = layout.key();
    auto found = cache_.find(key);
    if (found != cache_.end()) return found->second.kernel.empty() ? nullptr : &found->second;
    prepared p;
    make(p, layout);
    if (p.kernel.empty()) p.release();
    found = cache_.emplace(key, p).first;
    return p.kernel.empty() ? nullptr : &found->second;
  }

  void make(prepared& p, const product_layout& l) {
    const dnnl_dims_t a_dims = {l.m, l.k}, b_dims = {l.k, l.n}, c_dims = {l.m, l.n};
    const dnnl_dims_t a_strides = {l.a_row, l.a_col}, b_strides = {l.b_row, l.b_col}, c_strides = {l.c_row, 1};
    dnnl_primitive_desc_t pd = nullptr;
    dnnl_primitive_attr_t attr = nullptr;
    dnnl_post_ops_t post_ops = nullptr;
    bool attributed = dnnl_primitive_attr_create(&attr) == dnnl_success;
    if (attributed && l.accumulate) {
      // The sum post-op adds the product to what c holds, in float32, inside the kernel.
#if DNNL_VERSION_MAJOR >= 3
      attributed = dnnl_post_ops_create(&post_ops) == dnnl_success &&
                   dnnl_post_ops_append_sum(post_ops, 1.0f, 0, dnnl_data_type_undef) == dnnl_success &&
                   dnnl_primitive_attr_set_post_ops(attr, post_ops) == dnnl_success;
#else
      attributed = dnnl_post_ops_create(&post_ops) == dnnl_success && dnnl_post_ops_append_sum(post_ops, 1.0f) == dnnl_success &&
                   dnnl_primitive_attr_set_post_ops(attr, post_ops) == dnnl_success;
#endif
    }
#if DNNL_VERSION_MAJOR >= 3
    dnnl_memory_desc_t a_md = nullptr, b_md = nullptr, c_md = nullptr;
    const bool described =
        attributed && dnnl_memory_desc_create_with_strides(&a_md, 2, a_dims, operand_type_, a_strides) == dnnl_success &&
        dnnl_memory_desc_create_with_strides(&b_md, 2, b_dims, operand_type_, b_strides) == dnnl_success &&
        dnnl_memory_desc_create_with_strides(&c_md, 2, c_dims, dnnl_f32, c_strides) == dnnl_success &&
        dnnl_matmul_primitive_desc_create(&pd, engine_, a_md, b_md, nullptr, c_md, attr) == dnnl_success;
    const auto memory = [&](dnnl_memory_t* mem, dnnl_memory_desc_t md) { return dnnl_memory_create(mem, md, engine_, DNNL_MEMORY_NONE); };
#else
    dnnl_memory_desc_t a_desc, b_desc, c_desc;
    dnnl_matmul_desc_t op;
    const bool described =
        attributed && dnnl_memory_desc_init_by_strides(&a_desc, 2, a_dims, operand_type_, a_strides) == dnnl_success &&
        dnnl_memory_desc_init_by_strides(&b_desc, 2, b_dims, operand_type_, b_strides) == dnnl_success &&
        dnnl_memory_desc_init_by_strides(&c_desc, 2, c_dims, dnnl_f32, c_strides) == dnnl_success &&
        dnnl_matmul_desc_init(&op, &a_desc, &b_desc, nullptr, &c_desc) == dnnl_success &&
        dnnl_primitive_desc_create(&pd, &op, attr, engine_, nullptr) == dnnl_success;
    const dnnl_memory_desc_t *a_md = &a_desc, *b_md = &b_desc, *c_md = &c_desc;
    const auto memory = [&](dnnl_memory_t* mem, const dnnl_memory_desc_t* md) { return dnnl_memory_create(mem, md, engine_, DNNL_MEMORY_NONE); };
#endif
    if (described) {
      const char* impl = nullptr;
      if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl != nullptr) p.kernel = impl;
      // The reference kernel is a plain loop, far slower than a float32 GEMM of the rounded
      // operands, which gives the same products: leave such layouts to the float32 GEMM.
      if (!p.kernel.empty() && p.kernel.rfind("ref", 0) != 0) {
        if (dnnl_primitive_create(&p.primitive, pd) != dnnl_success || memory(&p.a, a_md) != dnnl_success ||
            memory(&p.b, b_md) != dnnl_success || memory(&p.c, c_md) != dnnl_success) {
          p.release();
          p.kernel.clear();
        }
      }
    }
    if (pd != nullptr) dnnl_primitive_desc_destroy(pd);
    if (post_ops != nullptr) dnnl_post_ops_destroy(post_ops);
    if (attr != nullptr) dnnl_primitive_attr_destroy(attr);
#if DNNL_VERSION_MAJOR >= 3
    for (auto md : {a_md, b_md, c_md}) {
      if (md != nullptr) dnnl_memory_desc_destroy(md);
    }
#endif
  }

  dnnl_data_type_t operand_type_;
  dnnl_engine_t engine_ = nullptr;
  dnnl_stream_t stream_ = nullptr;
  std::map<layout_key, prepared> cache_;
};

#endif  // ECGSSL_WITH_ONEDNN

/// The instruction set oneDNN dispatches to on this CPU ("avx2", "avx512_core_amx", ...), or
/// "none" in a build without oneDNN.
inline std::string onednn_cpu_isa() {
#if defined(ECGSSL_WITH_ONEDNN)
  const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "isa-0x" + [](unsigned v) {
      const char* digits = "0123456789abcdef";
      std::string out;
      do {
        out.insert(out.begin(), digits[v % 16]);
        v /= 16;
      } while (v != 0);
      return out;
    }(static_cast<unsigned>(isa));
  }
#else
  return "none";
#endif
}

/// Which kernels compute bf16 products on this CPU, for `ecgssl version` and `bench --json`:
/// oneDNN's kernel for a 256 x 256 x 256 product, or the float32 GEMM of rounded operands.
inline std::string bf16_product_kernels() {
#if defined(ECGSSL_WITH_ONEDNN)
  const std::string kernel = onednn_matmul::local().kernel_for(256, 256, 256);
  const dnnl_version_t* v = dnnl_version();
  const std::string where = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                            std::to_string(v->patch) + " on " + onednn_cpu_isa();
  if (kernel.rfind("ref", 0) == 0 || kernel == "none") {
    return "float32 GEMM of bf16-rounded operands (" + where + " offers no bf16 kernel: " + kernel + ")";
  }
  return kernel + " (" + where + ")";
#else
  return "float32 GEMM of bf16-rounded operands (built without oneDNN)";
#endif
}

}  // namespace ecgssl::nn::detail
