#pragma once
/// \file evaluate_run.hpp
/// The body of `ecgssl evaluate` on one backend: shared by the host translation unit
/// (app/evaluate.cpp) and the CUDA one (app/cuda_pipelines.cu).

#include <memory>
#include <string>
#include <vector>

#include <ecgssl/io/checkpoint.hpp>
#include <ecgssl/optim/training_backend.hpp>
#include <ecgssl/pipeline/finetuning/evaluation.hpp>
#include <ecgssl/pipeline/finetuning/finetune_checkpoint.hpp>

namespace ecgssl::cli {

namespace detail {

/// The fine-tuned model of checkpoint `ck` (described by `info`) on `Backend`, evaluated on
/// `part` for each lead set of `sets` (the model's task decides the metric).
template <class Backend>
std::vector<pipeline::lead_set_evaluation> evaluate_checkpoint(const io::checkpoint& ck,
                                                               const pipeline::finetune_checkpoint_info& info,
                                                               const data::segment_set& part,
                                                               const std::vector<std::string>& sets) {
  auto model = std::make_unique<pipeline::finetune_model<float, Backend>>(info.model);
  model->load_finetuned(ck);
  inference_parameters<float, Backend> parameters(model->store());
  return pipeline::evaluate_lead_sets(*model, part, sets);
}

#if defined(ECGSSL_CLI_WITH_CUDA)
/// evaluate_checkpoint<cuda>, defined in the CUDA translation unit of the command.
std::vector<pipeline::lead_set_evaluation> evaluate_on_cuda(const io::checkpoint& ck,
                                                            const pipeline::finetune_checkpoint_info& info,
                                                            const data::segment_set& part,
                                                            const std::vector<std::string>& sets);
#endif

}  // namespace detail

}  // namespace ecgssl::cli
