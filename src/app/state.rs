//! The page's state: every signal the components render from, in one struct, and the shareable
//! part of it derived from those signals ([`AppState::shared`]) — the link is never kept by hand.

use leptos::prelude::*;
use tokenmeter_core::exercises::ExerciseSet;
use tokenmeter_core::service::cost::{CostResponse, CostSettings};
use tokenmeter_core::service::explain::Explained;
use tokenmeter_core::service::inside::InsideResponse;
use tokenmeter_core::service::link::{LinkToken, NextSettings, Shared};
use tokenmeter_core::service::model::ModelSummary;
use tokenmeter_core::service::next::NextResponse;
use tokenmeter_core::service::tokens::Columns;
use tokenmeter_core::tokenizer::Piece;
use tokenmeter_core::Msg;

use super::i18n;
use crate::protocol::Preference;

/// Where the model stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    /// Not asked for yet (an embedded widget loads the model only when the reader asks).
    Asleep,
    Downloading {
        loaded: u64,
        total: Option<u64>,
        /// Bytes per second so far.
        rate: Option<f64>,
    },
    Ready(Box<ModelInfo>),
    Failed(Msg),
}

/// The loaded model, as the status line shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub summary: ModelSummary,
    /// Milliseconds from the last downloaded byte to ready.
    pub load_ms: f64,
    /// The file came from this browser's Cache Storage.
    pub from_cache: bool,
    /// A copy is now in Cache Storage.
    pub saved: bool,
}

/// Where the next-token answer for the current text stands.
#[derive(Debug, Clone, PartialEq)]
pub enum NextState {
    /// Waiting for the model, or for the worker to answer.
    Waiting,
    /// Reading a long prompt: `done` of `total` tokens.
    Reading {
        done: usize,
        total: usize,
    },
    Done(Box<Scores>),
    Failed(Msg),
}

/// The worker's answer and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub scores: NextResponse,
    pub ms: f64,
}

/// A token added after the text: drawn by the sampler, or chosen by the user. Its text always
/// comes from the model's tokenizer (in the worker's answers), never from a link.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub id: u32,
    pub forced: bool,
    /// The token's text and stray bytes, once a worker has answered for it (empty until then).
    pub pieces: Vec<Piece>,
}

/// Where the look inside the model stands.
#[derive(Debug, Clone, PartialEq)]
pub enum InsideState {
    /// Asked for (or waiting for the model).
    Waiting,
    /// The answer, and the milliseconds the worker spent on it.
    Done(Box<InsideResponse>, f64),
    Failed(Msg),
}

/// A token being explained (or every token of a text): its column, its ID (`None`: the text's
/// tokens), and the worker's answer once it came.
#[derive(Debug, Clone, PartialEq)]
pub struct Explaining {
    pub tokenizer: String,
    pub id: Option<u32>,
    pub text: String,
    pub answer: Option<Result<Box<Explained>, Msg>>,
}

/// Measured speed, from the worker's answers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Speed {
    /// Tokens/s of the last answer that read several tokens at once.
    pub prefill: Option<f64>,
    /// Milliseconds of the last answer that read exactly one new token.
    pub decode_ms: Option<f64>,
    pub memory_bytes: usize,
}

