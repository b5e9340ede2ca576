"""`vigil db | lists | enroll | people`: the store from the command line, every change audited."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vigil.app import Store, build_engine, open_store
from vigil.cli.common import (
    ActorOption,
    ConfigOption,
    ModelDirOption,
    ReasonOption,
    actor_of,
    cli_errors,
    load_cli_config,
    progress_bar,
)
from vigil.config.schema import embed_config_for
from vigil.errors import BadInput
from vigil.match.folder import list_photos
from vigil.model_catalogue import DLIB_RESNET
from vigil.model_catalogue import EMBEDDERS as EMBEDDER_SPECS
from vigil.services.enrol import (
    EnrolmentRejected,
    EnrolmentService,
    EnrolRequest,
    EnrolResult,
    Photo,
    PhotoVerdict,
)
from vigil.services.feedback import FeedbackService
from vigil.services.gallery import ORPHAN_MIN_AGE_S, sweep_orphans
from vigil.services.lists import ListInfo, ListSettings
from vigil.services.reembed import Reembedder
from vigil.services.reembed_archive import ArchiveReembedder
from vigil.services.retention import RetentionPurge
from vigil.store import audit, migrate
from vigil.store.tables import Review, Severity

console = Console(highlight=False)
err = Console(stderr=True, soft_wrap=True)

db_app = typer.Typer(help="The database: schema migrations and the audit chain.", no_args_is_help=True)
lists_app = typer.Typer(help="Watchlists: list, create, remove.", no_args_is_help=True)
people_app = typer.Typer(help="People on watchlists: list, show, remove.", no_args_is_help=True)


def _store(config: Path | None, *, create: bool = True) -> Store:
    with cli_errors():
        return open_store(load_cli_config(config, None), create=create)


# --- db ----------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply the schema migrations this Vigil needs (safe to run again)."""
    store = _store(config, create=False)
    with cli_errors():
        before = migrate.current(store.db.engine)
        migrate.upgrade(store.db.engine)
    console.print(f"schema: {before or 'empty'} → {migrate.current(store.db.engine)} ({store.db.dialect})")


@db_app.command("sweep")
def db_sweep(
    min_age: Annotated[
        float, typer.Option(help="Only files older than this many seconds.")
    ] = ORPHAN_MIN_AGE_S,
    config: ConfigOption = None,
) -> None:
    """Delete photo and crop files no record refers to (left by an interrupted enrolment)."""
    store = _store(config)
    with cli_errors():
        n = sweep_orphans(store.db, store.media, min_age_s=min_age)
    console.print(f"removed {n} unreferenced media files")


@db_app.command("verify-audit")
def db_verify_audit(config: ConfigOption = None) -> None:
    """Check the audit log's hash chain from its first row to its last."""
    store = _store(config)
    with cli_errors(), store.db.read() as s:
        check = audit.verify(s)
    if not check.ok:
        err.print(f"[red]audit chain broken at row {check.broken_at}:[/] {check.reason}")
        raise typer.Exit(1)
    console.print(f"audit chain intact: {check.rows} rows")


