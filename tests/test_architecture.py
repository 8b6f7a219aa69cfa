"""The shared mechanisms every capability builds on: button presses answered once, edits that
change nothing, domain refusals in the person's language, forms as step tables, and routers
built by factories."""

from __future__ import annotations

import enum
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import ConstI18nMiddleware, I18n

import handlers
from bot.config import Settings
from bot.factory import create_dispatcher
from bot.middlewares import CallbackAnswerMiddleware
from handlers.errors import domain_errors
from handlers.forms import Form, FormRegistry, Invalid, Step, StepContext, text_answer
from handlers.ui import edit_or_send
from models.errors import DomainError
from models.office import OfficeSettings
from tests.chat import Chat, Person
from tests.recording import RecordingSession

ANNA = Person(5101, "Anna", language_code="en")


class Tap(enum.StrEnum):
    SELF = "s"
    SILENT = "q"
    TOAST = "t"
    EDIT = "e"
    REFUSED = "r"


class TapCb(CallbackData, prefix="tt"):
    action: Tap


class RefusalCode(enum.StrEnum):
    FULL = "full"


class Refusal(DomainError):
    pass


async def answers_itself(callback: CallbackQuery) -> None:
    await callback.answer("done")


async def answers_nothing(callback: CallbackQuery) -> None:
    return None


