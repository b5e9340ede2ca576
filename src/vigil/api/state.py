"""The typed services container of the API, put on ``app.state.vigil`` by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.config import VigilConfig
from vigil.runtime.service import LiveService
from vigil.search.service import PhotoSearch
from vigil.services.audit_log import AuditLog
from vigil.services.clusters import ClusterService
from vigil.services.enrol import EnrolmentDesk
from vigil.services.evidence import EvidenceDesk
from vigil.services.footage_jobs import FootageJobs
from vigil.services.history import EventHistory
from vigil.services.lists import ListService
from vigil.services.people import PeopleService
from vigil.services.report import ReportService
from vigil.services.scopes import AlertScopes, UserScopes
from vigil.services.users import UserService
from vigil.store.db import Database
from vigil.store.media import MediaStore


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiState:
    """What the routes use, built by the composition root (``vigil.app``); nothing here is optional.

    A new service is a new required field: every place that builds an ``ApiState`` then has to pass it
    (keyword-only, so the order of fields does not matter).
    """

    config: VigilConfig
    db: Database
    media: MediaStore
    users: UserService
    live: LiveService
    lists: ListService
    people: PeopleService
    enrolment: EnrolmentDesk
    history: EventHistory
    scopes: AlertScopes  # the officer view's lists (a preference)
    limits: UserScopes  # the lists and cameras a user is limited to (enforced)
    search: PhotoSearch
    footage: FootageJobs
    clusters: ClusterService
    evidence: EvidenceDesk
    audit: AuditLog  # reading the audit log (audited)
    reports: ReportService
