//! The state encoding of window accumulators, and merges that work on it without building
//! intermediate accumulators (the hot path of a batch: one read-merge-write per (key, window)).
//!
//! Layout of one (key, window) value, the aggregates concatenated in order: counts are 8 bytes
//! (`n`, little-endian); sum/min/max/avg are 16 bytes (`value`, `n`: the value as i64 or f64
//! bits, and how many non-null inputs it covers); UDAF accumulators are a 4-byte length and their
//! serde bytes.

use super::accumulator::{combine_float, combine_int, mismatch, Acc, Aggregates, Kind};
use freshet_core::{Error, Result};

fn corrupt() -> Error {
    Error::State("corrupt window accumulator in state".into())
}

#[inline]
fn read_u64(bytes: &[u8], pos: &mut usize) -> Result<u64> {
    let end = *pos + 8;
    let b: [u8; 8] = bytes
        .get(*pos..end)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(corrupt)?;
    *pos = end;
    Ok(u64::from_le_bytes(b))
}

fn read_udaf_bytes<'a>(bytes: &'a [u8], pos: &mut usize) -> Result<&'a [u8]> {
    let len_bytes: [u8; 4] = bytes
        .get(*pos..*pos + 4)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(corrupt)?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let body = bytes.get(*pos + 4..*pos + 4 + len).ok_or_else(corrupt)?;
    *pos += 4 + len;
    Ok(body)
}

impl Aggregates {
    /// Appends the encoding of one (key, window)'s accumulators to `out`.
    pub(crate) fn encode(&self, accs: &[Acc], out: &mut Vec<u8>) -> Result<()> {
        if accs.len() != self.list.len() {
            return Err(mismatch());
        }
        for (r, acc) in self.list.iter().zip(accs) {
            match (&r.kind, acc) {
                (Kind::CountAll | Kind::CountNonNull, Acc::Int { n, .. }) => out.extend_from_slice(&n.to_le_bytes()),
                (Kind::Int(_), Acc::Int { v, n }) => {
                    out.extend_from_slice(&v.to_le_bytes());
                    out.extend_from_slice(&n.to_le_bytes());
                }
                (Kind::Float(_), Acc::Float { v, n }) => {
                    out.extend_from_slice(&v.to_bits().to_le_bytes());
                    out.extend_from_slice(&n.to_le_bytes());
                }
                (Kind::Udaf(f), Acc::Udaf(acc)) => {
                    let len_pos = out.len();
                    out.extend_from_slice(&[0u8; 4]);
                    f.encode(acc.as_ref(), out)?;
                    let len = u32::try_from(out.len() - len_pos - 4)
                        .map_err(|_| Error::State(format!("UDAF '{}' accumulator exceeds 4 GiB", f.name())))?;
                    out[len_pos..len_pos + 4].copy_from_slice(&len.to_le_bytes());
                }
                _ => return Err(mismatch()),
            }
        }
        Ok(())
    }

    /// Decodes accumulators written by [`encode`](Self::encode).
    pub(crate) fn decode(&self, bytes: &[u8]) -> Result<Vec<Acc>> {
        let mut out = Vec::with_capacity(self.list.len());
        self.decode_into(bytes, &mut out)?;
        Ok(out)
    }

    /// Decodes accumulators written by [`encode`](Self::encode) into `out` (cleared first), so a
    /// caller can reuse one buffer.
    pub(crate) fn decode_into(&self, bytes: &[u8], out: &mut Vec<Acc>) -> Result<()> {
        out.clear();
        let mut pos = 0;
        for r in &self.list {
            out.push(match &r.kind {
                Kind::CountAll | Kind::CountNonNull => Acc::Int {
                    v: 0,
                    n: read_u64(bytes, &mut pos)? as i64,
                },
                Kind::Int(_) => {
                    let v = read_u64(bytes, &mut pos)? as i64;
                    Acc::Int {
                        v,
                        n: read_u64(bytes, &mut pos)? as i64,
                    }
                }
                Kind::Float(_) => {
                    let v = f64::from_bits(read_u64(bytes, &mut pos)?);
                    Acc::Float {
                        v,
                        n: read_u64(bytes, &mut pos)? as i64,
                    }
                }
                Kind::Udaf(f) => Acc::Udaf(f.decode(read_udaf_bytes(bytes, &mut pos)?)?),
            });
        }
        if pos != bytes.len() {
            return Err(corrupt());
        }
        Ok(())
    }

    /// `accs := state ⊕ accs`, where `state` is an encoded accumulator. Built-in aggregates merge
    /// straight from the bytes; a UDAF's stored accumulator comes first, so it sees earlier input
    /// before later.
    pub(crate) fn merge_encoded(&self, accs: &mut [Acc], state: &[u8]) -> Result<()> {
        if accs.len() != self.list.len() {
            return Err(mismatch());
        }
        let mut pos = 0;
        for (r, acc) in self.list.iter().zip(accs.iter_mut()) {
            match (&r.kind, acc) {
                (Kind::CountAll | Kind::CountNonNull, Acc::Int { n, .. }) => *n += read_u64(state, &mut pos)? as i64,
                (Kind::Int(op), Acc::Int { v, n }) => {
                    let v2 = read_u64(state, &mut pos)? as i64;
                    let n2 = read_u64(state, &mut pos)? as i64;
                    if n2 > 0 {
                        *v = if *n == 0 { v2 } else { combine_int(*op, v2, *v) };
                        *n += n2;
                    }
                }
                (Kind::Float(op), Acc::Float { v, n }) => {
                    let v2 = f64::from_bits(read_u64(state, &mut pos)?);
                    let n2 = read_u64(state, &mut pos)? as i64;
                    if n2 > 0 {
                        *v = if *n == 0 { v2 } else { combine_float(*op, v2, *v) };
                        *n += n2;
                    }
                }
                (Kind::Udaf(f), acc @ Acc::Udaf(_)) => {
                    let mut stored = f.decode(read_udaf_bytes(state, &mut pos)?)?;
                    if let Acc::Udaf(later) = std::mem::replace(acc, Acc::Int { v: 0, n: 0 }) {
                        f.merge(stored.as_mut(), later)?;
                    }
                    *acc = Acc::Udaf(stored);
                }
                _ => return Err(mismatch()),
            }
        }
        if pos != state.len() {
            return Err(corrupt());
        }
        Ok(())
    }