async def sets_a_toast(callback: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    callback_answer.text = "saved"


async def edits_the_same(callback: CallbackQuery) -> None:
    await edit_or_send(callback, "the same screen")


async def is_refused(callback: CallbackQuery) -> None:
    raise Refusal(RefusalCode.FULL, "capacity 3")


def _mini_dispatcher(i18n: I18n, *routers: Router) -> Dispatcher:
    dispatcher = Dispatcher(storage=MemoryStorage(), i18n=i18n, office=OfficeSettings())
    ConstI18nMiddleware("en", i18n=i18n).setup(dispatcher)
    dispatcher.callback_query.middleware(CallbackAnswerMiddleware())
    buttons = Router(name="buttons")
    for action, handler in [
        (Tap.SELF, answers_itself),
        (Tap.SILENT, answers_nothing),
        (Tap.TOAST, sets_a_toast),
        (Tap.EDIT, edits_the_same),
        (Tap.REFUSED, is_refused),
    ]:
        buttons.callback_query.register(handler, TapCb.filter(F.action == action))
    dispatcher.include_routers(
        buttons, *routers, domain_errors(Refusal, lambda e: f"refused: {e.code}")
    )
    return dispatcher


@pytest.fixture
def mini(i18n: I18n, bot: Bot, recording: RecordingSession) -> Chat:
    return Chat(_mini_dispatcher(i18n), bot, recording)


def _answers(requests: list[Any]) -> list[dict[str, Any]]:
    return [r.params for r in requests if r.method == "answerCallbackQuery"]


async def test_a_press_is_answered_once_whoever_answers(mini: Chat) -> None:
    answers = _answers(await mini.press(ANNA, TapCb(action=Tap.SELF).pack()))
    assert [a.get("text") for a in answers] == ["done"]
    answers = _answers(await mini.press(ANNA, TapCb(action=Tap.SILENT).pack()))
    assert len(answers) == 1 and not answers[0].get("text")
    answers = _answers(await mini.press(ANNA, TapCb(action=Tap.TOAST).pack()))
    assert [a.get("text") for a in answers] == ["saved"]


async def test_an_edit_that_changes_nothing_is_not_an_error(
    mini: Chat, recording: RecordingSession
) -> None:
    recording.queue_error(
        400,
        "Bad Request: message is not modified: specified new message content and reply "
        "markup are exactly the same",
        method="editMessageText",
    )
    sent = await mini.press(ANNA, TapCb(action=Tap.EDIT).pack())
    assert [r.method for r in sent] == ["editMessageText", "answerCallbackQuery"]


async def test_an_edit_of_a_vanished_message_sends_it_anew(
    mini: Chat, recording: RecordingSession
) -> None:
    recording.queue_error(400, "Bad Request: message to edit not found", method="editMessageText")
    sent = await mini.press(ANNA, TapCb(action=Tap.EDIT).pack())
    assert [r.method for r in sent] == ["editMessageText", "sendMessage", "answerCallbackQuery"]
    assert sent[1].text == "the same screen"


async def test_a_domain_refusal_is_a_toast_and_no_failure(mini: Chat) -> None:
    sent = await mini.press(ANNA, TapCb(action=Tap.REFUSED).pack())
    assert [(r.method, r.params.get("text"), r.params.get("show_alert")) for r in sent] == [
        ("answerCallbackQuery", "refused: full", True)
    ]


# -- forms as step tables ---------------------------------------------------------------------


class Pet(StatesGroup):
    name = State()
    legs = State()
    review = State()


def _parse_legs(message: Message, ctx: StepContext) -> dict[str, Any]:
    text = text_answer(message)
    if not text.isdigit():
        raise Invalid("A number, please.")
    return {"legs": int(text)}


PET = Form(
    "pet",
    [
        Step(Pet.name, lambda: "Name?", parse=lambda m, c: {"name": text_answer(m)}, field="name"),
        Step(Pet.legs, lambda: "Legs?", parse=_parse_legs, field="legs"),
    ],
    data_key="pet",
    review=Step(
        Pet.review, lambda: "Right?", text=lambda c: f"{c.answers['name']}/{c.answers['legs']}"
    ),
)


async def start_pet(message: Message, state: FSMContext, **data: Any) -> None:
    await PET.start(StepContext.of(message, {"state": state, **data}))


async def edit_name(message: Message, state: FSMContext, **data: Any) -> None:
    await PET.edit(StepContext.of(message, {"state": state, **data}), "name")


async def go_back(message: Message, state: FSMContext, **data: Any) -> None:
    ctx = StepContext.of(message, {"state": state, **data})
    step = PET.step_for(await state.get_state())
    assert step is not None
    await PET.back(ctx, step)


@pytest.fixture
def pets(i18n: I18n, bot: Bot, recording: RecordingSession) -> Chat:
    commands = Router(name="pet-commands")
    commands.message.register(start_pet, F.text == "/pet")
    commands.message.register(edit_name, F.text == "/rename")
    commands.message.register(go_back, F.text == "/back")
    dispatcher = _mini_dispatcher(i18n, commands, PET.router())
    dispatcher["session"] = None
    dispatcher["user"] = None
    return Chat(dispatcher, bot, recording)


async def test_a_form_is_a_table_of_steps(pets: Chat) -> None:
    assert [r.text for r in await pets.send(ANNA, "/pet")] == ["Name?"]
    assert [r.text for r in await pets.send(ANNA, "Rex")] == ["Legs?"]
    # bad input: the problem, then the same question; nothing entered is lost
    assert [r.text for r in await pets.send(ANNA, "many")] == ["A number, please.\nLegs?"]
    assert [r.text for r in await pets.send(ANNA, "/back")] == ["Name?"]
    assert [r.text for r in await pets.send(ANNA, "Rex")] == ["Legs?"]
    assert [r.text for r in await pets.send(ANNA, "4")] == ["Rex/4"]
    # changing one answer from the review comes back to the review, the rest kept
    assert [r.text for r in await pets.send(ANNA, "/rename")] == ["Name?"]
    assert [r.text for r in await pets.send(ANNA, "Max")] == ["Max/4"]


def test_a_state_belongs_to_one_form() -> None:
    copy = Form("copy", [PET.steps[0]], data_key="copy")
    with pytest.raises(ValueError, match="two forms"):
        FormRegistry([PET, copy])
    assert FormRegistry([PET]).prompt(Pet.legs.state) == "Legs?"


# -- routers from factories ---------------------------------------------------------------------


def test_the_router_tree_starts_with_private_chats_and_ends_with_the_fallback() -> None:
    root = handlers.setup()
    names = [router.name for router in root.sub_routers]
    assert names[0] == "private" and names[-1] == "handlers.fallback"
    private = root.sub_routers[0]
    assert private.sub_routers[0].name == "handlers.navigation"
    assert "private" in handlers.print_router_tree(root)


def test_two_dispatchers_in_one_process_each_get_their_own_routers(
    settings: Settings, sessionmaker: Any, i18n: I18n
) -> None:
    first = create_dispatcher(settings, sessionmaker, storage=MemoryStorage(), i18n=i18n)
    second = create_dispatcher(settings, sessionmaker, storage=MemoryStorage(), i18n=i18n)
    assert first.sub_routers[0] is not second.sub_routers[0]
    assert first.sub_routers[0].parent_router is first


def test_every_declared_menu_button_is_in_the_one_list() -> None:
    """A capability declares its buttons as module constants; `handlers.menu_items()` is the one
    list. A button declared but left out of it would silently never show."""
    import importlib
    import pkgutil

    from handlers.menu import MenuItem

    declared = set()
    for module_info in pkgutil.walk_packages(handlers.__path__, "handlers."):
        module = importlib.import_module(module_info.name)
        declared |= {v.key for v in vars(module).values() if isinstance(v, MenuItem)}
    assert declared == set(handlers.menu_items())


def test_every_waiting_state_has_a_question_for_hints(i18n: I18n) -> None:
    """Each state a person can be left in answers an unexpected message with its question."""
    import importlib
    import pkgutil

    registry = handlers.forms()
    missing = []
    for module_info in pkgutil.walk_packages(handlers.__path__, "handlers."):
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, StatesGroup)
                and value is not StatesGroup
            ):
                with i18n.context():
                    missing += [
                        s.state for s in value.__all_states__ if not registry.prompt(s.state)
                    ]
    assert not missing


