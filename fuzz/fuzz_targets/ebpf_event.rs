//! The observer's ring buffer records come from the kernel, but a BPF
//! program copies into them whatever a process put in its argv and path:
//! the decoder must take any bytes of any length without panicking, and a
//! record of its kind's size may only fail on its address family.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_ebpf::event::{ARGS_LEN, CONNECT_SIZE, EXEC_SIZE, parse};
use warden_ebpf::{Event, EventError};

fuzz_target!(|data: &[u8]| {
    let _ = parse(data);
    // The same bytes laid over a record of each kind's size, the kind set
    // to match, so that the fields past the size check are reached.
    for (kind, size) in [(1u32, EXEC_SIZE), (2, CONNECT_SIZE)] {
        let mut record = vec![0u8; size];
        for (i, b) in data.iter().enumerate() {
            record[i % size] ^= b;
        }
        record[0..4].copy_from_slice(&kind.to_ne_bytes());
        match parse(&record) {
            Ok(e) => {
                assert!(e.process().comm.chars().count() <= 16);
                if let Event::Exec { argv, .. } = &e {
                    // At most the blob's bytes, each at worst a U+FFFD.
                    let bytes: usize = argv.iter().map(String::len).sum();
                    assert!(argv.len() <= ARGS_LEN && bytes <= 3 * ARGS_LEN);
                }
            }
            Err(EventError::Family(_)) if kind == 2 => {}
            Err(e) => panic!("a kind {kind} record of its size refused: {e}"),
        }
    }
});
