// Pre-trains the tiny W2V+CMSC+RLM encoder on the bundled real ECG records and writes a
// checkpoint, a CSV log and an SVG loss curve.
//
//   ./build/bin/pretrain_tiny [DATA_DIR] [STEPS]      (default: examples/data/cinc, 50 updates)
//
// The same run from the command line:
//   ecgssl pretrain --data examples/data/cinc --config tiny --method w2v_cmsc_rlm --steps 50 \
//                   --batch-pairs 4 --seed 1 --out tiny.safetensors
#include <ecgssl/core/threading.hpp>
#include <ecgssl/pipeline/logs/csv_log.hpp>
#include <ecgssl/pipeline/logs/loss_curve_plot.hpp>
#include <ecgssl/pipeline/pretraining/pretrain_method.hpp>
#include <ecgssl/pipeline/pretraining/pretrainer.hpp>
#include <ecgssl/pipeline/logs/progress_bar.hpp>
#include <ecgssl/data/wfdb_dataset.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  using namespace ecgssl;
  const std::string data_dir = argc > 1 ? argv[1] : ECGSSL_EXAMPLE_DATA_DIR "/cinc";
  const std::int64_t steps = argc > 2 ? std::stoll(argv[2]) : 50;
  try {
    // 1. Records -> 12-lead 5 s segments at 500 Hz -> pairs of consecutive segments (spec §2).
    const data::wfdb_dataset data(data_dir);
    std::cout << data.manifest().usable_indices().size() << " records, " << data.pairs()->size() << " CMSC pairs\n";

    // 2. The paper's objective: encoder + (no transform) + random lead masking + W2V+CMSC loss.
    using objective_t = pipeline::w2v_cmsc_rlm_objective<model::tiny_config<float>>;
    objective_t objective(model::tiny_config<float>::options());

    // 3. The trainer: 4 pairs per micro-batch, Adam at a fixed learning rate (spec §5).
    pipeline::pretrainer_options options;
    options.batch_items = 4;
    options.seed = 1;
    options.method = "w2v_cmsc_rlm";
    pipeline::pretrainer<objective_t, data::paired_source<data::record_source>> trainer(objective, data.pairs(), options);

    // 4. Callbacks, then train; the checkpoint is written at the end (and can be resumed).
    pipeline::progress_bar bar(std::cout, "pretrain", false);
    pipeline::csv_log log("pretrain_tiny.csv");
    pipeline::loss_curve_plot plot("pretrain_tiny.svg", "tiny W2V+CMSC+RLM");
    const auto history = trainer.run(steps, "pretrain_tiny.safetensors", 25, bar, log, plot);
    std::cout << "loss " << history.front().loss << " -> " << history.back().loss
              << "; wrote pretrain_tiny.safetensors, pretrain_tiny.csv, pretrain_tiny.svg\n";
  } catch (const ecgssl::error& e) {
    std::cerr << "pretrain_tiny: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
