//! Drives one `Connection` through an arbitrary script: the peer's bytes in
//! reads of any size, short writes and `WouldBlock`, one-shot and persistent
//! errors (`Interrupted`, resets, ...), end of stream, readiness flags in any
//! combination, `stop` and `linger` at any point, under any greeting,
//! `max_pending`, read buffer, read budget and short-I/O rule. The script,
//! how bytes decode into one, and its invariant checks are
//! `portable_echo::testing::Script`'s (shared with the property and
//! regression tests); a violation panics with the script, which pastes into
//! a test as `Script { .. }.run()`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portable_echo::testing::Script;

fuzz_target!(|script: Script| {
    if let Err(violation) = script.run() {
        panic!("{violation}\n{script:#?}");
    }
});
