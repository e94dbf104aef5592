//! The tokenizer worker's role: vocabularies loaded on first use, the user's own tokenizer files,
//! the price table, the exercise sets. It keeps only the newest columns and cost requests and
//! answers them again whenever a vocabulary (or the price table) arrives, so a column fills in
//! as soon as its vocabulary is ready.
//!
//! Vocabularies download one at a time (unless one stalls), in the order they were asked for
//! (the first column first), and are read (the tokenizer built: the worker's longest work, up to a second for the
//! largest) one at a time by the answer loop, the first column first, with the answers posted in
//! between: the first column (all a widget's reader waits for) never shares the connection, or
//! this thread's inflating, with a larger vocabulary, and the next one downloads while it is
//! read. Before the page has sent anything, `public/early-tokens.js` sends the address's fragment
//! (`ToWorker::Preload`) and the downloads start from the columns it names.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use wasm_bindgen_futures::spawn_local;

use tokenmeter_core::cost::PriceTable;
use tokenmeter_core::exercises::{ExerciseSet, Index};
use tokenmeter_core::msg;
use tokenmeter_core::service::cost::{self, CostRequest};
use tokenmeter_core::service::explain::{self, ExplainRequest};
use tokenmeter_core::service::limits::{MAX_TOKENS_SHOWN, MAX_USER_TOKENIZERS};
use tokenmeter_core::service::link;
use tokenmeter_core::service::tokens::{self, ColumnsRequest, JsonReader, VocabState};
use tokenmeter_core::tokenizer::TextTokenizer;
use tokenmeter_core::Msg;

use super::mailbox::{sleep, yield_to_events, Latest, Notify};
use super::{net, now_ms, post};
use crate::protocol::{FromWorker, ToWorker};

/// Where the converted shipped vocabularies are served, packed (written by `cargo xtask data`;
/// `tokenizer::packed`).
fn vocab_url(id: &str) -> String {
    format!("vocab/{id}.vocab.gz")
}
/// A vocabulary download still running after this long (a stalled connection) no longer keeps
/// the next one waiting.
const STALLED_MS: i32 = 4_000;
/// Where the trimmed LiteLLM price table is served.
const PRICES_URL: &str = "prices/prices.json.gz";
/// Compressed and inflated size limits of what this role downloads or is given.
const MAX_VOCAB_BYTES: u64 = 64_000_000;
const MAX_PRICES_BYTES: u64 = 16_000_000;
/// A GGUF's tokenizer is in its first megabytes: files larger than this are read only that far.
const GGUF_HEAD: f64 = 64e6;
/// A `tokenizer.json` (or its gzip) larger than this, before or after inflating, is refused.
const MAX_JSON: u64 = 256_000_000;

/// A token to explain: (seq, its tokenizer, the request, the columns to compare with).
type Explain = (u64, String, ExplainRequest, Vec<String>);

pub struct Tokens {
    vocabs: RefCell<HashMap<String, VocabState>>,
    /// Shipped vocabularies asked for and waiting for their download, in the order asked.
    to_download: RefCell<VecDeque<String>>,
    /// The download the others wait for, by serial number (`None`: none; see
    /// [`Tokens::download_next`]), and the serial number of the last one started.
    holding: Cell<Option<u64>>,
    downloads: Cell<u64>,
    /// Shipped vocabularies downloaded (and inflated) but not read yet, in arrival order.
    downloaded: RefCell<Vec<Downloaded>>,
    /// The vocabularies to download and read first, in order: the newest columns request's
    /// (before it, those of the columns the page's address names: `ToWorker::Preload`).
    first: RefCell<Vec<String>>,
    files_added: Cell<usize>,
    prices: RefCell<Option<Result<Rc<PriceTable>, Msg>>>,
    prices_loading: Cell<bool>,
    columns: Latest<(u64, ColumnsRequest)>,
    cost: Latest<(u64, CostRequest)>,
    explain: Latest<Explain>,
    /// Something changed: a request arrived, a vocabulary downloaded or became ready, the price
    /// table loaded.
    changed: Rc<Notify>,
    /// The answers posted no longer hold: a request arrived, a vocabulary became ready or
    /// failed, the price table loaded (a download arriving changes no answer until it is read).
    stale: Cell<bool>,
    /// How a user's `tokenizer.json` is read: our own pipeline only in the light tokens worker
    /// (which then leaves the Hugging Face crate out of its build), any in the full worker.
    json: JsonReader,
}

