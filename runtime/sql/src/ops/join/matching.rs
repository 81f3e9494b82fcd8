//! The bookkeeping of an updating (changelog or outer) regular join, as a plain function.
//!
//! Each side keeps, per key, its distinct rows with a [`Stored`] entry: the row's multiplicity
//! and, for an outer side, how many rows of the other side (with multiplicity) it matches now.
//! An outer side's row is output null-padded while it matches nothing: the padded copies are
//! retracted when its first match arrives and come back when its last match goes.
//!
//! [`apply_change`] applies one arriving row (an addition or a retraction) against the other
//! side's rows it matches (same key, residual condition true) and says what to emit; the
//! caller then stores the arriving row (count +1 or -1) with [`Stored::matches`] set to the
//! sum of its partners' counts.

/// A stored row of one side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stored {
    /// How many copies of the row are in the side.
    pub count: u64,
    /// How many rows of the other side (with multiplicity) it matches; kept for outer sides.
    pub matches: u64,
}

/// One output row of an updating join.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emission {
    /// The arriving row joined with partner `partner` (index into the partners), `times` copies.
    Joined {
        /// Index of the partner.
        partner: usize,
        /// Copies.
        times: u64,
    },
    /// The arriving row padded with NULLs for the other side.
    OwnPadded,
    /// Partner `partner` padded with NULLs for the arriving row's side, `times` copies.
    PartnerPadded {
        /// Index of the partner.
        partner: usize,
        /// Copies.
        times: u64,
    },
}

/// One output row and whether it adds (`+I`) or retracts (`-D`).
pub type Change = (Emission, bool);

/// Applies one arriving row (`addition`: `+I`/`+U`, else `-U`/`-D`) of a side (`own_outer`:
/// whether that side is preserved, as the left side of a LEFT JOIN) to the other side's rows
/// it matches, `partners` (`other_outer`: whether the other side is preserved); updates the
/// partners' match counts and returns the changes to emit, in order.
///
/// A retraction must be of a stored row (the caller drops others).
pub fn apply_change(addition: bool, own_outer: bool, other_outer: bool, partners: &mut [Stored]) -> Vec<Change> {
    let mut out = Vec::new();
    let live: Vec<usize> = (0..partners.len()).filter(|&p| partners[p].count > 0).collect();
    if addition {
        for &p in &live {
            let partner = &mut partners[p];
            if other_outer && partner.matches == 0 {
                out.push((
                    Emission::PartnerPadded {
                        partner: p,
                        times: partner.count,
                    },
                    false,
                ));
            }
            partner.matches += 1;
            out.push((
                Emission::Joined {
                    partner: p,
                    times: partner.count,
                },
                true,
            ));
        }
    } else {
        for &p in &live {
            let partner = &mut partners[p];
            out.push((
                Emission::Joined {
                    partner: p,
                    times: partner.count,
                },
                false,
            ));
            partner.matches = partner.matches.saturating_sub(1);
            if other_outer && partner.matches == 0 {
                out.push((
                    Emission::PartnerPadded {
                        partner: p,
                        times: partner.count,
                    },
                    true,
                ));
            }
        }
    }
    if own_outer && live.is_empty() {
        out.push((Emission::OwnPadded, addition));
    }
    out
}

/// The number of rows (with multiplicity) among `partners`.
pub fn match_count(partners: &[Stored]) -> u64 {
    partners.iter().map(|p| p.count).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(count: u64, matches: u64) -> Stored {
        Stored { count, matches }
    }

    #[test]
    fn an_unmatched_outer_row_is_padded_and_retracted_padded() {
        assert_eq!(
            apply_change(true, true, false, &mut []),
            vec![(Emission::OwnPadded, true)]
        );
        assert_eq!(
            apply_change(false, true, false, &mut []),
            vec![(Emission::OwnPadded, false)]
        );
        // An inner side emits nothing without partners.
        assert!(apply_change(true, false, true, &mut []).is_empty());
    }

    #[test]
    fn a_first_match_retracts_the_partners_padded_copies() {
        // The right side of a LEFT JOIN arrives: the left row (2 copies) loses its padding.
        let mut partners = [stored(2, 0)];
        let changes = apply_change(true, false, true, &mut partners);
        assert_eq!(
            changes,
            vec![
                (Emission::PartnerPadded { partner: 0, times: 2 }, false),
                (Emission::Joined { partner: 0, times: 2 }, true),
            ]
        );
        assert_eq!(partners[0], stored(2, 1));
        // A second match adds joined rows only.
        let changes = apply_change(true, false, true, &mut partners);
        assert_eq!(changes, vec![(Emission::Joined { partner: 0, times: 2 }, true)]);
        assert_eq!(partners[0], stored(2, 2));
    }

    #[test]
    fn the_last_match_going_brings_the_padded_row_back() {
        let mut partners = [stored(1, 1), stored(3, 2)];
        let changes = apply_change(false, false, true, &mut partners);
        assert_eq!(
            changes,
            vec![
                (Emission::Joined { partner: 0, times: 1 }, false),
                (Emission::PartnerPadded { partner: 0, times: 1 }, true),
                (Emission::Joined { partner: 1, times: 3 }, false),
            ]
        );
        assert_eq!(partners, [stored(1, 0), stored(3, 1)]);
    }

    #[test]
    fn full_join_rows_with_partners_are_never_padded() {
        let mut partners = [stored(1, 0)];
        let changes = apply_change(true, true, true, &mut partners);
        assert_eq!(
            changes,
            vec![
                (Emission::PartnerPadded { partner: 0, times: 1 }, false),
                (Emission::Joined { partner: 0, times: 1 }, true),
            ]
        );
        // Retracting it pads the partner again, and the arriving row is not padded.
        let changes = apply_change(false, true, true, &mut partners);
        assert_eq!(
            changes,
            vec![
                (Emission::Joined { partner: 0, times: 1 }, false),
                (Emission::PartnerPadded { partner: 0, times: 1 }, true),
            ]
        );
        assert_eq!(match_count(&partners), 1);
    }
}
