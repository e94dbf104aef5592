//! The requests the page sends, built from what the user sees right now. Nothing is computed
//! here: each is the core service's own request type, filled from the signals.

use leptos::prelude::*;
use tokenmeter_core::service::cost::CostRequest;
use tokenmeter_core::service::inside::InsideRequest;
use tokenmeter_core::service::next::{GenerateRequest, NextRequest};
use tokenmeter_core::service::tokens::ColumnsRequest;

use super::state::{AppState, ModelState};

/// The token columns: the text split by each tokenizer shown, or the typed IDs decoded.
pub fn columns(state: AppState) -> ColumnsRequest {
    let tokenizers = state.columns.get_untracked();
    if state.decode.get_untracked() {
        ColumnsRequest::Decode {
            ids: state.ids_input.get_untracked(),
            tokenizers,
        }
    } else {
        ColumnsRequest::Tokenize {
            text: state.text.get_untracked(),
            tokenizers,
        }
    }
}

/// The next-token scores for the text, the tokens after it and the settings.
pub fn next(state: AppState) -> NextRequest {
    let s = state.settings.get_untracked();
    NextRequest {
        text: state.text.get_untracked(),
        chat: s.chat,
        bos: false,
        continuation: state
            .continuation
            .with_untracked(|c| c.iter().map(|g| g.id).collect()),
        top: s.top,
        sampler: s.sampler,
        search: s.search,
        surprisal: s.surprisal,
    }
}

/// The look inside the model: the prompt of the scores request `next`, at the chosen position.
pub fn inside(state: AppState, next: NextRequest) -> InsideRequest {
    InsideRequest {
        text: next.text,
        chat: next.chat,
        bos: next.bos,
        continuation: next.continuation,
        position: state.inside_position.get_untracked(),
        top: LENS_TOP,
    }
}

/// Candidates per block in the lens grid.
pub const LENS_TOP: usize = 5;

/// Draw `n` tokens after what the user sees now, and score the context after them.
pub fn generate(state: AppState, n: usize) -> GenerateRequest {
    GenerateRequest {
        next: next(state),
        max_tokens: n,
        then_score: true,
    }
}

/// Whether there is anything to predict from.
pub fn has_prompt(req: &NextRequest) -> bool {
    !(req.text.is_empty() && req.continuation.is_empty() && !req.chat)
}

/// The user's own model, when it runs in the page, as the physics sees it: counted with its own
/// tokenizer (the column its file added).
pub fn own_model_shape(state: AppState) -> Option<tokenmeter_core::physics::ModelShape> {
    let file = state.own_model.get_untracked()?;
    let ModelState::Ready(info) = state.model.get_untracked() else {
        return None;
    };
    let id = state
        .custom
        .get_untracked()
        .into_iter()
        .find(|(_, name)| *name == file)?
        .0;
    Some(info.summary.shape(&id))
}

/// The cost panel: the text priced with the panel's settings; the languages of the columns.
pub fn cost(state: AppState) -> CostRequest {
    let device = match (
        state.model.get_untracked(),
        state.speed.get_untracked().decode_ms,
    ) {
        (ModelState::Ready(m), Some(ms)) if ms > 0.0 => Some((m.summary.n_params as f64, 1e3 / ms)),
        _ => None,
    };
    CostRequest {
        text: state.text.get_untracked(),
        models: Vec::new(),
        settings: state.cost_settings.get_untracked(),
        device,
        languages_for: state.columns.get_untracked(),
        own_model: own_model_shape(state).map(Box::new),
    }
}
