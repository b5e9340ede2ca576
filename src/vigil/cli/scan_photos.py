"""`vigil scan` on still photos: every face of each photo, identified or unknown, with its score and margin.

Inputs are told apart by content: a file whose first bytes are an image is a photo (so is a file named
like an image, which then fails with the reason); a folder stands for the files in it, each handled as
what it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from vigil.app import Engine
from vigil.config import MatchConfig
from vigil.ingest import IMAGE_SUFFIXES, load_image
from vigil.ingest.sniff import sniff_file
from vigil.match.photo import PhotoFace, judge_faces
from vigil.match.watchlist import Watchlist
from vigil.types import IdentityScore


@dataclass(frozen=True, slots=True)
class PhotoLine:
    """What `vigil scan` reports for one face of one photo."""

    source: str
    face: PhotoFace

    def as_json(self) -> dict[str, object]:
        """The keys of a video track's record where they apply (no track, time or crop), and the face's
        box, detector score and whether it was good enough to judge."""
        f, d = self.face, self.face.decision
        finite = d.candidate is not None
        return {
            "source": self.source,
            "face": f.index,
            "xyxy": list(f.xyxy),
            "det_score": f.det_score,
            "identity": d.identity,
            "candidate": d.candidate,
            "score": round(d.score, 4) if finite else None,
            "margin": round(d.margin, 4) if finite else None,
            "runner_up": d.runner_up,
            "threshold": d.threshold,
            "shots": d.n_shots,
            "judged": f.judged,
            "problems": list(f.problems),
        }


def is_photo(path: Path) -> bool:
    """True for a file that starts like an image, or is named like one (it then fails with the reason)."""
    kind = sniff_file(path)
    if kind is not None and kind.endswith(" image"):
        return True
    return path.suffix.lower() in IMAGE_SUFFIXES and (kind is None or not kind.endswith(" video"))


def expand(specs: Sequence[str]) -> list[str]:
    """Each folder replaced by the files in it (sorted, hidden ones left out); other inputs as given."""
    out: list[str] = []
    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_dir():
            out.extend(str(p) for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith("."))
        else:
            out.append(spec)
    return out


def scan_photo(engine: Engine, watchlist: Watchlist, match: MatchConfig, path: Path) -> list[PhotoLine]:
    """Every face of the photo at ``path``, largest first, judged at ``match``'s threshold and margin.

    Raises:
        BadInput: the file is missing, not an image, corrupt or too large.
    """
    image = load_image(path, engine.config.ingest)
    faces = engine.stills.encode(image)
    ranked: list[list[IdentityScore]] = (
        watchlist.search(faces.embeddings.vectors, 2) if len(faces.detections) else []
    )
    judged = judge_faces(
        image, faces, ranked, [match.threshold] * len(ranked), min_margin=match.min_margin,
        shots=engine.config.bestshot,
    )  # fmt: skip
    return [PhotoLine(str(path), f) for f in judged]


_HEADER = (
    f"  {'face':>4s}  {'box (x0,y0-x1,y1)':<20s} {'det':>4s}  {'identity':<24s} {'score':>6s} {'margin':>6s} "
)
_HEADER += f"{'thr':>6s}  candidate / runner-up"


def photo_table(path: Path, lines: list[PhotoLine]) -> str:
    """One row per face: box, detector score, identity (or why it was not judged), score, margin, the
    threshold, and the closest candidate and runner-up."""
    rows = [f"{path}: {len(lines)} face{'s' if len(lines) != 1 else ''}", _HEADER]
    for line in lines:
        f, d = line.face, line.face.decision
        x0, y0, x1, y1 = f.xyxy
        box = f"{x0:.0f},{y0:.0f}-{x1:.0f},{y1:.0f}"
        finite = d.candidate is not None
        score = f"{d.score:6.3f} {d.margin:6.3f}" if finite else f"{'-':>6s} {'-':>6s}"
        row = f"  {f.index:>4d}  {box:<20s} {f.det_score:4.2f}  {d.label:<24s} {score} {d.threshold:6.3f}  "
        row += f"{d.candidate or '-'} / {d.runner_up or '-'}"
        if not f.judged:
            row += f"  (not judged: {'; '.join(f.problems)})"
        rows.append(row)
    return "\n".join(rows)


def print_photo(console: Console, path: Path, lines: list[PhotoLine]) -> None:
    if not lines:
        console.print(f"{path}: no face found", markup=False)
        return
    console.print(photo_table(path, lines), markup=False)
