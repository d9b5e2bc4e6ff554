"""The platform's own data-path alerts, `platform-data.rules`: the Cloud SQL replica's replication, which
neither requirement document watches (the HEAL7 design asks for the replica, not for alerts on it).

The replica replicates from the RDS primary with pglogical (Cloud SQL's external-server replication),
which holds one logical replication slot per replicated database on RDS. The replica is read on the
primary, by the postgres-exporter that watches RDS (`job="postgres-exporter"`): postgres_exporter
v0.20.1's default replication_slots collector (collector/pg_replication_slots.go) exports per slot
- `pg_replication_slots_slot_is_active{slot_name, slot_type}`: 1 while a walsender serves the slot;
- `pg_replication_slots_slot_current_wal_lsn{slot_name, slot_type}`: the primary's current WAL position;
- `pg_replication_slots_slot_confirmed_flush_lsn{slot_name, slot_type}`: what the subscriber confirmed
  flushed, exported only while the slot is active;
- `pg_replication_slots_pg_wal_lsn_diff{slot_name, database}`: bytes of WAL from the slot's restart_lsn
  to the current position, i.e. WAL RDS keeps on its disk for the slot.

It also watches the backups that are proven restorable (DatabaseBackups, EKS): the nightly dump and the
weekly restore drill are CronJobs whose last success kube-state-metrics exports as
`kube_cronjob_status_last_successful_time{namespace, cronjob}` (only once a run has succeeded; before
that, `kube_cronjob_created` says how long the CronJob has existed without one). On GKE there is no such
CronJob, so no series and no alert.
"""

from functools import partial
from typing import Any

from components.kubernetes.database_backups import DRILL, DUMP

from ._rule_builder import alert_rule

PLATFORM_DATA_GROUP = "platform-data.rules"

_GIB = 2**30

# The DR path's recovery point: promoting the replica after losing AWS loses every change it has not
# confirmed. A replica keeping up confirms within seconds (a few MiB behind); a write burst (a bulk load,
# a VACUUM FULL, an index build) can put it hundreds of MiB behind for a minute or two. 1 GiB still
# unconfirmed after 10 minutes is a replica that does not catch up: at that point a promotion would lose
# minutes of writes, which is a ticket for the database team before it becomes an RPO breach.
REPLICATION_LAG_LIMIT_BYTES = _GIB

# RDS keeps every WAL segment a slot still needs (the platform's parameter group does not set
# max_slot_wal_keep_size; PostgreSQL's default, -1, is no limit), so a stuck or orphaned slot grows RDS's
# used storage until storage autoscaling reaches maxAllocatedStorage and the instance runs out of space
# (then it stops accepting writes). 10 GiB is 10x the lag alert, so a slow
# replica warns through PostgreSQLReplicationLagHigh first, and at most 10 % of the smallest tier's
# ceiling (dev: 20 GiB allocated, 100 GiB maxAllocatedStorage), so it warns long before storage runs out.
RETAINED_WAL_LIMIT_BYTES = 10 * _GIB

# The nightly dump runs at 02:00 and is killed at its 2-hour deadline, so a day's dump has succeeded by
# 04:00: 24 h between two schedules plus the deadline. Older than 26 h is a night without a dump.
DUMP_STALE_AFTER_SECONDS = 26 * 3600
# The drill runs weekly; a day more than the week covers a retried or delayed run.
DRILL_STALE_AFTER_SECONDS = 8 * 24 * 3600

_EXPORTER = 'job="postgres-exporter"'
# Logical slots only: pglogical's. A physical slot (an RDS read replica's) has no confirmed_flush_lsn,
# which the exporter reports as 0 (COALESCE(confirmed_flush_lsn, '0/0')), so its "lag" would be the
# whole WAL position.
_LOGICAL = f'{_EXPORTER}, slot_type="logical"'


def platform_data_group(base: str) -> dict[str, Any]:
    """`platform-data.rules`: the Cloud SQL replica's replication slots on the RDS primary."""
    return {"name": PLATFORM_DATA_GROUP, "rules": _replication_rules(base) + _backup_rules(base)}


def stale_cronjob(cronjob: str, seconds: int) -> str:
    """True for `cronjob` when its last success is older than `seconds`, or when it has existed that long
    without any (kube-state-metrics exports no last-success series before the first one). Matched by
    name only: the CronJobs' names are fixed, their namespace is the stack's choice."""
    selector = f'{{cronjob="{cronjob}"}}'
    return (
        f"time() - kube_cronjob_status_last_successful_time{selector} > {seconds}\n"
        f"or\n"
        f"(\n"
        f"  time() - kube_cronjob_created{selector} > {seconds}\n"
        f"  unless on (namespace, cronjob) kube_cronjob_status_last_successful_time{selector}\n"
        f")"
    )


