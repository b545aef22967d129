//! Export bundles are verified on machines that received them from elsewhere:
//! the bundle reader must report any input as a verdict or an error, never
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_audit::bundle::verify_bundle;
use warden_audit::verify::VerifyOptions;

fuzz_target!(|data: &[u8]| {
    let _ = verify_bundle(
        &mut std::io::BufReader::new(data),
        &VerifyOptions::default(),
    );
});
