//! What personal data costs the engine per contact, and what a keystore save costs: sealing and
//! opening a value of a caller's typical size, a pseudonym, the file keystore's journal append
//! of a new customer's key, and its atomic, fsynced rewrite at 10 000 and 100 000 subjects. Prints a Markdown table (BENCHMARKS.md).
//!
//! `cargo bench -p switchboard-privacy --bench privacy_costs` (`SWITCHBOARD_BENCH_QUICK=1` for
//! a short run).

use std::hint::black_box;
use std::time::{Duration, Instant};

use switchboard_privacy::{Changes, FileKeystore, KEYSTORE_FILE, SubjectKind};

/// A typical personal value: a name, or a caller's number with a note.
const VALUE: &[u8] = b"Mrs A. Example, 07700 900123, flat 4b";

/// Times `run` over `iterations` calls and gives the mean per call.
fn mean(iterations: u32, mut run: impl FnMut(u32)) -> Duration {
    let start = Instant::now();
    for i in 0..iterations {
        run(i);
    }
    start.elapsed() / iterations
}

fn main() {
    let quick = std::env::var_os("SWITCHBOARD_BENCH_QUICK").is_some();
    let iterations = if quick { 20_000 } else { 200_000 };
    let dir = tempfile::tempdir().expect("a scratch directory");
    let mut store = FileKeystore::create(dir.path().join(KEYSTORE_FILE)).expect("keystore");
    let mut changes = Changes::default();
    let keys = store.keys_mut();
    let subject = keys.customer("CUST-1001");
    let sealed = keys.seal(subject, VALUE, &mut changes).expect("seal");

    println!("| what | mean |");
    println!("|---|---|");
    let seal = mean(iterations, |_| {
        black_box(
            keys.seal(subject, black_box(VALUE), &mut changes)
                .expect("seal"),
        );
    });
    println!("| seal a {}-byte value | {seal:.2?} |", VALUE.len());
    let open = mean(iterations, |_| {
        black_box(keys.unseal(black_box(&sealed)).expect("open"));
    });
    println!("| open it | {open:.2?} |");
    let pseudonym = mean(iterations, |i| {
        black_box(switchboard_privacy::Pseudonym::of(
            keys.secret(),
            SubjectKind::Customer,
            &format!("CUST-{i}"),
        ));
    });
    println!("| pseudonym of a reference (with its formatting) | {pseudonym:.2?} |");

    let mut made = 1_u32;
    for subjects in [10_000_u32, 100_000] {
        while made < subjects {
            let keys = store.keys_mut();
            let subject = keys.customer(&format!("CUST-{made}"));
            keys.seal(subject, VALUE, &mut changes).expect("seal");
            made += 1;
        }
        let saves = if quick { 3 } else { 10 };
        let save = mean(saves, |_| store.save().expect("save"));
        let bytes = std::fs::metadata(store.path()).expect("size").len();
        println!("| rewrite the keystore file, {subjects} subjects ({bytes} bytes) | {save:.2?} |");
    }
    let appends = if quick { 20 } else { 200 };
    let append = mean(appends, |i| {
        let mut changes = Changes::default();
        let keys = store.keys_mut();
        let subject = keys.customer(&format!("NEW-{i}"));
        keys.seal(subject, VALUE, &mut changes).expect("seal");
        store.commit(&changes).expect("append");
    });
    println!(
        "| a new customer's key appended to the journal (with its fdatasync) | {append:.2?} |"
    );
}