def _backup_rules(base: str) -> list[dict[str, Any]]:
    pg = partial(alert_rule, family="postgresql", team="database", service="postgresql", runbook_base_url=base)
    return [
        pg(
            "PostgreSQLDumpMissing",
            expr=stale_cronjob(DUMP, DUMP_STALE_AFTER_SECONDS),
            for_="10m",  # a scrape gap of kube-state-metrics is not a missing dump
            # Warning: RDS's automated backups and point-in-time recovery still run; the dump is the
            # copy outside RDS (a deleted instance or account-level mistake), one night behind.
            severity="warning",
            summary="No successful PostgreSQL dump for over 26 hours ({{ $labels.namespace }}/{{ $labels.cronjob }})",
            description=(
                "CronJob {{ $labels.namespace }}/{{ $labels.cronjob }} has not completed a dump of the RDS primary "
                "to the backup bucket for over 26 hours (it runs at 02:00 Asia/Seoul and must finish within 2 "
                "hours): the newest logical backup outside RDS is older than a day."
            ),
        ),
        pg(
            "PostgreSQLRestoreDrillFailing",
            expr=stale_cronjob(DRILL, DRILL_STALE_AFTER_SECONDS),
            for_="10m",
            severity="warning",
            summary="No successful restore drill for over 8 days ({{ $labels.namespace }}/{{ $labels.cronjob }})",
            description=(
                "CronJob {{ $labels.namespace }}/{{ $labels.cronjob }} has not restored the newest dump into a "
                "scratch PostgreSQL for over 8 days (it runs weekly): nothing proves the dumps can be restored."
            ),
        ),
    ]


def _replication_rules(base: str) -> list[dict[str, Any]]:
    pg = partial(alert_rule, family="postgresql", team="database", service="postgresql", runbook_base_url=base)
    return [
        pg(
            "PostgreSQLReplicationSlotInactive",
            expr=f"pg_replication_slots_slot_is_active{{{_LOGICAL}}} == 0",
            # 5 minutes: a replica restart or a VPN tunnel's renegotiation reconnects well within it.
            for_="5m",
            # Critical: the DR copy in GCP has stopped, and RDS keeps every WAL segment from here on.
            severity="critical",
            summary="Replication slot {{ $labels.slot_name }} has no consumer",
            description=(
                "Logical replication slot {{ $labels.slot_name }} on the RDS primary has been inactive for 5 "
                "minutes: the Cloud SQL replica is not connected, so the DR copy in GCP has stopped advancing, "
                "and RDS keeps all WAL from the slot's restart point on its own disk until the replica "
                "reconnects or the slot is dropped."
            ),
        ),
        pg(
            "PostgreSQLReplicationLagHigh",
            # Plain subtraction matches the two series of one slot on all their labels (the same
            # target, slot_name and slot_type); `on (slot_name, slot_type)` would match the same pairs
            # but drop the target's labels from the alert. confirmed_flush_lsn exists only while the
            # slot is active: a disconnected replica leaves this to PostgreSQLReplicationSlotInactive.
            expr=(
                f"pg_replication_slots_slot_current_wal_lsn{{{_LOGICAL}}}\n"
                f"- pg_replication_slots_slot_confirmed_flush_lsn{{{_LOGICAL}}}\n"
                f"> {REPLICATION_LAG_LIMIT_BYTES}"
            ),
            for_="10m",  # longer than a write burst takes to replicate
            severity="warning",
            summary="Cloud SQL replica lags on slot {{ $labels.slot_name }}",
            description=(
                "The Cloud SQL replica has not confirmed {{ $value | humanize1024 }}B of the RDS primary's WAL "
                "on slot {{ $labels.slot_name }} (over 1 GiB for 10 minutes). Promoting the replica now would "
                "lose those changes: the DR path's recovery point is falling behind."
            ),
        ),
        pg(
            "PostgreSQLReplicationSlotRetainingWal",
            expr=f"pg_replication_slots_pg_wal_lsn_diff{{{_EXPORTER}}} > {RETAINED_WAL_LIMIT_BYTES}",
            for_="15m",  # a transient backlog drains within minutes; retained WAL only grows while stuck
            severity="warning",
            summary="Replication slot {{ $labels.slot_name }} retains {{ $value | humanize1024 }}B of WAL",
            description=(
                "Slot {{ $labels.slot_name }} (database {{ $labels.database }}) makes the RDS primary keep "
                "{{ $value | humanize1024 }}B of WAL (over 10 GiB for 15 minutes), and it grows until the "
                "replica catches up. RDS storage fills with it; at the storage ceiling the primary stops "
                "accepting writes. A slot whose replica was deleted is never released: drop it by hand."
            ),
        ),
    ]
