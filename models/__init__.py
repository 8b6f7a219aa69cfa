"""The domain: entities and the operations on them. No aiogram, no Telegram types."""

from models import activities as activities  # tables for Alembic
from models import requests as requests  # tables for Alembic
from models.base import Base, utcnow
from models.outbox import OutboxMessage, OutboxStatus, enqueue
from models.runtime import FsmRecord, ProcessedUpdate
from models.users import (
    FamilyLink,
    Grid,
    InviteCode,
    LinkStatus,
    RetireeProfile,
    Role,
    User,
    load_or_create_user,
)

__all__ = [
    "Base",
    "FamilyLink",
    "FsmRecord",
    "Grid",
    "InviteCode",
    "LinkStatus",
    "OutboxMessage",
    "OutboxStatus",
    "ProcessedUpdate",
    "RetireeProfile",
    "Role",
    "User",
    "enqueue",
    "load_or_create_user",
    "utcnow",
]
