//! What a proxy client sends is untrusted: a CONNECT authority, an absolute
//! URL, a TLS ClientHello, SOCKS5 handshake messages. Each reader must accept
//! or refuse any bytes without panicking, and never claim more bytes than given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_proxy::{sni, socks, target};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = target::connect_target(&text);
    let _ = target::absolute_target(&text);
    let _ = sni::server_name(data);
    if let Ok(Some((_, n))) = socks::parse_greeting(data) {
        assert!(n <= data.len());
    }
    if let Ok(Some((_, n))) = socks::parse_user_pass(data) {
        assert!(n <= data.len());
    }
    if let Ok(Some((_, n))) = socks::parse_request(data) {
        assert!(n <= data.len());
    }
});