@db_app.command("reembed")
def db_reembed(
    model: Annotated[str, typer.Option("--model", help="The embedder to embed with (`vigil models ls`).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (audited).")] = "embedder change",
    actor: ActorOption = None,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Embed every enrolment photo, and every archived track's kept best shots, again with MODEL, beside
    the vectors they have (no re-enrolment).

    Resumable: a run stopped at any point goes on from where it stopped. The old vectors keep serving
    until the configuration names MODEL; `vigil serve` refuses a gallery that is not complete for its model.
    """
    cfg = load_cli_config(config, model_dir)
    if model not in EMBEDDER_SPECS:
        raise typer.BadParameter(
            f"unknown embedder {model!r}: one of {', '.join(EMBEDDER_SPECS)}", param_hint="--model"
        )
    embed = cfg.embed if getattr(cfg.embed, "model", DLIB_RESNET.name) == model else embed_config_for(model)
    cfg = cfg.model_copy(update={"embed": embed})
    with cli_errors():
        store = open_store(cfg)
        engine = build_engine(cfg)
        job = Reembedder(store.db, store.media, engine.stills, cfg.ingest, cfg.enrol)
        with progress_bar(err, f"re-embedding the gallery with {engine.model_id}") as bar:
            task = bar.add_task("reembed", total=job.pending())
            report = job.run(
                actor_of(actor), reason, lambda done, n: bar.update(task, completed=done, total=n)
            )
        archive = ArchiveReembedder(store.db, store.media, engine.stills, cfg.ingest)
        with progress_bar(err, f"re-embedding archived tracks with {engine.model_id}") as bar:
            task = bar.add_task("archive", total=archive.pending())
            kept = archive.run(
                actor_of(actor), reason, lambda done, n: bar.update(task, completed=done, total=n)
            )
    console.print(f"{report.embedded} photos embedded with {report.model_id} ({report.total} were missing)")
    console.print(
        f"{kept.embedded} archived tracks embedded again from their kept best shots ({kept.total} were "
        f"missing; {kept.negatives} 'not this person' negatives carried over)"
    )
    if kept.kept_old:
        console.print(
            f"{len(kept.kept_old)} archived tracks stay searchable only under their own model "
            "(no best shot of theirs shows a face found again); searches say how many"
        )
    for sample_id, why in report.failed:
        err.print(f"[yellow]sample {sample_id}:[/] {why} (remove the photo or enrol the person again)")
    if not report.complete:
        raise typer.Exit(1)


# --- lists -------------------------------------------------------------------------------------------


def _rule_text(i: ListInfo) -> tuple[str, str]:
    """A list's threshold now and why (calibrated for its size, or set by hand), for tables."""
    r = i.rule
    if r.fixed:
        why = "set by hand"
        if r.calibrated is not None:
            why += f"; calibrated {r.calibrated:.3f}" + (" [red]BELOW IT[/]" if r.below_calibrated else "")
    elif r.fpir is not None:
        people = "person" if r.size == 1 else "people"
        why = f"FPIR {r.fpir:g} at {r.size:,} {people}" + (" (extrapolated)" if r.extrapolated else "")
        why += "" if r.resolved else " (beyond the calibration's resolution)"
    else:
        why = "match.threshold"
    return f"{r.threshold:.3f}", why


@lists_app.command("ls")
def lists_ls(config: ConfigOption = None) -> None:
    """Every list with its settings, how many people are on it, and the threshold it alerts at."""
    store = _store(config)
    with cli_errors():
        infos = store.lists.all()
    table = Table(
        "name", "people", "threshold", "why", "severity", "review", "retention (days)", "created by"
    )
    for i in infos:
        table.add_row(
            i.name, str(i.people), *_rule_text(i),
            i.settings.severity.value, i.settings.review.value, str(i.settings.retention_days), i.created_by,
        )  # fmt: skip
    console.print(table)


ThresholdOption = Annotated[
    float | None,
    typer.Option(help="A fixed match threshold [calibrated for the list's size and FPIR, as it grows]."),
]
FpirOption = Annotated[
    float | None,
    typer.Option(help="False alerts accepted per unknown track, e.g. 0.001 [match.fpir].", min=0, max=1),
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="Accept a threshold below the calibrated one (more false alerts).")
]


