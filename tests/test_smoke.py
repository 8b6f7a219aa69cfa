from sqlalchemy import select

from models import User
from tests.chat import Chat, Person


async def test_start_answers_and_stores_the_user(chat: Chat, session) -> None:
    person = Person(id=5001, first_name="王秀英")
    sent = await chat.send(person, "/start")
    assert sent and sent[0].method == "sendMessage"
    user = await session.scalar(select(User).where(User.telegram_id == 5001))
    assert user is not None and user.display_name == "王秀英"
