//! The observer's ring buffer records come from the kernel, but a BPF
//! program copies into them whatever a process put in its argv and path:
//! the decoder must take any bytes of any length without panicking, and a
//! record of the right size may only fail on its kind or address family.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_ebpf::event::{EVENT_SIZE, parse};
use warden_ebpf::{Event, EventError};

fuzz_target!(|data: &[u8]| {
    let _ = parse(data);
    // The same bytes laid over a record of the right size, so that the
    // fields past the size check are reached.
    let mut record = vec![0u8; EVENT_SIZE];
    for (i, b) in data.iter().enumerate() {
        record[i % EVENT_SIZE] ^= b;
    }
    match parse(&record) {
        Ok(e) => {
            let p = e.process();
            assert!(p.comm.chars().count() <= 16);
            if let Event::Exec { argv, .. } = &e {
                assert!(argv.len() <= 16);
            }
        }
        Err(EventError::Size(n)) => panic!("a record of {n} bytes refused for its size"),
        Err(EventError::Kind(_) | EventError::Family(_)) => {}
    }
});