@lists_app.command("create")
def lists_create(
    name: Annotated[str, typer.Argument(help="Lowercase name, e.g. wanted, missing-persons.")],
    reason: ReasonOption,
    threshold: ThresholdOption = None,
    fpir: FpirOption = None,
    force: ForceOption = False,
    severity: Annotated[Severity, typer.Option(help="How urgent its alerts are.")] = Severity.MEDIUM,
    colour: Annotated[str, typer.Option(help="Colour of its alerts, #rrggbb.")] = "#d97706",
    review: Annotated[Review, typer.Option(help="What an alert needs: none, acknowledge, two_person.")] = (
        Review.ACKNOWLEDGE
    ),
    retention_days: Annotated[int, typer.Option(help="Days its matched events are kept.")] = 30,
    description: Annotated[str, typer.Option(help="What the list is for.")] = "",
    actor: ActorOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a watchlist."""
    store = _store(config)
    settings = ListSettings(threshold, fpir, severity, colour, review, retention_days, description)
    with cli_errors():
        info = store.lists.create(actor_of(actor), name, settings, reason, force=force)
    console.print(f"created list {info.name} (id {info.id}), threshold {info.rule.threshold:.3f}")


@lists_app.command("set")
def lists_set(
    name: str,
    reason: ReasonOption,
    threshold: ThresholdOption = None,
    fpir: FpirOption = None,
    force: ForceOption = False,
    actor: ActorOption = None,
    config: ConfigOption = None,
) -> None:
    """Set a list's threshold or false-alert rate (an option left out goes back to the default)."""
    store = _store(config)
    with cli_errors():
        info = store.lists.set_rule(
            actor_of(actor), name, reason, threshold=threshold, fpir=fpir, force=force
        )
    value, why = _rule_text(info)
    console.print(f"list {info.name}: threshold {value} ({why})")


@lists_app.command("rm")
def lists_rm(name: str, reason: ReasonOption, actor: ActorOption = None, config: ConfigOption = None) -> None:
    """Remove a list and its entries (the people stay, with their other lists)."""
    store = _store(config)
    with cli_errors():
        n = store.lists.remove(actor_of(actor), name, reason)
    console.print(f"removed list {name} ({n} entries)")


# --- enrol -------------------------------------------------------------------------------------------


def _print_verdicts(result_name: str, verdicts: list[PhotoVerdict]) -> None:
    for v in verdicts:
        mark = (
            "[green]ok[/]"
            if v.accepted and not v.weak
            else ("[yellow]weak[/]" if v.accepted else "[red]no[/]")
        )
        q = f" quality {v.quality.total:.2f}" if v.quality else ""
        why = f" - {'; '.join(v.reasons)}" if v.reasons else ""
        console.print(f"  {mark} {v.name}{q}{why}", markup=True)
        if v.looks_like is not None:
            pid, name, score = v.looks_like
            console.print(f"     [yellow]flagged:[/] already matches {name} (person {pid}) at {score:.3f}")
    if not any(v.accepted for v in verdicts):
        err.print(f"[red]{result_name}: nothing enrolled[/]")


def _report(result: EnrolResult) -> None:
    kept = sum(v.accepted for v in result.verdicts)
    verb = "enrolled" if result.created else "added to"
    console.print(f"{verb} {result.name} (person {result.person_id}) on {result.list_name}: {kept} photo(s)")
    _print_verdicts(result.name, result.verdicts)


def _expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadInput("--expires", f"{text!r} is not a date (YYYY-MM-DD or ISO 8601)") from exc
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def enroll(
    photos: Annotated[list[Path] | None, typer.Argument(help="Photos of the person (one face each).")] = None,
    list_name: Annotated[str, typer.Option("--list", "-l", help="The watchlist.")] = "",
    name: Annotated[str | None, typer.Option("--name", "-n", help="The person's name.")] = None,
    reason: ReasonOption = "",
    folder: Annotated[
        Path | None, typer.Option("--folder", help="Bulk: a folder of <name>/<photo> files, one person each.")
    ] = None,
    source: Annotated[str, typer.Option("--source", help="Where the photos come from.")] = "",
    approved_by: Annotated[str | None, typer.Option("--approved-by", help="Who approved the entry.")] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Entry stops matching at this date.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Keep photos below the quality gate, marked weak.")
    ] = False,
    person: Annotated[
        int | None, typer.Option("--person", help="Add the photos to this enrolled person (id).")
    ] = None,
    new_person: Annotated[
        bool, typer.Option("--new-person", help="Someone else than the enrolled person of this name.")
    ] = False,
    actor: ActorOption = None,
    config: ConfigOption = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Put a person on a watchlist from one or more photos (or many people from a folder tree)."""
    if not list_name:
        raise typer.BadParameter("--list is required", param_hint="--list")
    if (folder is None) == (name is None):
        raise typer.BadParameter("give either --name with photos, or --folder", param_hint="--name/--folder")
    if name is not None and not photos:
        raise typer.BadParameter("give at least one photo", param_hint="PHOTOS")
    cfg = load_cli_config(config, model_dir)
    with cli_errors():
        template = EnrolRequest(
            list_name, name or "", reason, (), photo_source=source, approved_by=approved_by,
            expires_at=_expiry(expires), force=force, person_id=person, new_person=new_person,
        )  # fmt: skip
        people = open_store(cfg).enrolment(build_engine(cfg))
        if folder is not None:
            _enrol_folder(people, folder, template, actor_of(actor))
            return
        try:
            _report(people.enrol(actor_of(actor), replace(template, photos=_read(photos or []))))
        except EnrolmentRejected as exc:
            _print_verdicts(template.name, exc.verdicts)
            raise typer.Exit(1) from exc


def _read(paths: list[Path]) -> list[Photo]:
    """The photos' bytes; an unreadable file is reported and left out."""
    out = []
    for p in paths:
        try:
            out.append(Photo(str(p), p.read_bytes()))
        except OSError as exc:
            err.print(f"[red]error:[/] {p}: cannot read ({exc.strerror})")
    return out


def _enrol_folder(people: EnrolmentService, folder: Path, template: EnrolRequest, actor: str) -> None:
    """One person per sub-folder; a bad photo or person is reported and skipped, the rest enrolled."""
    photos, problems = list_photos(folder)
    for problem in problems:
        err.print(f"[yellow]skipped[/] {problem}")
    by_person: dict[str, list[Path]] = {}
    for person, path in photos:
        by_person.setdefault(person, []).append(path)
    done = failed = 0
    with progress_bar(err, "enrolling", transient=True) as bar:
        task = bar.add_task("enrol", total=len(by_person))
        for person, paths in by_person.items():
            try:
                result = people.enrol(actor, replace(template, name=person, photos=_read(paths)))
                done += 1
                for v in result.verdicts:
                    if not v.accepted or v.weak or v.looks_like:
                        err.print(f"[yellow]{person}:[/] {v.name}: {'; '.join(v.reasons) or 'flagged'}")
            except EnrolmentRejected as exc:
                failed += 1
                err.print(f"[red]{person}: nothing enrolled[/] ({exc.reason})")
            except BadInput as exc:
                failed += 1
                err.print(f"[red]{person}:[/] {exc}")
            bar.advance(task)
    console.print(f"enrolled {done} people on {template.list_name}; {failed} could not be enrolled")
    if done == 0:
        raise typer.Exit(1)


# --- people ------------------------------------------------------------------------------------------


@people_app.command("ls")
def people_ls(
    list_name: Annotated[str | None, typer.Option("--list", "-l", help="Only people on this list.")] = None,
    config: ConfigOption = None,
) -> None:
    """People, their lists (with expiry) and how many photos each has."""
    store = _store(config)
    with cli_errors():
        rows = store.people.all(list_name)
    table = Table("id", "name", "lists", "photos", "enrolled")
    for p in rows:
        lists = ", ".join(
            f"{n}" + (f" (until {e:%Y-%m-%d})" if e else "") for n, e in sorted(p.lists.items())
        )
        table.add_row(str(p.id), p.name, lists, str(p.samples), f"{p.created_at:%Y-%m-%d}")
    console.print(table)


@people_app.command("show")
def people_show(person_id: int, config: ConfigOption = None) -> None:
    """One person: lists with reason, source, who added and approved, expiry; photos with quality."""
    store = _store(config)
    with cli_errors():
        d = store.people.show(person_id)
    console.print(f"[bold]{d.info.name}[/] (person {d.info.id}, enrolled {d.info.created_at:%Y-%m-%d %H:%M})")
    if d.notes:
        console.print(f"notes: {d.notes}")
    for e in d.entries:
        expiry = f"until {e['expires_at']:%Y-%m-%d}" if e["expires_at"] else "no expiry"
        console.print(
            f"  list {e['list']}: {e['reason']} (source: {e['photo_source'] or '-'}; "
            f"added by {e['added_by']}, approved by {e['approved_by'] or '-'}; {expiry})"
        )
    for x in d.samples:
        q = x["quality"]
        total = q.get("total", 0.0) if isinstance(q, dict) else 0.0
        console.print(f"  photo {x['id']}: {x['photo']} quality {total:.2f}{' (weak)' if x['weak'] else ''}")


@people_app.command("add-list")
def people_add_list(
    person_id: int,
    list_name: Annotated[str, typer.Argument(help="The list to put them on too.")],
    reason: ReasonOption,
    expires: Annotated[str | None, typer.Option("--expires", help="The entry stops matching then.")] = None,
    approved_by: Annotated[str | None, typer.Option("--approved-by", help="Who approved the entry.")] = None,
    actor: ActorOption = None,
    config: ConfigOption = None,
) -> None:
    """Put an enrolled person on another list too (one person, several lists)."""
    store = _store(config)
    with cli_errors():
        info = store.people.put_on_list(
            actor_of(actor), person_id, list_name, reason, _expiry(expires), approved_by
        )
    console.print(f"{info.name} (person {info.id}) is on: {', '.join(sorted(info.lists))}")


@people_app.command("rm-list")
def people_rm_list(
    person_id: int,
    list_name: Annotated[str, typer.Argument(help="The list to take them off.")],
    reason: ReasonOption,
    actor: ActorOption = None,
    config: ConfigOption = None,
) -> None:
    """Take a person off one list (they stay enrolled, with their other lists)."""
    store = _store(config)
    with cli_errors():
        info = store.people.take_off_list(actor_of(actor), person_id, list_name, reason)
    console.print(f"{info.name} (person {info.id}) is on: {', '.join(sorted(info.lists)) or 'no list'}")


@people_app.command("negatives")
def people_negatives(person_id: int, config: ConfigOption = None) -> None:
    """The "not this person" negatives of a person (tracks rejected as a wrong person)."""
    store = _store(config)
    with cli_errors():
        rows = FeedbackService(store.db).of_person(person_id)
    table = Table("id", "alert", "list", "model", "by", "at", "reason")
    for n in rows:
        table.add_row(
            str(n.id), str(n.event_id or "-"), n.watchlist or "-", n.model_id, n.created_by,
            f"{n.created_at:%Y-%m-%d %H:%M}", n.reason,
        )  # fmt: skip
    console.print(table)


@people_app.command("rm-negative")
def people_rm_negative(
    negative_id: int, reason: ReasonOption, actor: ActorOption = None, config: ConfigOption = None
) -> None:
    """Withdraw a negative (the rejection was itself a mistake): faces like it can be named again."""
    store = _store(config)
    with cli_errors():
        FeedbackService(store.db).withdraw(actor_of(actor), negative_id, reason)
    console.print(f"withdrew negative {negative_id}")


@people_app.command("rm")
def people_rm(
    person_id: int, reason: ReasonOption, actor: ActorOption = None, config: ConfigOption = None
) -> None:
    """Remove a person from every list, with their photos."""
    store = _store(config)
    with cli_errors():
        store.people.remove(actor_of(actor), person_id, reason)
    console.print(f"removed person {person_id}")


def purge(config: ConfigOption = None) -> None:
    """Delete what is past its retention now: events of faces that matched no list, alerts past their
    list's retention, old search photos (a running `vigil serve` does this every retention.purge_every_s)."""
    store = _store(config)
    with cli_errors():
        report = RetentionPurge(store.db, store.media, store.config.retention).purge()
    console.print(
        f"purged {report.events} events ({report.unmatched_events} unmatched, {report.alert_events} alerts), "
        f"{report.files} files and {report.probes} search photos in {report.seconds:.1f} s"
    )
