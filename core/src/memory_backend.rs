//! redb's storage held in memory, for ledgers that live in memory (tests, demos, the
//! benchmark's in-memory replay).
//!
//! Why not redb's own `InMemoryBackend`: it grows its buffer one pushed byte at a time.
//! The ledger's database grows by a whole state at every checkpoint, so growing cost
//! milliseconds per checkpoint there; here it is one zero-filled resize.

use std::io;
use std::sync::RwLock;

/// A redb storage backend in one growable buffer.
#[derive(Debug, Default)]
pub struct MemoryBackend(RwLock<Vec<u8>>);

fn out_of_range() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "offset beyond the in-memory database",
    )
}

fn poisoned() -> io::Error {
    io::Error::other("the in-memory database's lock was poisoned by a panic")
}

/// `offset .. offset + len` as a range of a buffer of `size` bytes, if it lies within.
fn span(offset: u64, len: usize, size: usize) -> Result<std::ops::Range<usize>, io::Error> {
    let start = usize::try_from(offset).map_err(|_| out_of_range())?;
    let end = start.checked_add(len).ok_or_else(out_of_range)?;
    if end > size {
        return Err(out_of_range());
    }
    Ok(start..end)
}

impl redb::StorageBackend for MemoryBackend {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.0.read().map_err(|_| poisoned())?.len() as u64)
    }

    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, io::Error> {
        let buffer = self.0.read().map_err(|_| poisoned())?;
        Ok(buffer[span(offset, len, buffer.len())?].to_vec())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let len = usize::try_from(len).map_err(|_| out_of_range())?;
        self.0.write().map_err(|_| poisoned())?.resize(len, 0);
        Ok(())
    }

    fn sync_data(&self, _eventual: bool) -> Result<(), io::Error> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut buffer = self.0.write().map_err(|_| poisoned())?;
        let range = span(offset, data.len(), buffer.len())?;
        buffer[range].copy_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::StorageBackend;

    /// Reads and writes stay within the buffer; growing zero-fills and shrinking cuts.
    #[test]
    fn reads_and_writes_stay_within_the_buffer() {
        let b = MemoryBackend::default();
        assert_eq!(b.len().unwrap(), 0);
        b.set_len(8).unwrap();
        b.write(2, &[1, 2, 3]).unwrap();
        assert_eq!(b.read(0, 8).unwrap(), [0, 0, 1, 2, 3, 0, 0, 0]);
        assert!(b.write(6, &[9, 9, 9]).is_err());
        assert!(b.read(7, 2).is_err());
        assert!(b.read(u64::MAX, 1).is_err());
        assert_eq!(b.read(0, 8).unwrap(), [0, 0, 1, 2, 3, 0, 0, 0]);
        b.set_len(3).unwrap();
        assert_eq!(b.read(0, 3).unwrap(), [0, 0, 1]);
        b.set_len(5).unwrap();
        assert_eq!(b.read(0, 5).unwrap(), [0, 0, 1, 0, 0]);
    }
}
