"""Family relations in words, from the reader's side and in the reader's language.

A link stores the family member's own role as a code (`models.users.Relation`: "I am her
daughter"), whether the relative is the mother or the father (`retiree_female`, for the roles
where it matters), and the words typed when none fits (OTHER). So:

- the family member reads what the relative is to them: "陈淑珍（母亲）";
- the retiree reads what the family member is to them: "Mei Chen 说她是您的女儿".

Every function calls `_()` inside: it speaks the current (reader's) locale. Outbox rows carry
the code (`models.registration.link_params`); a row queued before codes existed carries the
words, which are read as OTHER.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram.utils.i18n import gettext as _

from handlers.filters import is_label
from models.users import FamilyLink, Relation


def _relation(value: object) -> tuple[Relation, str | None]:
    """A stored code, or (an old row) the words themselves as OTHER."""
    if isinstance(value, Relation):
        return value, None
    try:
        return Relation(str(value)), None
    except ValueError:
        return Relation.OTHER, str(value or "") or None


def member_role(relation: Relation, note: str | None = None) -> str:
    """What the family member is to the retiree ("女儿", "son-in-law")."""
    words: dict[Relation, Callable[[], str]] = {
        Relation.SON: lambda: _("son"),
        Relation.DAUGHTER: lambda: _("daughter"),
        Relation.SON_IN_LAW: lambda: _("son-in-law"),
        Relation.DAUGHTER_IN_LAW: lambda: _("daughter-in-law"),
        Relation.GRANDSON: lambda: _("grandson"),
        Relation.GRANDDAUGHTER: lambda: _("granddaughter"),
        Relation.NEPHEW: lambda: _("nephew"),
        Relation.NIECE: lambda: _("niece"),
        Relation.SPOUSE: lambda: _("spouse"),
    }
    word = words.get(relation)
    return word() if word is not None else (note or _("relative"))


def retiree_role(relation: Relation, female: bool | None, note: str | None = None) -> str:
    """What the retiree is to the family member ("母亲", "mother-in-law"). When the family
    member did not say whether it is the mother or the father (a link made before they were
    asked), or the role does not tell (a nephew's aunt or uncle): "elder relative"."""
    if relation == Relation.SPOUSE:
        return _("spouse")
    if relation == Relation.OTHER:
        return note or _("relative")
    if female is None or not relation.asks_retiree_gender:
        return _("elder relative")
    pairs: dict[Relation, tuple[Callable[[], str], Callable[[], str]]] = {
        Relation.SON: (lambda: _("mother"), lambda: _("father")),
        Relation.DAUGHTER: (lambda: _("mother"), lambda: _("father")),
        Relation.SON_IN_LAW: (lambda: _("wife's mother"), lambda: _("wife's father")),
        Relation.DAUGHTER_IN_LAW: (lambda: _("husband's mother"), lambda: _("husband's father")),
        Relation.GRANDSON: (lambda: _("grandmother"), lambda: _("grandfather")),
        Relation.GRANDDAUGHTER: (lambda: _("grandmother"), lambda: _("grandfather")),
    }
    mother, father = pairs[relation]
    return mother() if female else father()


def member_is_female(relation: Relation) -> bool | None:
    """Whether the family member is a woman, as far as their role tells."""
    if relation in (
        Relation.DAUGHTER,
        Relation.DAUGHTER_IN_LAW,
        Relation.GRANDDAUGHTER,
        Relation.NIECE,
    ):
        return True
    if relation in (Relation.SON, Relation.SON_IN_LAW, Relation.GRANDSON, Relation.NEPHEW):
        return False
    return None


def name_with_role(name: str, role: str) -> str:
    """ "陈淑珍（母亲）" / "Chen Shuzhen (mother)"."""
    return _("{name} ({role})").format(name=name, role=role)


# -- what the family member reads ---------------------------------------------------------------


def relative_in_list(link: FamilyLink) -> str:
    """A line of "My family": the relative's name and what they are to the reader."""
    role = retiree_role(link.relation, link.retiree_female, link.relation_note)
    return name_with_role(link.profile.full_name, role)


# -- what the retiree (or staff) reads --------------------------------------------------------


def says_related(params: dict[str, Any]) -> str:
    """ "Mei Chen 说她是您的女儿。" from a link's outbox params."""
    relation, old_words = _relation(params.get("relation"))
    note = params.get("relation_note") or old_words
    name = params.get("family_name", "")
    role = member_role(relation, note)
    female = member_is_female(relation)
    if female is True:
        text = _("{name} says she is your {role}.")
    elif female is False:
        text = _("{name} says he is your {role}.")
    else:
        text = _("{name} says they are your {role}.")
    return text.format(name=name, role=role)


def says_related_to(params: dict[str, Any]) -> str:
    """For staff deciding for a retiree without an account: "Mei Chen 说她是陈淑珍的女儿。"."""
    relation, old_words = _relation(params.get("relation"))
    note = params.get("relation_note") or old_words
    values = {
        "name": params.get("family_name", ""),
        "retiree": params.get("retiree_name", ""),
        "role": member_role(relation, note),
    }
    female = member_is_female(relation)
    if female is True:
        return _("{name} says she is the {role} of {retiree}.").format(**values)
    if female is False:
        return _("{name} says he is the {role} of {retiree}.").format(**values)
    return _("{name} says they are the {role} of {retiree}.").format(**values)


# -- the family link form's buttons ------------------------------------------------------------


# Module-level, so a label keeps one identity (`handlers.filters.in_all_locales` caches by it).
RELATION_BUTTONS: dict[Relation, Callable[[], str]] = {
    Relation.SON: lambda: _("Son"),
    Relation.DAUGHTER: lambda: _("Daughter"),
    Relation.SON_IN_LAW: lambda: _("Son-in-law"),
    Relation.DAUGHTER_IN_LAW: lambda: _("Daughter-in-law"),
    Relation.GRANDSON: lambda: _("Grandson"),
    Relation.GRANDDAUGHTER: lambda: _("Granddaughter"),
    Relation.SPOUSE: lambda: _("Spouse"),
}


def relation_of_button(text: str | None) -> Relation | None:
    """The relation whose button this is, in any language."""
    return next((r for r, label in RELATION_BUTTONS.items() if is_label(text, label)), None)


def _mother_button() -> str:
    return _("Mother")


def _father_button() -> str:
    return _("Father")


def gender_buttons(relation: Relation) -> tuple[str, str]:
    """The relative as the mother or the father, in the family member's words (capitalised)."""
    return (
        retiree_role(relation, True).capitalize(),
        retiree_role(relation, False).capitalize(),
    )


def female_of_button(relation: Relation, text: str | None) -> bool | None:
    """True for the "mother" button of this relation (in any language), False for "father";
    also a plain "mother"/"father", "女"/"男"; None when the text is neither."""
    words = " ".join((text or "").split()).casefold()
    if not words:
        return None
    for female in (True, False):
        label = retiree_role(relation, female)
        if words == label.casefold() or is_label(
            text, _mother_button if female else _father_button
        ):
            return female
    for female, hints in (
        (True, ("女", "母", "妈", "媽", "婆", "奶", "female", "mother", "mum", "mom")),
        (False, ("男", "父", "爸", "公", "爷", "爺", "male", "father", "dad")),
    ):
        if any(hint in words for hint in hints):
            return female
    return None
