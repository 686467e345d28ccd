//! Which recordings to delete: past their retention, over the quota, or
//! while free disk space is under the floor. Oldest first, always.
//!
//! Pure: the shell passes the index, the free space it measured with
//! `statvfs` and the wall clock, and carries out the plan.

use std::time::Duration;

use time::OffsetDateTime;
use voip_shared::mqtt::DeletionReason;

/// One recording as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Recording id.
    pub id: String,
    /// When it started (the order of deletion).
    pub started_at: OffsetDateTime,
    /// Size on disk.
    pub bytes: u64,
    /// How long it is kept.
    pub retention: Duration,
    /// Whether it may be deleted: a recording still being written may not.
    pub deletable: bool,
}

/// Limits the plan enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes all recordings together may use.
    pub quota_bytes: u64,
    /// Free bytes the file system must keep.
    pub min_free_bytes: u64,
}

/// One deletion of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// Recording id.
    pub id: String,
    /// Why.
    pub reason: DeletionReason,
    /// Bytes it frees.
    pub bytes: u64,
}

/// The plan and whether it reaches the limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Deletions, oldest recording first.
    pub deletions: Vec<Deletion>,
    /// Whether the quota and floor still do not hold after the plan (only
    /// recordings in progress are left): new recordings must not start.
    pub short: bool,
}

/// Plans deletions at `now` for `recordings` given `free_bytes` on the
/// file system and `limits`:
/// 1. every deletable recording older than its retention (`Age`);
/// 2. then oldest first while the total exceeds the quota (`Quota`);
/// 3. then oldest first while free space is under the floor (`DiskFloor`).
pub fn plan(
    now: OffsetDateTime,
    recordings: &[Candidate],
    free_bytes: u64,
    limits: Limits,
) -> Plan {
    let mut order: Vec<&Candidate> = recordings.iter().collect();
    order.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.id.cmp(&b.id)));
    let mut total: u64 = recordings.iter().map(|r| r.bytes).sum();
    let mut free = free_bytes;
    let mut deletions = Vec::new();
    let mut keep = Vec::new();
    for r in order {
        let expired = now - r.started_at >= r.retention;
        if r.deletable && expired {
            total -= r.bytes;
            free = free.saturating_add(r.bytes);
            deletions.push(Deletion {
                id: r.id.clone(),
                reason: DeletionReason::Age,
                bytes: r.bytes,
            });
        } else {
            keep.push(r);
        }
    }
    for r in keep.into_iter().filter(|r| r.deletable) {
        let reason = if total > limits.quota_bytes {
            DeletionReason::Quota
        } else if free < limits.min_free_bytes {
            DeletionReason::DiskFloor
        } else {
            break;
        };
        total -= r.bytes;
        free = free.saturating_add(r.bytes);
        deletions.push(Deletion {
            id: r.id.clone(),
            reason,
            bytes: r.bytes,
        });
    }
    Plan {
        deletions,
        short: total > limits.quota_bytes || free < limits.min_free_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);
    const DAY: Duration = Duration::from_hours(24);

    fn rec(id: &str, days_ago: i64, bytes: u64) -> Candidate {
        Candidate {
            id: id.to_owned(),
            started_at: NOW - time::Duration::days(days_ago),
            bytes,
            retention: 30 * DAY,
            deletable: true,
        }
    }

    fn ids(plan: &Plan) -> Vec<(&str, DeletionReason)> {
        plan.deletions
            .iter()
            .map(|d| (d.id.as_str(), d.reason))
            .collect()
    }

    const ROOMY: Limits = Limits {
        quota_bytes: 1_000,
        min_free_bytes: 100,
    };

    #[test]
    fn expired_recordings_go_whatever_the_space() {
        let recs = [rec("new", 1, 10), rec("old", 31, 10), rec("edge", 30, 10)];
        let p = plan(NOW, &recs, 10_000, ROOMY);
        assert_eq!(
            ids(&p),
            [("old", DeletionReason::Age), ("edge", DeletionReason::Age)]
        );
        assert!(!p.short);
    }

    #[test]
    fn quota_deletes_oldest_first_until_it_fits() {
        let recs = [
            rec("c", 3, 400),
            rec("a", 5, 400),
            rec("d", 2, 400),
            rec("b", 4, 400),
        ];
        // 1600 bytes against a quota of 1000: the two oldest go.
        let p = plan(NOW, &recs, 10_000, ROOMY);
        assert_eq!(
            ids(&p),
            [("a", DeletionReason::Quota), ("b", DeletionReason::Quota)]
        );
        assert!(!p.short);
    }

    #[test]
    fn the_free_space_floor_deletes_after_the_quota() {
        let recs = [rec("a", 5, 300), rec("b", 4, 300), rec("c", 3, 300)];
        // Within quota (900 <= 1000) but only 50 bytes free, floor 700.
        let limits = Limits {
            quota_bytes: 1_000,
            min_free_bytes: 700,
        };
        let p = plan(NOW, &recs, 50, limits);
        assert_eq!(
            ids(&p),
            [
                ("a", DeletionReason::DiskFloor),
                ("b", DeletionReason::DiskFloor),
                ("c", DeletionReason::DiskFloor)
            ]
        );
        assert!(!p.short, "50 + 900 freed >= 700");
        let p = plan(
            NOW,
            &recs,
            50,
            Limits {
                min_free_bytes: 2_000,
                ..limits
            },
        );
        assert!(p.short);
    }

    #[test]
    fn recordings_in_progress_are_never_deleted() {
        let mut active = rec("active", 40, 5_000);
        active.deletable = false;
        let recs = [active, rec("done", 1, 10)];
        let p = plan(NOW, &recs, 10_000, ROOMY);
        assert_eq!(ids(&p), [("done", DeletionReason::Quota)]);
        assert!(p.short, "the active recording alone exceeds the quota");
        assert_eq!(
            plan(NOW, &[], 0, ROOMY),
            Plan {
                deletions: vec![],
                short: true
            }
        );
    }
}