impl Tokens {
    /// Whether a message is for this role.
    pub fn takes(msg: &ToWorker) -> bool {
        matches!(
            msg,
            ToWorker::Preload { .. }
                | ToWorker::Columns { .. }
                | ToWorker::AddTokenizer { .. }
                | ToWorker::Cost { .. }
                | ToWorker::Exercises
                | ToWorker::TokenizeBatch { .. }
                | ToWorker::Explain { .. }
        )
    }

    /// The role in the light tokens worker: a user's file that needs the full tokenizers library
    /// is answered `TokenizerNeedsFull` (the page then moves this role to the full worker).
    pub fn start_light() -> Rc<Self> {
        Self::start(TextTokenizer::from_json)
    }

    /// The role in the full worker, which reads any `tokenizer.json`.
    pub fn start_full() -> Rc<Self> {
        Self::start(TextTokenizer::from_json_any)
    }

    fn start(json: JsonReader) -> Rc<Self> {
        let role = Rc::new(Self {
            vocabs: RefCell::new(HashMap::new()),
            to_download: RefCell::new(VecDeque::new()),
            holding: Cell::new(None),
            downloads: Cell::new(0),
            downloaded: RefCell::new(Vec::new()),
            first: RefCell::new(Vec::new()),
            files_added: Cell::new(0),
            prices: RefCell::new(None),
            prices_loading: Cell::new(false),
            columns: Latest::default(),
            cost: Latest::default(),
            explain: Latest::default(),
            changed: Rc::new(Notify::default()),
            stale: Cell::new(false),
            json,
        });
        spawn_local(answer_loop(Rc::clone(&role)));
        role
    }

    pub fn handle(self: &Rc<Self>, msg: ToWorker, file: Option<web_sys::File>) {
        match msg {
            ToWorker::Preload { fragment } => {
                *self.first.borrow_mut() = link::columns_at(&fragment);
                let first = self.first.borrow().clone();
                for id in &first {
                    self.vocab(id);
                }
            }
            ToWorker::Columns { seq, req } => {
                self.columns.put((seq, req));
                self.touch();
            }
            ToWorker::Cost { seq, req } => {
                self.cost.put((seq, req));
                self.touch();
            }
            ToWorker::Explain {
                seq,
                tokenizer,
                req,
                compare,
            } => {
                self.explain.put((seq, tokenizer, req, compare));
                self.touch();
            }
            ToWorker::AddTokenizer { id, name } => {
                spawn_local(add_tokenizer(Rc::clone(self), id, name, file))
            }
            ToWorker::TokenizeBatch { tokenizer, texts } => {
                spawn_local(tokenize_batch(Rc::clone(self), tokenizer, texts))
            }
            ToWorker::Exercises => spawn_local(async {
                post(&FromWorker::Exercises(load_exercises().await));
            }),
            _ => {}
        }
    }

    /// Something the answers depend on changed: answer again.
    fn touch(&self) {
        self.stale.set(true);
        self.changed.notify();
    }

    /// Vocabulary `id` as it stands, queueing its download if it is shipped and not asked for
    /// yet.
    fn vocab(self: &Rc<Self>, id: &str) -> VocabState {
        if let Some(v) = self.vocabs.borrow().get(id) {
            return v.clone();
        }
        let state = match tokens::shipped(id) {
            Err(unknown) => VocabState::Failed(unknown),
            Ok(_) => {
                self.to_download.borrow_mut().push_back(id.to_string());
                VocabState::Loading
            }
        };
        self.vocabs
            .borrow_mut()
            .insert(id.to_string(), state.clone());
        self.download_next();
        state
    }