def _imports(package: str) -> dict[str, set[str]]:
    """Top-level names each module of a package imports (at any depth of the file)."""
    import ast
    from pathlib import Path

    found: dict[str, set[str]] = {}
    for path in Path(package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path)] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("models", {"aiogram", "bot", "handlers", "sandbox", "os"}),
        ("handlers", {"bot", "sandbox"}),
        ("bot", {"sandbox"}),
    ],
)
def test_imports_point_down_only(package: str, forbidden: set[str]) -> None:
    """sandbox → bot → handlers → models: a layer never imports one above it (the sandbox is
    started by `retiree-bot sandbox` through a late import inside the command)."""
    leaks = {
        path: sorted(names & forbidden)
        for path, names in _imports(package).items()
        if names & forbidden and path != "bot/cli.py"
    }
    assert not leaks


def test_numbers_in_buttons_are_bounded_like_ids() -> None:
    """A forged page, day or star count beyond its range fails the filter (the fallback answers
    kindly) instead of overflowing a query or `date.fromordinal` in a handler."""
    from handlers.activities.callbacks import CatAction, CatalogueCb, RateCb
    from handlers.requests.callbacks import DateAction, DateCb

    page = CatalogueCb(action=CatAction.PAGE, page=3)
    stars = RateCb(registration_id=1, rating=5)
    day = DateCb(action=DateAction.PICK, day=740_000)
    assert CatalogueCb.unpack(page.pack()) == page
    assert RateCb.unpack(stars.pack()) == stars
    assert DateCb.unpack(day.pack()) == day
    with pytest.raises(ValueError):
        CatalogueCb.unpack(page.pack().replace(":3:", ":10000000000000000000:"))
    with pytest.raises(ValueError):
        RateCb.unpack(stars.pack().replace(":5", ":6"))
    with pytest.raises(ValueError):
        DateCb.unpack(day.pack().replace("740000", "99999999999"))
