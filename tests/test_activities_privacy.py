"""Whose sign-up is whose stays private: a button carrying someone else's registration id
reveals nothing (no name, no activity, no time)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.activities.callbacks import RegAction, RegCb
from models.activities import ActivityError, ActivityErrorCode, registration_seen_by, sign_up
from models.users import Relation, Role
from tests.chat import Chat, Person
from tests.test_activities_helpers import link_family, make_activity, make_retiree, make_user


async def _signed_up(session: AsyncSession):  # type: ignore[no-untyped-def]
    activity = await make_activity(session, title="太极拳晨练")
    owner = await make_retiree(session, 8801, "王秀英")
    stranger = await make_retiree(session, 8802, "李建国")
    son = await make_user(session, 8803, Role.FAMILY, "王磊")
    await link_family(session, son, owner, Relation.SON)
    staff = await make_user(session, 8804, Role.STAFF, "刘芳")
    registration = (await sign_up(session, owner.user, activity.id, owner.id)).registration
    await session.commit()
    return registration, owner, stranger, son, staff


async def test_only_people_who_may_act_for_the_participant_see_a_sign_up(
    session: AsyncSession,
) -> None:
    registration, owner, stranger, son, staff = await _signed_up(session)
    for allowed in (owner.user, son, staff):
        assert (await registration_seen_by(session, allowed, registration.id)).id == registration.id
    with pytest.raises(ActivityError) as refused:
        await registration_seen_by(session, stranger.user, registration.id)
    assert refused.value.code == ActivityErrorCode.FORBIDDEN


async def test_a_forged_cancel_button_reveals_nothing(chat: Chat, session: AsyncSession) -> None:
    registration, _owner, _stranger, _son, _staff = await _signed_up(session)
    forged = RegCb(action=RegAction.ASK, registration_id=registration.id).pack()
    sent = await chat.press(Person(id=8802, first_name="李建国"), forged)
    shown = " ".join(str(r.params) for r in sent)
    assert "王秀英" not in shown and "太极拳" not in shown
    answers = [r for r in sent if r.method == "answerCallbackQuery"]
    assert answers and answers[0].params.get("show_alert") is True
    assert not [r for r in sent if r.method == "sendMessage"]
