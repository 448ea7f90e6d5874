//! The learned policy: training is reproducible, the shipped model loads
//! and gives the figures the scaler's README prints for it, and a model
//! that cannot be trusted is refused when the policy is built.

use std::path::Path;

use scaler::{
    evaluate::{Bench, capacity},
    learn::{
        env,
        model::{Mode, Model, ModelConfig},
        train::{Quiet, TrainConfig, train},
    },
    policy::spec::PolicySpec,
    sim::{SimConfig, calibration::Profile},
};
use scenario::suite::Family;

fn tiny(seed: u64) -> TrainConfig {
    TrainConfig {
        seed,
        frames: 2,
        hidden: 8,
        bc_episodes: 2,
        bc_epochs: 1,
        iterations: 1,
        episodes_per_iteration: 2,
        validation_seeds: 0,
        episode_s: 1200,
        max_minutes: 0.0,
        ..TrainConfig::default()
    }
}

fn weights(model: &Model, dir: &Path, name: &str) -> Vec<u8> {
    let stem = dir.join(name);
    model.save(&stem).expect("save");
    std::fs::read(stem.with_extension("safetensors")).expect("read back")
}

#[test]
fn the_same_seed_trains_the_same_model() {
    let dir = std::env::temp_dir().join(format!("siplat-rl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let a = train(&tiny(7), &Quiet).expect("train");
    let b = train(&tiny(7), &Quiet).expect("train");
    let c = train(&tiny(8), &Quiet).expect("train");
    let (wa, wb, wc) = (
        weights(&a.best, &dir, "a"),
        weights(&b.best, &dir, "b"),
        weights(&c.best, &dir, "c"),
    );
    assert_eq!(wa, wb, "same seed, same weights");
    assert_ne!(wa, wc, "another seed trains another model");
    assert_eq!(a.curve, b.curve);
    // What was saved loads back to the same outputs.
    let back = Model::load(&dir.join("a")).expect("load");
    let input = vec![0.3_f32; back.config.input_len()];
    assert_eq!(
        back.evaluate_one(&input).expect("eval"),
        a.best.evaluate_one(&input).expect("eval")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The figures of the shipped hybrid model on the first evaluation seed
/// of the step family, as the scaler's README prints them.
const STEP_1000: (u64, f64) = (0, 214.4);

#[test]
fn the_shipped_model_loads_and_gives_the_readme_figures() {
    let bench = Bench {
        cfg: SimConfig::for_profile(Profile::Report),
        ctx: env::context(),
        capacity: capacity(Profile::Report),
    };
    let specs = PolicySpec::parse_list("rl").expect("parse");
    let rates = Family::Step.rates(1000);
    let run = bench.run(&specs[0], &rates, 1000, false).expect("run");
    assert_eq!(run.violation_seconds, STEP_1000.0);
    assert!(
        (run.cpu_seconds - STEP_1000.1).abs() < 0.05,
        "cpu-seconds {:.2}, README {:.1}",
        run.cpu_seconds,
        STEP_1000.1
    );
    let (horizontal, safety) = PolicySpec::parse_list("rl:mode=horizontal").expect("parse")[0]
        .build(&env::context())
        .expect("the shipped horizontal model loads");
    assert_eq!(horizontal.name(), "rl:mode=horizontal");
    assert!(safety.cpu.is_none(), "horizontal leaves the limit alone");
}

#[test]
fn a_model_that_cannot_be_trusted_is_refused_at_start() {
    let ctx = env::context();
    let missing = PolicySpec::parse_list("rl:model=/nonexistent/model").expect("parse")[0]
        .build(&ctx)
        .err()
        .expect("a missing file is an error");
    assert!(
        missing.to_string().contains("/nonexistent/model"),
        "{missing}"
    );
    let dir = std::env::temp_dir().join(format!("siplat-rl-nan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = ModelConfig {
        mode: Mode::Hybrid,
        frames: 1,
        hidden: 4,
        forecast: None,
        training: serde_json::Value::Null,
    };
    let model = Model::new(config, 1).expect("model");
    model.save(&dir.join("ok")).expect("save");
    // Poison one weight: NaN in the first layer reaches every output.
    let bytes = std::fs::read(dir.join("ok.safetensors")).expect("read");
    let mut tensors =
        candle_core::safetensors::load_buffer(&bytes, &candle_core::Device::Cpu).expect("parse");
    let w = tensors["l1.w"].clone();
    let nan = (w.affine(0.0, f64::NAN)).expect("nan");
    tensors.insert("l1.w".to_owned(), nan);
    candle_core::safetensors::save(&tensors, dir.join("nan.safetensors")).expect("save");
    std::fs::copy(dir.join("ok.json"), dir.join("nan.json")).expect("copy config");
    let text = format!("rl:model={}", dir.join("nan").display());
    let err = PolicySpec::parse_list(&text).expect("parse")[0]
        .build(&ctx)
        .err()
        .expect("a NaN model is an error");
    assert!(err.to_string().contains("NaN"), "{err}");
    let wrong = format!("rl:model={},mode=horizontal", dir.join("ok").display());
    assert!(
        PolicySpec::parse_list(&wrong).expect("parse")[0]
            .build(&ctx)
            .is_err()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