/// Every signal the page renders from.
#[derive(Clone, Copy)]
pub struct AppState {
    pub text: RwSignal<String>,
    pub tokens: RwSignal<Option<Columns>>,
    pub token_error: RwSignal<Option<Msg>>,
    pub model: RwSignal<ModelState>,
    pub next: RwSignal<NextState>,
    pub settings: RwSignal<NextSettings>,
    pub continuation: RwSignal<Vec<Generated>>,
    /// The text a restored state's continuation belongs to (a link opened in the open page, Back
    /// or Forward): that text change must keep the continuation; any later edit clears it.
    pub restored_text: StoredValue<Option<String>>,
    /// A generation (Step, Run) is in progress in the model worker.
    pub running: RwSignal<bool>,
    pub speed: RwSignal<Speed>,
    pub show_ids: RwSignal<bool>,
    /// True from a request until its answer: the scores on screen are for an older context and
    /// must not be clicked.
    pub stale: RwSignal<bool>,
    /// The tokenizers shown side by side, in order.
    pub columns: RwSignal<Vec<String>>,
    /// The byte range of the text under the pointer, highlighted in every column.
    pub hovered: RwSignal<Option<(usize, usize)>>,
    /// Decode mode: the columns show the typed IDs turned back into text.
    pub decode: RwSignal<bool>,
    pub ids_input: RwSignal<String>,
    /// Tokenizers the user brought (`file:<n>` ids and their file names).
    pub custom: RwSignal<Vec<(String, String)>>,
    /// Why the last file the user brought could not be used.
    pub custom_error: RwSignal<Option<Msg>>,
    /// The file name of the user's own model when it replaces the shipped one.
    pub own_model: RwSignal<Option<String>>,
    /// The cost panel: open (it only asks for prices and vocabularies once opened), its
    /// settings, and the latest answer.
    pub cost_open: RwSignal<bool>,
    pub cost_settings: RwSignal<CostSettings>,
    pub costs: RwSignal<Option<Result<CostResponse, Msg>>>,
    /// The panel inside the model: open (it asks only once opened), the token position looked
    /// at (`None`: the last), the head shown large (block, head; 0-based), and the latest answer.
    pub inside_open: RwSignal<bool>,
    pub inside_position: RwSignal<Option<usize>>,
    pub inside_head: RwSignal<(usize, usize)>,
    pub inside: RwSignal<InsideState>,
    /// The token whose making is shown (a click on a token in a column).
    pub explaining: RwSignal<Option<Explaining>>,
    /// Where the user wants the model to run (`?backend=auto|cpu|webgpu`, or the status line).
    pub backend_pref: RwSignal<Preference>,
    /// Why the backend changed without being asked (a GPU failure); shown until dismissed.
    pub backend_notice: RwSignal<Option<Msg>>,
    /// A worker stopped and was restarted (shown until dismissed).
    pub worker_notice: RwSignal<Option<Msg>>,
    /// What was wrong with the link the page was opened with (shown until dismissed).
    pub share_notice: RwSignal<Vec<Msg>>,
    /// The state is too large to keep in a link.
    pub link_too_long: RwSignal<bool>,
    pub lang: RwSignal<i18n::Lang>,
    /// The exercise sets, once read by the worker.
    pub exercise_sets: RwSignal<Option<Result<Vec<ExerciseSet>, Msg>>>,
    /// The open exercise (set id, exercise id), and those solved in this visit.
    pub exercise: RwSignal<Option<(String, String)>>,
    pub exercises_done: RwSignal<Vec<String>>,
    /// An exercise to open once the sets arrive: `<set>/<id>`, and whether to start it afresh
    /// (`?exercise=`) rather than keep the link's own text.
    pub pending_exercise: RwSignal<Option<(String, bool)>>,
    /// The user's own state, put aside when an exercise replaced it (shown with a way back).
    pub put_aside: RwSignal<Option<Shared>>,
    /// The page was opened from a shared link.
    pub from_link: bool,
    /// The shareable state, derived from the signals above.
    pub shared: Memo<Shared>,
}