    /// `into := into ⊕ from`, leaving `from` as it is (a UDAF accumulator is copied through its
    /// encoding).
    pub(crate) fn merge_from(&self, into: &mut [Acc], from: &[Acc]) -> Result<()> {
        if into.len() != self.list.len() || from.len() != self.list.len() {
            return Err(mismatch());
        }
        for ((r, acc), other) in self.list.iter().zip(into.iter_mut()).zip(from) {
            match (&r.kind, acc, other) {
                (Kind::CountAll | Kind::CountNonNull, Acc::Int { n, .. }, Acc::Int { n: n2, .. }) => *n += n2,
                (Kind::Int(op), Acc::Int { v, n }, &Acc::Int { v: v2, n: n2 }) => {
                    if n2 > 0 {
                        *v = if *n == 0 { v2 } else { combine_int(*op, *v, v2) };
                        *n += n2;
                    }
                }
                (Kind::Float(op), Acc::Float { v, n }, &Acc::Float { v: v2, n: n2 }) => {
                    if n2 > 0 {
                        *v = if *n == 0 { v2 } else { combine_float(*op, *v, v2) };
                        *n += n2;
                    }
                }
                (Kind::Udaf(f), Acc::Udaf(acc), Acc::Udaf(other)) => {
                    let mut bytes = Vec::new();
                    f.encode(other.as_ref(), &mut bytes)?;
                    f.merge(acc.as_mut(), f.decode(&bytes)?)?;
                }
                _ => return Err(mismatch()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::aggregate::AggregateSpec;
    use crate::window::udaf::{udaf, AggregateFunction};
    use arrow::array::{Float64Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    struct Concat;
    impl AggregateFunction for Concat {
        type In = i64;
        type Acc = Vec<i64>;
        type Out = String;
        fn add(&self, acc: &mut Vec<i64>, v: i64) {
            acc.push(v);
        }
        fn merge(&self, acc: &mut Vec<i64>, other: Vec<i64>) {
            acc.extend(other);
        }
        fn result(&self, acc: &Vec<i64>) -> String {
            format!("{acc:?}")
        }
    }

    fn setup() -> (Aggregates, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("i", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![Some(5), None, Some(-2)])),
                Arc::new(Float64Array::from(vec![Some(1.5), Some(-3.0), None])),
            ],
        )
        .unwrap();
        let specs = [
            AggregateSpec::count("n"),
            AggregateSpec::min("i", "mi"),
            AggregateSpec::max("f", "xf"),
            AggregateSpec::udaf(udaf("concat", Concat), "i", "c"),
        ];
        (Aggregates::resolve(&specs, &schema).unwrap(), batch)
    }

    fn encoded(aggs: &Aggregates, accs: &[Acc]) -> Vec<u8> {
        let mut out = Vec::new();
        aggs.encode(accs, &mut out).unwrap();
        out
    }

    #[test]
    fn merges_from_bytes_and_by_reference_agree() {
        let (aggs, batch) = setup();
        let mut first = aggs.new_accs();
        aggs.update_batch(&mut first, &batch, &[(0, 0), (1, 0)]).unwrap();
        let mut second = aggs.new_accs();
        aggs.add_row(&mut second, &batch, 2).unwrap();

        let mut a = aggs.new_accs();
        aggs.merge_from(&mut a, &first).unwrap();
        aggs.merge_from(&mut a, &second).unwrap();
        let mut b = aggs.decode(&encoded(&aggs, &second)).unwrap();
        aggs.merge_encoded(&mut b, &encoded(&aggs, &first)).unwrap();
        let mut all = aggs.new_accs();
        aggs.update_batch(&mut all, &batch, &[(0, 0), (1, 0), (2, 0)]).unwrap();
        assert_eq!(encoded(&aggs, &a), encoded(&aggs, &all));
        assert_eq!(encoded(&aggs, &b), encoded(&aggs, &all), "stored state comes first");
        // `from` is untouched.
        assert_eq!(encoded(&aggs, &first), {
            let mut again = aggs.new_accs();
            aggs.update_batch(&mut again, &batch, &[(0, 0), (1, 0)]).unwrap();
            encoded(&aggs, &again)
        });
        let bytes = encoded(&aggs, &all);
        assert!(aggs
            .merge_encoded(&mut aggs.new_accs(), &bytes[..bytes.len() - 1])
            .is_err());
        let mut reused = Vec::new();
        aggs.decode_into(&bytes, &mut reused).unwrap();
        assert_eq!(encoded(&aggs, &reused), bytes);
    }
}
