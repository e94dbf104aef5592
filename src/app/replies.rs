//! The workers' answers turned into the page's state: each answer to the newest request of its
//! kind (numbered by [`Seqs`]) is recorded; answers to older requests are dropped.

use std::cell::Cell;

use leptos::prelude::*;

use super::state::{AppState, Generated, InsideState, ModelInfo, ModelState, NextState, Scores};
use crate::protocol::{FromWorker, Preference};

/// The numbers of the newest requests; answers to older ones are dropped.
#[derive(Default)]
pub(super) struct Seqs {
    pub(super) columns: Cell<u64>,
    pub(super) model: Cell<u64>,
    pub(super) cost: Cell<u64>,
    pub(super) inside: Cell<u64>,
    pub(super) explain: Cell<u64>,
}

impl Seqs {
    pub(super) fn bump(c: &Cell<u64>) -> u64 {
        c.set(c.get() + 1);
        c.get()
    }
}

pub(super) fn on_tokenizer_message(state: AppState, seqs: &Seqs, msg: FromWorker) {
    match msg {
        FromWorker::Columns { seq, columns } if seq == seqs.columns.get() => {
            state.token_error.set(None);
            state.tokens.set(Some(columns));
        }
        FromWorker::ColumnsFailed { seq, message } if seq == seqs.columns.get() => {
            // The columns on screen answered the previous input: never leave them under an
            // error about the new one, as if they were its result.
            state.tokens.set(None);
            state.token_error.set(Some(message));
        }
        FromWorker::Costs { seq, report } if seq == seqs.cost.get() => {
            state.costs.set(Some(Ok(*report)))
        }
        FromWorker::CostFailed { seq, message } if seq == seqs.cost.get() => {
            state.costs.set(Some(Err(message)))
        }
        FromWorker::Exercises(sets) => state.exercise_sets.set(Some(sets)),
        FromWorker::Explained { seq, explained } if seq == seqs.explain.get() => {
            state.explaining.update(|e| {
                if let Some(e) = e {
                    e.answer = Some(Ok(explained));
                }
            })
        }
        FromWorker::ExplainFailed { seq, message } if seq == seqs.explain.get() => {
            state.explaining.update(|e| {
                if let Some(e) = e {
                    e.answer = Some(Err(message));
                }
            })
        }
        FromWorker::TokenizerAdded(added) => {
            // A restarted worker is given the user's files again under the same ids: each is one
            // column, shown or hidden as the user left it.
            let known = state
                .custom
                .with_untracked(|c| c.iter().any(|(id, _)| *id == added.id));
            if !known {
                state
                    .custom
                    .update(|c| c.push((added.id.clone(), added.name)));
                state.columns.update(|c| c.push(added.id));
            }
        }
        FromWorker::TokenizerRejected { message, .. } => state.custom_error.set(Some(message)),
        _ => {}
    }
}

pub(super) fn on_model_message(state: AppState, seqs: &Seqs, msg: FromWorker) {
    let latest = seqs.model.get();
    match msg {
        FromWorker::ModelProgress {
            loaded,
            total,
            elapsed_ms,
        } => state.model.set(ModelState::Downloading {
            loaded,
            total,
            rate: (elapsed_ms > 0.0).then(|| loaded as f64 / (elapsed_ms / 1e3)),
        }),
        FromWorker::ModelReady {
            summary,
            load_ms,
            from_cache,
        } => {
            follow_engine(state, &summary.engine);
            state.model.set(ModelState::Ready(Box::new(ModelInfo {
                summary,
                load_ms,
                from_cache,
                saved: from_cache,
            })))
        }
        FromWorker::BackendChanged { engine, notice } => {
            follow_engine(state, &engine);
            state.model.update(|m| {
                if let ModelState::Ready(info) = m {
                    info.summary.backend = engine.label();
                    info.summary.engine = engine;
                }
            });
            // Speeds measured on the other backend no longer apply.
            state.speed.set(Default::default());
            if notice.is_some() {
                state.backend_notice.set(notice);
            }
        }
        FromWorker::ModelFailed { message } => {
            state.running.set(false);
            state.model.set(ModelState::Failed(message))
        }
        FromWorker::ModelCached => state.model.update(|m| {
            if let ModelState::Ready(info) = m {
                info.saved = true;
            }
        }),
        FromWorker::ModelCacheCleared => state.model.update(|m| {
            if let ModelState::Ready(info) = m {
                info.from_cache = false;
                info.saved = false;
            }
        }),
        FromWorker::NextProgress { seq, done, total } if seq == latest => {
            state.next.set(NextState::Reading { done, total })
        }
        FromWorker::Appended { seq, token } if seq == latest => {
            state.continuation.update(|c| {
                c.push(Generated {
                    id: token.id,
                    forced: false,
                    pieces: token.pieces,
                })
            });
            // The scores on screen are for the context before this token.
            state.stale.set(true);
        }
        FromWorker::GenerateDone { seq } if seq == latest => state.running.set(false),
        FromWorker::Scores {
            seq,
            scores,
            ms,
            memory_bytes,
        } if seq == latest => {
            state.speed.update(|speed| {
                speed.memory_bytes = memory_bytes;
                match scores.computed_tokens {
                    0 => {}
                    1 => speed.decode_ms = Some(ms),
                    n => speed.prefill = Some(n as f64 / (ms / 1e3)),
                }
            });
            // The tokens after the text, as the model's tokenizer spells them.
            let ids: Vec<u32> = scores.continuation.tokens.iter().map(|t| t.id).collect();
            state.continuation.update(|c| {
                if c.iter().map(|g| g.id).eq(ids.iter().copied()) {
                    for (g, t) in c.iter_mut().zip(&scores.continuation.tokens) {
                        if g.pieces != t.pieces {
                            g.pieces = t.pieces.clone();
                        }
                    }
                }
            });
            state.stale.set(false);
            state.next.set(NextState::Done(Box::new(Scores {
                scores: *scores,
                ms,
            })));
        }
        FromWorker::Inside { seq, inside, ms } if seq == seqs.inside.get() => {
            state.inside.set(InsideState::Done(inside, ms))
        }
        FromWorker::InsideFailed { seq, message } if seq == seqs.inside.get() => {
            state.inside.set(InsideState::Failed(message))
        }
        FromWorker::NextFailed { seq, message } if seq == latest => {
            state.running.set(false);
            state.stale.set(false);
            state.next.set(NextState::Failed(message))
        }
        _ => {}
    }
}

/// Keeps the backend switch in step with where the model runs: WebGPU asked for but not
/// available (or lost) shows as the CPU, with the reason beside it.
fn follow_engine(state: AppState, engine: &crate::protocol::Backend) {
    if state.backend_pref.get_untracked() == Preference::Webgpu && !engine.on_gpu() {
        state.backend_pref.set(Preference::Cpu);
    }
}
