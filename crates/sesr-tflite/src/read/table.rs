//! Bounds-checked reads of flatbuffer tables, vectors and strings. The verifier has run before
//! them, so they never fail on a verified file; they still return errors rather than trust it.

use crate::error::{Result, TfliteError};

fn corrupt(what: &str, pos: usize) -> TfliteError {
    TfliteError::Malformed(format!("{what} at byte {pos} lies outside the file"))
}

fn read_array<const N: usize>(buf: &[u8], pos: usize) -> Result<[u8; N]> {
    buf.get(pos..pos.checked_add(N).ok_or_else(|| corrupt("a field", pos))?)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| corrupt("a field", pos))
}

pub(super) fn read_u32(buf: &[u8], pos: usize) -> Result<u32> {
    read_array::<4>(buf, pos).map(u32::from_le_bytes)
}

/// A table: its position and its vtable.
#[derive(Clone, Copy)]
pub(super) struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
    vtable: usize,
    vtable_len: usize,
}

/// A vector: where its elements start and how many there are.
#[derive(Clone, Copy)]
pub(super) struct VectorRef<'a> {
    buf: &'a [u8],
    pub(super) start: usize,
    pub(super) len: usize,
}

impl<'a> Table<'a> {
    pub(super) fn at(buf: &'a [u8], pos: usize) -> Result<Self> {
        let soffset = i32::from_le_bytes(read_array::<4>(buf, pos)?);
        let vtable =
            usize::try_from(pos as i64 - soffset as i64).map_err(|_| corrupt("a vtable", pos))?;
        let vtable_len = u16::from_le_bytes(read_array::<2>(buf, vtable)?) as usize;
        Ok(Self {
            buf,
            pos,
            vtable,
            vtable_len,
        })
    }

    /// Absolute position of a present field.
    pub(super) fn field(&self, voffset: u16) -> Result<Option<usize>> {
        if voffset as usize + 2 > self.vtable_len {
            return Ok(None);
        }
        let offset = u16::from_le_bytes(read_array::<2>(self.buf, self.vtable + voffset as usize)?);
        Ok((offset != 0).then_some(self.pos + offset as usize))
    }

    fn scalar<const N: usize, T>(
        &self,
        voffset: u16,
        default: T,
        decode: fn([u8; N]) -> T,
    ) -> Result<T> {
        match self.field(voffset)? {
            Some(pos) => Ok(decode(read_array::<N>(self.buf, pos)?)),
            None => Ok(default),
        }
    }

    pub(super) fn i8(&self, voffset: u16, default: i8) -> Result<i8> {
        self.scalar::<1, _>(voffset, default, i8::from_le_bytes)
    }

    pub(super) fn u8(&self, voffset: u16) -> Result<u8> {
        self.scalar::<1, _>(voffset, 0, u8::from_le_bytes)
    }

    pub(super) fn i32(&self, voffset: u16, default: i32) -> Result<i32> {
        self.scalar::<4, _>(voffset, default, i32::from_le_bytes)
    }

    pub(super) fn u32(&self, voffset: u16) -> Result<u32> {
        self.scalar::<4, _>(voffset, 0, u32::from_le_bytes)
    }

    pub(super) fn u64(&self, voffset: u16) -> Result<u64> {
        self.scalar::<8, _>(voffset, 0, u64::from_le_bytes)
    }

    /// Follows the offset stored in a field.
    fn indirect(&self, voffset: u16) -> Result<Option<usize>> {
        let Some(pos) = self.field(voffset)? else {
            return Ok(None);
        };
        let target = pos
            .checked_add(read_u32(self.buf, pos)? as usize)
            .filter(|&t| t < self.buf.len())
            .ok_or_else(|| corrupt("an offset target", pos))?;
        Ok(Some(target))
    }

    pub(super) fn table(&self, voffset: u16) -> Result<Option<Table<'a>>> {
        self.indirect(voffset)?
            .map(|pos| Table::at(self.buf, pos))
            .transpose()
    }

    /// A vector of `element`-byte items, its length checked against the file.
    pub(super) fn vector(&self, voffset: u16, element: usize) -> Result<Option<VectorRef<'a>>> {
        let Some(pos) = self.indirect(voffset)? else {
            return Ok(None);
        };
        let len = read_u32(self.buf, pos)? as usize;
        let start = pos + 4;
        let end = len
            .checked_mul(element)
            .and_then(|n| n.checked_add(start))
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| corrupt("a vector", pos))?;
        debug_assert!(end >= start);
        Ok(Some(VectorRef {
            buf: self.buf,
            start,
            len,
        }))
    }

    pub(super) fn string(&self, voffset: u16) -> Result<Option<String>> {
        let Some(v) = self.vector(voffset, 1)? else {
            return Ok(None);
        };
        let bytes = &v.buf[v.start..v.start + v.len];
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| TfliteError::Malformed(format!("string at byte {} is not UTF-8", v.start)))
    }

    pub(super) fn scalars<const N: usize, T>(
        &self,
        voffset: u16,
        decode: fn([u8; N]) -> T,
    ) -> Result<Vec<T>> {
        let Some(v) = self.vector(voffset, N)? else {
            return Ok(Vec::new());
        };
        (0..v.len)
            .map(|i| read_array::<N>(v.buf, v.start + i * N).map(decode))
            .collect()
    }

    pub(super) fn tables(&self, voffset: u16) -> Result<Vec<Table<'a>>> {
        let Some(v) = self.vector(voffset, 4)? else {
            return Ok(Vec::new());
        };
        (0..v.len)
            .map(|i| {
                let pos = v.start + 4 * i;
                let target = pos
                    .checked_add(read_u32(v.buf, pos)? as usize)
                    .ok_or_else(|| corrupt("a table offset", pos))?;
                Table::at(v.buf, target)
            })
            .collect()
    }
}
