//! The forward pass gives the same bits at any thread count: its products share out rows, its
//! attention (position, head) pairs, its SwiGLU values — never a sum.
//!
//! Its own test binary: the thread count is global to a process, and the library's unit tests
//! set it too.

use tokenmeter_core::model::synthetic::smollm2_135m;
use tokenmeter_core::model::{threads, Config, Logits, Model, State};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

/// A prompt of `prompt` tokens with every position's logits, then `steps` one-token steps:
/// every logit, in order.
fn run(model: &Model, prompt: &[u32], steps: usize) -> Vec<u32> {
    let mut state = State::new(model.config());
    let mut all = bits(
        &model
            .forward(prompt, 0, &mut state, Logits::All)
            .expect("prefill"),
    );
    let mut next = *prompt.last().expect("a prompt");
    for step in 0..steps {
        let logits = model
            .forward(&[next], prompt.len() + step, &mut state, Logits::Last)
            .expect("a step");
        // The next input depends on every bit of these logits.
        next = logits.iter().fold(0u32, |a, l| a.wrapping_add(l.to_bits())) % 1000;
        all.extend(bits(&logits));
    }
    all
}

#[test]
fn logits_are_the_same_bits_at_one_two_and_three_threads() {
    // SmolLM2-135M's shape, fewer blocks (the same code runs each block).
    let config = Config {
        n_layer: 4,
        ..smollm2_135m()
    };
    let model = Model::synthetic(config, 7).expect("synthetic model");
    // Long enough that attention's pairs are cut into several spans.
    let prompt: Vec<u32> = (0..70).map(|i| (i * 7919) % 49_152).collect();
    assert_eq!(threads::set_threads(1), 1);
    let one = run(&model, &prompt, 3);
    for n in [2, 3] {
        assert_eq!(threads::set_threads(n), n);
        assert!(
            one == run(&model, &prompt, 3),
            "{n} threads: not the same bits as one"
        );
    }
}