    /// Starts the next queued download (the first of [`Self::first`] queued, else the one asked
    /// for first) unless one holds the others back; each finished download starts the one after
    /// it. One taking longer than [`STALLED_MS`] (a stalled connection) stops holding them back.
    fn download_next(self: &Rc<Self>) {
        if self.holding.get().is_some() {
            return;
        }
        let next = {
            let mut queue = self.to_download.borrow_mut();
            let first = self.first.borrow();
            let at = first
                .iter()
                .find_map(|id| queue.iter().position(|q| q == id))
                .unwrap_or(0);
            queue.remove(at)
        };
        let Some(id) = next else {
            return;
        };
        let Ok(spec) = tokens::shipped(&id) else {
            return; // never queued: `vocab` queues shipped ones only
        };
        let serial = self.downloads.get() + 1;
        self.downloads.set(serial);
        self.holding.set(Some(serial));
        let (role, info) = (Rc::clone(self), spec.info());
        spawn_local(async move {
            let packed = download_vocab(&id).await;
            role.downloaded
                .borrow_mut()
                .push(Downloaded { id, info, packed });
            // The next download starts before this one is read (the read runs first when the
            // answer loop is woken first).
            role.release(serial);
            role.changed.notify();
        });
        let role = Rc::clone(self);
        spawn_local(async move {
            sleep(STALLED_MS).await;
            role.release(serial);
        });
    }

    /// Download `serial` no longer holds the others back (if it still did): start the next.
    fn release(self: &Rc<Self>, serial: u64) {
        if self.holding.get() == Some(serial) {
            self.holding.set(None);
            self.download_next();
        }
    }

    /// Reads one downloaded vocabulary — the first of `wanted` that is waiting, else the one
    /// that arrived first — and makes it ready (or failed). Whether there was one.
    fn read_next(&self, wanted: &[&str]) -> bool {
        let next = {
            let mut waiting = self.downloaded.borrow_mut();
            let at = wanted
                .iter()
                .find_map(|id| waiting.iter().position(|d| d.id == *id))
                .unwrap_or(0);
            if waiting.is_empty() {
                return false;
            }
            waiting.remove(at)
        };
        let state = match next
            .packed
            .and_then(|packed| Ok(TextTokenizer::from_packed(&packed, next.info)?))
        {
            Ok(t) => VocabState::Ready(Arc::new(t)),
            Err(e) => VocabState::Failed(e),
        };
        self.vocabs.borrow_mut().insert(next.id, state);
        self.touch();
        true
    }

    /// The price table, starting its download on first use (`None` while it downloads).
    fn prices(self: &Rc<Self>) -> Option<Result<Rc<PriceTable>, Msg>> {
        let have = self.prices.borrow().clone();
        if have.is_none() && !self.prices_loading.replace(true) {
            let role = Rc::clone(self);
            spawn_local(async move {
                let table = load_prices().await.map(Rc::new);
                *role.prices.borrow_mut() = Some(table);
                role.touch();
            });
        }
        have
    }
}

/// Answers the newest columns, cost and explain requests, again whenever something they depend
/// on changed, and reads the downloaded vocabularies one per turn in between.
async fn answer_loop(role: Rc<Tokens>) {
    // What was last answered, to answer again when a vocabulary becomes ready.
    let mut columns: Option<(u64, ColumnsRequest)> = None;
    let mut cost: Option<(u64, CostRequest)> = None;
    // A token to explain, kept until its vocabularies are ready.
    let mut explaining: Option<Explain> = None;
    // A vocabulary was read last turn: answer with it at once, before anything else runs.
    let mut just_read = false;
    loop {
        let changed = role.changed.wait();
        // Let queued messages arrive before answering or starting a long read, so that only the
        // newest text is tokenized — except right after a read (its answer goes out at once),
        // and before the page's first request (the preloaded vocabularies, those it will ask
        // for first, are read at once).
        let new_request = role.columns.is_full() || role.cost.is_full() || role.explain.is_full();
        if !just_read && (new_request || columns.is_some() || cost.is_some()) {
            yield_to_events().await;
        }
        if let Some(c) = role.columns.take() {
            let (ColumnsRequest::Tokenize { tokenizers, .. }
            | ColumnsRequest::Decode { tokenizers, .. }) = &c.1;
            *role.first.borrow_mut() = tokenizers.clone();
            columns = Some(c);
        }
        if let Some(c) = role.cost.take() {
            cost = Some(c);
        }
        if let Some(e) = role.explain.take() {
            explaining = Some(e);
        }
        if role.stale.replace(false) {
            if let Some((seq, req)) = &columns {
                let lookup = |id: &str| role.vocab(id);
                post(&match tokens::columns(req, &lookup, MAX_TOKENS_SHOWN) {
                    Ok(columns) => FromWorker::Columns { seq: *seq, columns },
                    Err(message) => FromWorker::ColumnsFailed { seq: *seq, message },
                });
            }
            if let Some((seq, req)) = &cost {
                if let Some(msg) = answer_cost(&role, *seq, req) {
                    post(&msg);
                }
            }
            if let Some(msg) = explaining.as_ref().and_then(|e| answer_explain(&role, e)) {
                post(&msg);
                explaining = None;
            }
        }
        // Then read one more downloaded vocabulary, those of the columns first (in their order),
        // and answer again with it.
        let first = role.first.borrow().clone();
        let mut wanted: Vec<&str> = first.iter().map(String::as_str).collect();
        if let Some((_, tokenizer, _, compare)) = &explaining {
            wanted.push(tokenizer);
            wanted.extend(compare.iter().map(String::as_str));
        }
        just_read = !just_read && role.read_next(&wanted);
        if just_read || !role.downloaded.borrow().is_empty() {
            continue;
        }
        changed.await;
    }
}

