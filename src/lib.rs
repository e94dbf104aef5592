//! tokenmeter in the browser.
//!
//! Two front-end pieces share this crate, and one message protocol joins them:
//!
//! - [`app`]: the page (main thread). Leptos components that render state and send requests.
//!   It never tokenizes or runs the model itself.
//! - [`worker`]: the Web Worker. It owns the core (tokenizer, model, scoring), answers requests
//!   and reports progress. The page starts two of them: one for tokenizing (always quick), one
//!   for the model (which may be busy reading a long prompt).
//! - [`protocol`]: the typed messages between the two, in one place.

pub mod app;
pub mod protocol;
pub mod worker;
mod worker_client;
