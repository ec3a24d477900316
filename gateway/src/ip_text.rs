//! An IP address's text, as `Display` writes it, without `core::fmt` for
//! IPv4: the request path writes the client's address several times (the
//! forwarding family, a rate limit's key, the access log), and through
//! the formatter each IPv4 address cost about 900 instructions, nearly
//! ten times the digits themselves (callgrind).

use std::io::Write as _;
use std::net::IpAddr;

/// Longest text: an IPv6 address with an embedded IPv4 one
/// (`ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`).
const MAX_LEN: usize = 45;

/// An address's text in a buffer on the stack.
#[derive(Clone, Copy)]
pub struct IpText {
    bytes: [u8; MAX_LEN],
    len: usize,
}

impl IpText {
    pub fn of(ip: IpAddr) -> Self {
        let mut text = Self {
            bytes: [0; MAX_LEN],
            len: 0,
        };
        match ip {
            IpAddr::V4(v4) => {
                for (index, octet) in v4.octets().into_iter().enumerate() {
                    if index > 0 {
                        text.push_byte(b'.');
                    }
                    text.push_octet(octet);
                }
            }
            IpAddr::V6(_) => {
                let mut cursor = std::io::Cursor::new(&mut text.bytes[..]);
                // The buffer holds the longest text `Display` writes.
                let _ = write!(cursor, "{ip}");
                text.len = cursor.position() as usize;
            }
        }
        text
    }

    fn push_byte(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// An octet's decimal digits, without leading zeros.
    fn push_octet(&mut self, octet: u8) {
        if octet >= 100 {
            self.push_byte(b'0' + octet / 100);
        }
        if octet >= 10 {
            self.push_byte(b'0' + octet / 10 % 10);
        }
        self.push_byte(b'0' + octet % 10);
    }

    /// The text's bytes (ASCII), without the UTF-8 check of [`Self::as_str`].
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits, dots, colons and hex letters are written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_octet_is_written_as_display_writes_it() {
        for octet in 0..=255u8 {
            let ip = IpAddr::from([octet, 255 - octet, octet / 2, octet % 10]);
            assert_eq!(IpText::of(ip).as_str(), ip.to_string());
        }
    }

    #[test]
    fn the_text_is_what_display_writes() {
        let samples = [
            "0.0.0.0",
            "10.0.255.7",
            "255.255.255.255",
            "1.22.103.4",
            "::",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:192.0.2.128",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "1:2:3:4:5:6:7:8",
        ];
        for sample in samples {
            let ip: IpAddr = sample.parse().unwrap();
            assert_eq!(IpText::of(ip).as_str(), ip.to_string(), "{sample}");
        }
        for octet in 0..=255u8 {
            let ip = IpAddr::from([octet, 255 - octet, octet / 3, 9]);
            assert_eq!(IpText::of(ip).as_str(), ip.to_string());
        }
    }
}