/// A shipped vocabulary, packed, downloaded and inflated, waiting to be read.
struct Downloaded {
    id: String,
    info: tokenmeter_core::tokenizer::TokenizerInfo,
    packed: Result<Vec<u8>, Msg>,
}

/// Prices a request with whatever vocabularies are loaded (starting the others); `None` while
/// the price table downloads.
fn answer_cost(role: &Rc<Tokens>, seq: u64, req: &CostRequest) -> Option<FromWorker> {
    let table = match role.prices()? {
        Err(message) => return Some(FromWorker::CostFailed { seq, message }),
        Ok(t) => t,
    };
    let mut count = |id: &str, text: &str| -> Result<Option<u64>, Msg> {
        Ok(match role.vocab(id) {
            VocabState::Ready(tok) => Some(tok.encode(text)?.len() as u64),
            VocabState::Loading | VocabState::Failed(_) => None,
        })
    };
    Some(match cost::cost(req, &table, &mut count) {
        Ok(report) => FromWorker::Costs {
            seq,
            report: Box::new(report),
        },
        Err(message) => FromWorker::CostFailed { seq, message },
    })
}

/// Explains a token once its vocabulary and those compared with are loaded (`None` until then;
/// a vocabulary that failed is left out of the comparison).
fn answer_explain(role: &Rc<Tokens>, e: &Explain) -> Option<FromWorker> {
    let (seq, tokenizer, req, compare) = e;
    let seq = *seq;
    let tok = match role.vocab(tokenizer) {
        VocabState::Loading => return None,
        VocabState::Failed(message) => return Some(FromWorker::ExplainFailed { seq, message }),
        VocabState::Ready(t) => t,
    };
    let mut others = Vec::new();
    for id in compare {
        match role.vocab(id) {
            VocabState::Loading => return None,
            VocabState::Failed(_) => {}
            VocabState::Ready(t) => others.push(t),
        }
    }
    let others: Vec<&TextTokenizer> = others.iter().map(|t| t.as_ref()).collect();
    Some(match explain::explain(&tok, req, &others) {
        Ok(explained) => FromWorker::Explained {
            seq,
            explained: Box::new(explained),
        },
        Err(message) => FromWorker::ExplainFailed { seq, message },
    })
}

/// A shipped vocabulary, packed, downloaded and inflated (read later, see
/// [`Tokens::read_next`]).
async fn download_vocab(id: &str) -> Result<Vec<u8>, Msg> {
    let bytes = net::fetch_bytes(&vocab_url(id), &mut |_, _| {}, MAX_VOCAB_BYTES)
        .await
        .map_err(|e| msg!("could not download the {} vocabulary: {}", id, e))?;
    net::gunzip_if_needed(bytes, MAX_JSON).await
}

async fn load_prices() -> Result<PriceTable, Msg> {
    let bytes = net::fetch_bytes(PRICES_URL, &mut |_, _| {}, MAX_PRICES_BYTES)
        .await
        .map_err(|e| msg!("could not download the price table: {}", e))?;
    Ok(PriceTable::from_json(
        &net::gunzip_if_needed(bytes, 4 * MAX_PRICES_BYTES).await?,
    )?)
}

