#!/bin/sh
# RUSTC_WORKSPACE_WRAPPER for the relaxed-SIMD worker (scripts/post_build.mjs, 0a): cargo runs it
# in place of rustc ("$1") for the workspace's own crates only; each crate it compiles gets
# relaxed SIMD on top of the flags every crate gets. The dependencies have no relaxed-SIMD path,
# so they stay as Trunk's plain worker build compiled them, and are reused.
case " $* " in
  *" --crate-name "*) exec "$@" -C target-feature=+relaxed-simd ;;
  *) exec "$@" ;;
esac
