//! Decompression of Btrfs extents: zlib (a zlib stream), LZO (Btrfs's
//! segment framing, [`super::lzo`]) and zstd (one frame). A stream that
//! ends short of the extent's decompressed length is padded with zeros, as
//! the kernel does.

use super::items::Compression;

/// Most bytes a compressed extent decompresses to (BTRFS_MAX_UNCOMPRESSED
/// is 128 KiB; inline extents are smaller still).
pub const MAX_UNCOMPRESSED: u64 = 128 << 10;
/// Most bytes a compressed extent takes on disk.
pub const MAX_COMPRESSED: u64 = 128 << 10;

/// Decompresses `input` into exactly `len` (<= [`MAX_UNCOMPRESSED`]) bytes.
pub fn decompress(
    c: Compression,
    input: &[u8],
    len: usize,
    sectorsize: usize,
) -> Result<Vec<u8>, String> {
    if len as u64 > MAX_UNCOMPRESSED {
        return Err(format!("decompressed length {len} exceeds 128 KiB"));
    }
    let mut out = match c {
        Compression::None => input
            .get(..len.min(input.len()))
            .unwrap_or_default()
            .to_vec(),
        Compression::Zlib => {
            let mut out = vec![0u8; len];
            let mut st =
                miniz_oxide::inflate::stream::InflateState::new(miniz_oxide::DataFormat::Zlib);
            let r = miniz_oxide::inflate::stream::inflate(
                &mut st,
                input,
                &mut out,
                miniz_oxide::MZFlush::Finish,
            );
            match r.status {
                Ok(_) => {}
                // Output full before the stream's end is fine only when
                // nothing was lost.
                Err(miniz_oxide::MZError::Buf) if r.bytes_written == len => {}
                Err(e) => return Err(format!("zlib: {e:?}")),
            }
            out.truncate(r.bytes_written);
            out
        }
        Compression::Lzo => {
            super::lzo::decompress_btrfs(input, len, sectorsize).map_err(|e| format!("lzo: {e}"))?
        }
        Compression::Zstd => {
            use std::io::Read;
            let mut out = vec![0u8; len];
            let mut dec =
                ruzstd::decoding::StreamingDecoder::new(input).map_err(|e| format!("zstd: {e}"))?;
            let mut filled = 0;
            while let Some(rest) = out.get_mut(filled..).filter(|r| !r.is_empty()) {
                match dec.read(rest) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) => return Err(format!("zstd: {e}")),
                }
            }
            out.truncate(filled);
            out
        }
    };
    out.resize(len, 0);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn zlib_and_padding() {
        let data = b"hello hello hello hello".repeat(50);
        let z = miniz_oxide::deflate::compress_to_vec_zlib(&data, 6);
        assert_eq!(
            decompress(Compression::Zlib, &z, data.len(), 4096).unwrap(),
            data
        );
        // A longer extent is padded with zeros.
        let got = decompress(Compression::Zlib, &z, data.len() + 10, 4096).unwrap();
        assert_eq!(&got[data.len()..], &[0u8; 10]);
        assert!(decompress(Compression::Zlib, &z[..5], 100, 4096).is_err());
        assert!(decompress(Compression::Zstd, b"nonsense", 100, 4096).is_err());
        assert!(decompress(Compression::Lzo, b"\x01", 100, 4096).is_err());
        assert!(decompress(Compression::Zlib, &z, 1 << 20, 4096).is_err());
    }
}