/// Reads the user's file and adds it as a vocabulary (the page names it `id`).
async fn add_tokenizer(role: Rc<Tokens>, id: String, name: String, file: Option<web_sys::File>) {
    let bytes = async {
        let file = file.ok_or_else(|| msg!("no file came with the request"))?;
        if role.files_added.get() >= MAX_USER_TOKENIZERS {
            return Err(msg!(
                "at most {} files of your own can be added; reload the page for more",
                MAX_USER_TOKENIZERS
            ));
        }
        let head = net::read_blob(&file.slice_with_f64_and_f64(0.0, 4.0).map_err(js)?).await?;
        if head == b"GGUF" {
            let size = file.size().min(GGUF_HEAD);
            net::read_blob(&file.slice_with_f64_and_f64(0.0, size).map_err(js)?).await
        } else if file.size() > MAX_JSON as f64 {
            Err(msg!(
                "{}: {} MB is too large for a tokenizer.json",
                &name,
                format!("{:.0}", file.size() / 1e6)
            ))
        } else {
            net::gunzip_if_needed(net::read_blob(&file).await?, MAX_JSON)
                .await
                .map_err(|e| msg!("{}: {}", &name, e))
        }
    }
    .await;
    // `Err(None)`: a file only the full tokenizers library reads, and this build has not got it.
    let result = bytes.map_err(Some).and_then(|bytes| {
        tokens::read_tokenizer_file_with(&bytes, &name, &id, role.json)
            .map_err(|r| (!r.needs_full).then_some(r.message))
    });
    post(&match result {
        Ok((tok, added)) => {
            role.files_added.set(role.files_added.get() + 1);
            role.vocabs
                .borrow_mut()
                .insert(id, VocabState::Ready(Arc::new(tok)));
            role.touch();
            FromWorker::TokenizerAdded(added)
        }
        Err(Some(message)) => FromWorker::TokenizerRejected { id, name, message },
        Err(None) => FromWorker::TokenizerNeedsFull { id, name },
    });
}

fn js(e: wasm_bindgen::JsValue) -> Msg {
    msg!("cannot read the file: {}", net::js_error(e))
}

/// Token IDs of many texts with one tokenizer, waiting for its vocabulary if needed.
async fn tokenize_batch(role: Rc<Tokens>, tokenizer: String, texts: Vec<String>) {
    let t0 = now_ms();
    let tok = loop {
        let changed = role.changed.wait();
        match role.vocab(&tokenizer) {
            VocabState::Ready(t) => break Ok(t),
            VocabState::Failed(m) => break Err(m),
            VocabState::Loading => changed.await,
        }
    };
    let msg = match tok {
        Err(message) => FromWorker::BatchFailed { message },
        Ok(tok) => {
            let load_ms = now_ms() - t0;
            let t1 = now_ms();
            let ids: Result<Vec<Vec<u32>>, _> = texts.iter().map(|t| tok.encode(t)).collect();
            match ids {
                Ok(ids) => FromWorker::BatchIds {
                    tokenizer,
                    ids,
                    load_ms,
                    encode_ms: now_ms() - t1,
                },
                Err(e) => FromWorker::BatchFailed { message: e.msg() },
            }
        }
    };
    post(&msg);
}

/// Fetches and checks the exercise sets listed in `exercises/index.json` (`cargo xtask data`
/// writes them from `exercises/*.toml`).
async fn load_exercises() -> Result<Vec<ExerciseSet>, Msg> {
    const MAX: u64 = 4_000_000;
    let index = net::fetch_bytes("exercises/index.json", &mut |_, _| {}, MAX)
        .await
        .map_err(|e| msg!("could not download the exercises: {}", e))?;
    let index = Index::from_json(&index)?;
    let mut sets = Vec::new();
    for id in &index.sets {
        let bytes = net::fetch_bytes(&format!("exercises/{id}.json"), &mut |_, _| {}, MAX)
            .await
            .map_err(|e| msg!("could not download the exercise set {}: {}", id, e))?;
        sets.push(ExerciseSet::from_json(&bytes)?);
    }
    Ok(sets)
}
