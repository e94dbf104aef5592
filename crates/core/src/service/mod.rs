//! tokenmeter's service layer: every request either front end makes, answered once, here.
//!
//! The page's workers and the CLI are adapters: they move bytes (messages, files, downloads),
//! parse arguments and print or post the answer. Each request has one typed request, one typed
//! response (what the CLI prints as JSON and what the worker posts) and one function:
//!
//! | request            | function                                 | CLI                  | page (worker message)   |
//! |--------------------|------------------------------------------|----------------------|-------------------------|
//! | tokenize           | [`tokens::tokenize`]                     | `tokenize`           | `Columns` (per column)  |
//! | decode             | [`tokens::decode`]                       | `decode`             | `Columns` (decode mode) |
//! | side-by-side view  | [`tokens::columns`]                      | —                    | `Columns`               |
//! | list tokenizers    | [`tokens::tokenizers`]                   | `tokenizers`         | the picker              |
//! | load tokenizer     | [`tokens::read_tokenizer_file`]          | `--tokenizer-file`   | `AddTokenizer`          |
//! | load model         | [`model::LoadedModel::read`], `summary`  | `model`              | `LoadModel`             |
//! | next               | [`next::next`]                           | `next`               | `Next`                  |
//! | generate step      | [`next::generate`]                       | `generate`           | `Generate`              |
//! | explain token      | [`explain::explain`]                     | `explain-token`      | —                       |
//! | logit lens         | [`inside::lens`]                         | `lens`               | —                       |
//! | attention          | [`inside::attention`]                    | `attention`          | —                       |
//! | surprisal          | [`surprisal::surprisal`] ([`surprisal::report`]) | `surprisal`  | inside `Next`           |
//! | cost               | [`cost::cost`]                           | `cost`               | `Cost`                  |
//! | gpu-cost           | [`gpu_cost::gpu_cost`]                   | `gpu-cost`           | inside `Cost`           |
//! | bench              | [`bench::bench`]                         | `bench`              | `Bench`                 |
//! | link state         | [`link::decode`], [`link::sanitize`]     | —                    | the page's address      |
//!
//! Every request field is checked in one place ([`limits`]): the same ranges and the same
//! messages ([`Msg`](crate::Msg)) on both front ends.

pub mod bench;
pub mod cost;
pub mod explain;
pub mod gpu_cost;
pub mod inside;
pub mod limits;
pub mod link;
pub mod model;
pub mod next;
pub mod surprisal;
pub mod tokens;
