//! How the worker waits: for a message, for a vocabulary, for the page to say something newer.
//!
//! - [`Notify`] wakes every task waiting on it when something changed (a request arrived, a
//!   vocabulary finished loading). Tasks sleep until then: nothing polls.
//! - [`Latest`] is a one-slot mailbox: a newer request replaces an older one that has not
//!   started, so typing never queues up stale work.
//! - [`yield_to_events`] lets the browser deliver queued messages between two chunks of work,
//!   without the 4 ms clamp of nested `setTimeout(0)`; [`sleep`] waits a while.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Wakes all waiting tasks at each [`Notify::notify`].
#[derive(Default)]
pub struct Notify {
    generation: Cell<u64>,
    wakers: RefCell<Vec<Waker>>,
}

impl Notify {
    pub fn notify(&self) {
        self.generation.set(self.generation.get() + 1);
        for w in self.wakers.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Resolves at the first [`Notify::notify`] after this call.
    pub fn wait(self: &Rc<Self>) -> Wait {
        Wait {
            notify: Rc::clone(self),
            seen: self.generation.get(),
        }
    }
}

pub struct Wait {
    notify: Rc<Notify>,
    seen: u64,
}

impl Future for Wait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.notify.generation.get() != self.seen {
            return Poll::Ready(());
        }
        self.notify.wakers.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
}

/// A one-slot mailbox: the newest value wins.
pub struct Latest<T> {
    slot: RefCell<Option<T>>,
}

impl<T> Default for Latest<T> {
    fn default() -> Self {
        Self {
            slot: RefCell::new(None),
        }
    }
}

impl<T> Latest<T> {
    /// Puts `v` in the slot, dropping whatever was waiting there.
    pub fn put(&self, v: T) {
        *self.slot.borrow_mut() = Some(v);
    }
    pub fn take(&self) -> Option<T> {
        self.slot.borrow_mut().take()
    }
    pub fn is_full(&self) -> bool {
        self.slot.borrow().is_some()
    }
    pub fn clear(&self) {
        self.slot.borrow_mut().take();
    }
}

/// Lets the event loop run once (delivering queued messages) before continuing: a message to
/// ourselves through a `MessageChannel`, which browsers do not throttle.
pub async fn yield_to_events() {
    let promise = Promise::new(
        &mut |resolve, _reject| match web_sys::MessageChannel::new() {
            Ok(channel) => {
                let resolve: &js_sys::Function = resolve.unchecked_ref();
                channel.port1().set_onmessage(Some(resolve));
                if channel.port2().post_message(&JsValue::NULL).is_err() {
                    let _ = resolve.call0(&JsValue::NULL);
                }
            }
            Err(_) => {
                let _ = resolve.call0(&JsValue::NULL);
            }
        },
    );
    let _ = JsFuture::from(promise).await;
}

/// Resolves after `ms` milliseconds (`setTimeout`; at once where there is none).
pub async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _reject| {
        let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        if scope
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .is_err()
        {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = JsFuture::from(promise).await;
}
