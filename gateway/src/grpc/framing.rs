//! gRPC length-prefixed message framing.
//!
//! Every gRPC message on the wire is a 5-byte prefix (one flag byte, then
//! a big-endian u32 length) followed by that many bytes. gRPC-Web reuses
//! the framing and marks its trailer frame with flag bit `0x80`.
//! [`encode`] writes one frame; [`FrameDecoder`] cuts frames out of body
//! chunks however they were split on the way.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The flag bit of a gRPC-Web trailer frame.
pub const TRAILER_FLAG: u8 = 0x80;
/// The flag bit of a compressed message.
pub const COMPRESSED_FLAG: u8 = 0x01;
/// Largest message the gateway accepts from either side (gRPC's usual limit
/// is 4 MiB; we allow more for bulk calls).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

const PREFIX_LEN: usize = 5;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub flags: u8,
    pub payload: Bytes,
}

impl Frame {
    pub fn is_trailers(&self) -> bool {
        self.flags & TRAILER_FLAG != 0
    }
}

/// Why a byte stream is not valid gRPC framing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("message of {0} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("compressed messages are not supported (no grpc-encoding was negotiated)")]
    Compressed,
    #[error("the stream ended inside a message ({0} bytes left over)")]
    Truncated(usize),
}

/// Frames one uncompressed message.
pub fn encode(message: &[u8]) -> Bytes {
    encode_with_flags(0, message)
}

/// Frames a payload with the given flag byte.
pub fn encode_with_flags(flags: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(PREFIX_LEN + payload.len());
    out.put_u8(flags);
    out.put_u32(u32::try_from(payload.len()).unwrap_or(u32::MAX));
    out.put_slice(payload);
    out.freeze()
}

/// Cuts frames out of a stream of chunks.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: BytesMut,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a received chunk.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
    }

    /// The next whole frame, `None` if more bytes are needed. Compressed
    /// frames are refused; gRPC-Web trailer frames are returned as is.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        if self.buffer.len() < PREFIX_LEN {
            return Ok(None);
        }
        let flags = self.buffer[0];
        let len = u32::from_be_bytes([
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
            self.buffer[4],
        ]) as usize;
        if len > MAX_MESSAGE_BYTES {
            return Err(FramingError::TooLarge(len));
        }
        if flags & COMPRESSED_FLAG != 0 && flags & TRAILER_FLAG == 0 {
            return Err(FramingError::Compressed);
        }
        if self.buffer.len() < PREFIX_LEN + len {
            self.buffer.reserve(PREFIX_LEN + len - self.buffer.len());
            return Ok(None);
        }
        self.buffer.advance(PREFIX_LEN);
        let payload = self.buffer.split_to(len).freeze();
        Ok(Some(Frame { flags, payload }))
    }

    /// Checks that the stream ended on a frame boundary.
    pub fn finish(&self) -> Result<(), FramingError> {
        if self.buffer.is_empty() {
            Ok(())
        } else {
            Err(FramingError::Truncated(self.buffer.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_prefix_and_payload() {
        assert_eq!(&encode(b"abc")[..], &[0, 0, 0, 0, 3, b'a', b'b', b'c']);
        assert_eq!(&encode(b"")[..], &[0, 0, 0, 0, 0]);
    }

    #[test]
    fn decodes_frames_split_at_every_byte() {
        let mut wire = encode(b"hello").to_vec();
        wire.extend_from_slice(&encode(b""));
        wire.extend_from_slice(&encode_with_flags(TRAILER_FLAG, b"grpc-status: 0\r\n"));
        let mut decoder = FrameDecoder::new();
        let mut frames = Vec::new();
        for byte in wire {
            decoder.push(&[byte]);
            while let Some(frame) = decoder.next_frame().unwrap() {
                frames.push(frame);
            }
        }
        decoder.finish().unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(&frames[0].payload[..], b"hello");
        assert!(frames[1].payload.is_empty() && !frames[1].is_trailers());
        assert!(frames[2].is_trailers());
    }

    #[test]
    fn decodes_many_frames_from_one_chunk() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&[encode(b"a"), encode(b"bc")].concat());
        assert_eq!(&decoder.next_frame().unwrap().unwrap().payload[..], b"a");
        assert_eq!(&decoder.next_frame().unwrap().unwrap().payload[..], b"bc");
        assert_eq!(decoder.next_frame().unwrap(), None);
    }

    #[test]
    fn refuses_oversized_and_compressed_frames() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&[0, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            decoder.next_frame(),
            Err(FramingError::TooLarge(_))
        ));
        let mut decoder = FrameDecoder::new();
        decoder.push(&encode_with_flags(COMPRESSED_FLAG, b"x"));
        assert_eq!(decoder.next_frame(), Err(FramingError::Compressed));
    }

    #[test]
    fn reports_a_truncated_stream() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&encode(b"abcdef")[..7]);
        assert_eq!(decoder.next_frame().unwrap(), None);
        assert_eq!(decoder.finish(), Err(FramingError::Truncated(7)));
    }
}
