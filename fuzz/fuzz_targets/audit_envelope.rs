//! Envelopes are read back from a database file anyone with write access can
//! edit, and from bundles received from other machines: the decoder must accept
//! or reject any bytes without panicking, and what it accepts must be exactly
//! the bytes it was given, split into header, nonce and sealed record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_audit::envelope;

fuzz_target!(|data: &[u8]| {
    let _ = envelope::peek_seq_time(data);
    if let Ok(env) = envelope::parse(data) {
        let again = envelope::assemble(env.header_bytes, env.nonce, env.sealed);
        assert_eq!(again, data, "parse then assemble must give back the input");
        let encoded = env.header.encode().expect("a parsed header encodes");
        assert_eq!(encoded, env.header_bytes, "the header round-trips");
    }
    // The sealed record's plaintext is JSON; its decoder sees the same bytes.
    let _ = warden_audit::record::decode(data);
});