impl AppState {
    /// The page's state from a (sanitized) link's state.
    pub fn new(s: Shared, from_link: bool, lang: i18n::Lang, backend: Preference) -> Self {
        let text = RwSignal::new(s.text);
        let columns = RwSignal::new(s.columns);
        let decode = RwSignal::new(s.decode);
        let ids_input = RwSignal::new(s.ids);
        let settings = RwSignal::new(s.settings);
        let continuation = RwSignal::new(
            s.continuation
                .into_iter()
                .map(|t| Generated {
                    id: t.id,
                    forced: t.forced,
                    pieces: Vec::new(),
                })
                .collect::<Vec<_>>(),
        );
        let cost_open = RwSignal::new(s.cost_open);
        let cost_settings = RwSignal::new(s.cost);
        let inside_open = RwSignal::new(s.inside_open);
        let inside_position = RwSignal::new(s.inside_position);
        let lang = RwSignal::new(lang);
        let exercise = RwSignal::new(None::<(String, String)>);
        let shared = Memo::new(move |_| Shared {
            text: text.get(),
            // The user's own tokenizer files stay in this tab: a link names shipped ones only.
            columns: columns.with(|c| {
                c.iter()
                    .filter(|c| !c.starts_with("file:"))
                    .cloned()
                    .collect()
            }),
            decode: decode.get(),
            ids: ids_input.get(),
            settings: settings.get(),
            continuation: continuation.with(|c| {
                c.iter()
                    .map(|g| LinkToken {
                        id: g.id,
                        forced: g.forced,
                    })
                    .collect()
            }),
            cost_open: cost_open.get(),
            cost: cost_settings.get(),
            inside_open: inside_open.get(),
            inside_position: inside_position.get(),
            lang: lang.get().code().into(),
            exercise: exercise
                .get()
                .map(|(set, id)| format!("{set}/{id}"))
                .unwrap_or_default(),
            ..Shared::default()
        });
        AppState {
            text,
            tokens: RwSignal::new(None),
            token_error: RwSignal::new(None),
            model: RwSignal::new(ModelState::Downloading {
                loaded: 0,
                total: None,
                rate: None,
            }),
            next: RwSignal::new(NextState::Waiting),
            settings,
            continuation,
            running: RwSignal::new(false),
            speed: RwSignal::new(Speed::default()),
            show_ids: RwSignal::new(true),
            stale: RwSignal::new(true),
            columns,
            hovered: RwSignal::new(None),
            decode,
            ids_input,
            custom: RwSignal::new(Vec::new()),
            custom_error: RwSignal::new(None),
            own_model: RwSignal::new(None),
            cost_open,
            cost_settings,
            costs: RwSignal::new(None),
            inside_open,
            inside_position,
            inside_head: RwSignal::new((0, 0)),
            inside: RwSignal::new(InsideState::Waiting),
            explaining: RwSignal::new(None),
            backend_pref: RwSignal::new(backend),
            backend_notice: RwSignal::new(None),
            share_notice: RwSignal::new(Vec::new()),
            worker_notice: RwSignal::new(None),
            restored_text: StoredValue::new(None),
            link_too_long: RwSignal::new(false),
            lang,
            exercise_sets: RwSignal::new(None),
            exercise,
            exercises_done: RwSignal::new(Vec::new()),
            pending_exercise: RwSignal::new(
                (!s.exercise.is_empty()).then(|| (s.exercise.clone(), false)),
            ),
            put_aside: RwSignal::new(None),
            from_link,
            shared,
        }
    }

    /// Puts a (sanitized) shared state back on the page: the browser's Back button, or the
    /// state an exercise put aside.
    pub fn restore(&self, s: Shared) {
        self.restored_text.set_value(Some(s.text.clone()));
        self.text.set(s.text);
        if !s.columns.is_empty() {
            self.columns.set(s.columns);
        }
        self.decode.set(s.decode);
        self.ids_input.set(s.ids);
        self.settings.set(s.settings);
        self.continuation.set(
            s.continuation
                .into_iter()
                .map(|t| Generated {
                    id: t.id,
                    forced: t.forced,
                    pieces: Vec::new(),
                })
                .collect(),
        );
        self.cost_open.set(s.cost_open);
        self.cost_settings.set(s.cost);
        self.inside_open.set(s.inside_open);
        self.inside_position.set(s.inside_position);
        if let Some(l) = i18n::Lang::from_code(&s.lang) {
            self.lang.set(l);
        }
        self.exercise.set(
            s.exercise
                .split_once('/')
                .map(|(set, id)| (set.to_string(), id.to_string())),
        );
    }
}
