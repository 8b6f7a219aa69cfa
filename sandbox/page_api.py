"""The chat page (`/`) and its JSON API under `/sandbox/api/`.

Routes (all JSON unless said otherwise):
- `GET  /sandbox/api/info`                          bot name/username, people and groups, the
                                                    office time zone and this run's `boot` id
- `GET  /sandbox/api/people`                        people added with add_person (+ created ones)
- `POST /sandbox/api/people` {first_name, last_name?, language_code?, role_hint?}  a new user
- `GET  /sandbox/api/chats/{chat_id}/messages`      {chat, messages, keyboard, last}
- `GET  /sandbox/api/chats/{chat_id}/events?after=N&timeout=S`  long poll: {events, last}
- `GET  /sandbox/api/events?chats=1,-100…&after=N&timeout=S`  the same for several chats at once
  (event answers carry `boot`: a page that sees a new one knows the sandbox was restarted)
- `POST /sandbox/api/chats/{chat_id}/send`     {user_id, text, from_keyboard?}
- `POST /sandbox/api/chats/{chat_id}/contact`  {user_id, phone_number?}  share own phone number
- `POST /sandbox/api/chats/{chat_id}/location` {user_id, latitude, longitude}
- `POST /sandbox/api/chats/{chat_id}/photo`    multipart: user_id, file, caption?
- `POST /sandbox/api/chats/{chat_id}/voice`    multipart: user_id, file, duration?
- `POST /sandbox/api/chats/{chat_id}/press`    {user_id, message_id, callback_data}
- `GET  /sandbox/api/files/{file_id}`               the file's bytes (photos, voice notes)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

STATIC_DIR = Path(__file__).with_name("static")
MAX_POLL_SECONDS = 30.0
_SERVER_KEY = web.AppKey("sandbox_server", object)


def add_page_routes(app: web.Application, server: SandboxServer) -> None:
    app[_SERVER_KEY] = server
    app.router.add_get("/", _index)
    app.router.add_get("/sandbox/api/info", _info)
    app.router.add_get("/sandbox/api/people", _people)
    app.router.add_post("/sandbox/api/people", _create_person)
    app.router.add_get(r"/sandbox/api/chats/{chat_id:-?\d+}/messages", _messages)
    app.router.add_get(r"/sandbox/api/chats/{chat_id:-?\d+}/events", _events)
    app.router.add_get("/sandbox/api/events", _events_many)
    app.router.add_post(r"/sandbox/api/chats/{chat_id:-?\d+}/send", _send)
    app.router.add_post(r"/sandbox/api/chats/{chat_id:-?\d+}/contact", _contact)
    app.router.add_post(r"/sandbox/api/chats/{chat_id:-?\d+}/location", _location)
    app.router.add_post(r"/sandbox/api/chats/{chat_id:-?\d+}/photo", _photo)
    app.router.add_post(r"/sandbox/api/chats/{chat_id:-?\d+}/voice", _voice)
    app.router.add_post(r"/sandbox/api/chats/{chat_id:-?\d+}/press", _press)
    app.router.add_get(r"/sandbox/api/files/{file_id}", _file)
    app.router.add_static("/static/", STATIC_DIR, name="static")


def _server(request: web.Request) -> SandboxServer:
    return request.app[_SERVER_KEY]  # type: ignore[return-value]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def _info(request: web.Request) -> web.Response:
    server = _server(request)
    return web.json_response(
        {
            "bot": {"name": server.bot_name, "username": server.bot_username, "id": server.bot_id},
            "people": server.people(),
            "groups": server.groups(),
            "last": server.last_event,
            "boot": server.boot_id,
            "timezone": server.timezone,
        }
    )


async def _people(request: web.Request) -> web.Response:
    return web.json_response(_server(request).people())


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def _create_person(request: web.Request) -> web.Response:
    server = _server(request)
    body = await _json_body(request)
    first_name = str(body.get("first_name") or "").strip()
    if not first_name:
        return _error(400, "first_name is required")
    user_id = server.create_person(
        first_name[:64],
        last_name=(str(body.get("last_name")).strip()[:64] or None)
        if body.get("last_name")
        else None,
        language_code=str(body.get("language_code") or "zh-hans"),
        role_hint=str(body.get("role_hint") or "") or None,
        description=str(body.get("description") or "") or None,
    )
    return web.json_response(server.person_info(user_id), status=201)


def _chat_id(request: web.Request) -> int:
    return int(request.match_info["chat_id"])


async def _messages(request: web.Request) -> web.Response:
    server = _server(request)
    chat_id = _chat_id(request)
    if not server.has_chat(chat_id):
        return _error(404, "chat not found")
    last = server.last_event
    return web.json_response(
        {
            "chat": server.chat_info(chat_id),
            "messages": server.messages(chat_id),
            "keyboard": server.reply_keyboard(chat_id),
            "last": last,
        }
    )


async def _events(request: web.Request) -> web.Response:
    server = _server(request)
    chat_id = _chat_id(request)
    if not server.has_chat(chat_id):
        return _error(404, "chat not found")
    try:
        after = int(request.query.get("after", "0"))
        timeout = min(float(request.query.get("timeout", "25")), MAX_POLL_SECONDS)
    except ValueError:
        return _error(400, "after and timeout must be numbers")
    events = await server.wait_events(chat_id, after, max(0.0, timeout))
    last = events[-1]["seq"] if events else max(after, 0)
    return web.json_response({"events": events, "last": last, "boot": server.boot_id})


async def _events_many(request: web.Request) -> web.Response:
    server = _server(request)
    try:
        chat_ids = [int(part) for part in request.query.get("chats", "").split(",") if part]
        after = int(request.query.get("after", "0"))
        timeout = min(float(request.query.get("timeout", "25")), MAX_POLL_SECONDS)
    except ValueError:
        return _error(400, "chats, after and timeout must be numbers")
    known = [chat_id for chat_id in chat_ids if server.has_chat(chat_id)]
    if not known:
        await asyncio.sleep(min(timeout, 5.0))
        return web.json_response({"events": [], "last": max(after, 0), "boot": server.boot_id})
    events = await server.wait_events(known, after, max(0.0, timeout))
    last = events[-1]["seq"] if events else max(after, 0)
    return web.json_response({"events": events, "last": last, "boot": server.boot_id})


def _user_id(server: SandboxServer, chat_id: int, value: Any) -> int | web.Response:
    try:
        user_id = int(value)
    except (TypeError, ValueError):
        return _error(400, "user_id is required")
    if user_id not in {p["id"] for p in server.people()}:
        return _error(404, "unknown person")
    if not server.has_chat(chat_id):
        return _error(404, "chat not found")
    return user_id


async def _send(request: web.Request) -> web.Response:
    server = _server(request)
    chat_id = _chat_id(request)
    body = await _json_body(request)
    user_id = _user_id(server, chat_id, body.get("user_id"))
    if isinstance(user_id, web.Response):
        return user_id
    text = str(body.get("text") or "")
    if not text.strip():
        return _error(400, "text is empty")
    message = await server.user_sends(
        user_id, text, chat_id=chat_id, from_keyboard=bool(body.get("from_keyboard"))
    )
    return web.json_response({"message": message})


async def _contact(request: web.Request) -> web.Response:
    server = _server(request)
    chat_id = _chat_id(request)
    body = await _json_body(request)
    user_id = _user_id(server, chat_id, body.get("user_id"))
    if isinstance(user_id, web.Response):
        return user_id
    person = server.person_info(user_id)
    contact: dict[str, Any] = {
        "phone_number": str(body.get("phone_number") or person["phone_number"]),
        "first_name": person["first_name"],
        "user_id": user_id,
    }
    if person.get("last_name"):
        contact["last_name"] = person["last_name"]
    message = await server.user_sends(user_id, chat_id=chat_id, contact=contact, from_keyboard=True)
    return web.json_response({"message": message})


async def _location(request: web.Request) -> web.Response:
    server = _server(request)
    chat_id = _chat_id(request)
    body = await _json_body(request)
    user_id = _user_id(server, chat_id, body.get("user_id"))
    if isinstance(user_id, web.Response):
        return user_id
    try:
        location = {"latitude": float(body["latitude"]), "longitude": float(body["longitude"])}
    except (KeyError, TypeError, ValueError):
        return _error(400, "latitude and longitude are required")
    message = await server.user_sends(
        user_id, chat_id=chat_id, location=location, from_keyboard=True
    )
    return web.json_response({"message": message})


async def _upload(request: web.Request) -> tuple[dict[str, str], bytes | None]:
    """Form fields, and the uploaded file's bytes (its type in fields["content_type"])."""
    fields: dict[str, str] = {}
    data: bytes | None = None
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            continue
        content = bytes(await part.read(decode=True))
        if part.filename is not None or part.name == "file":
            data = content
            fields["content_type"] = part.headers.get("Content-Type", "")
        elif part.name:
            fields[part.name] = content.decode("utf-8", "replace")
    return fields, data


async def _photo(request: web.Request) -> web.Response:
    return await _media(request, "photo")


async def _voice(request: web.Request) -> web.Response:
    return await _media(request, "voice")


async def _media(request: web.Request, kind: str) -> web.Response:
    server = _server(request)
    chat_id = _chat_id(request)
    if not request.content_type.startswith("multipart/"):
        return _error(400, "send multipart/form-data with user_id and file")
    fields, data = await _upload(request)
    user_id = _user_id(server, chat_id, fields.get("user_id"))
    if isinstance(user_id, web.Response):
        return user_id
    if not data:
        return _error(400, "file is empty")
    caption = fields.get("caption") or None
    if kind == "photo":
        message = await server.user_sends(user_id, chat_id=chat_id, photo=data, caption=caption)
    else:
        try:
            duration = max(1, round(float(fields.get("duration") or 0))) or None
        except ValueError:
            duration = None
        message = await server.user_sends(
            user_id,
            chat_id=chat_id,
            voice=data,
            caption=caption,
            voice_duration=duration,
            voice_mime_type=fields.get("content_type", "").split(";")[0] or None,
        )
    return web.json_response({"message": message})


async def _press(request: web.Request) -> web.Response:
    server = _server(request)
    chat_id = _chat_id(request)
    body = await _json_body(request)
    user_id = _user_id(server, chat_id, body.get("user_id"))
    if isinstance(user_id, web.Response):
        return user_id
    try:
        query_id = await server.user_presses(
            user_id, chat_id, int(body["message_id"]), str(body["callback_data"])
        )
    except (KeyError, TypeError, ValueError):
        return _error(404, "no such bot message or button")
    return web.json_response({"callback_query_id": query_id})


async def _file(request: web.Request) -> web.StreamResponse:
    found = _server(request).file_bytes(request.match_info["file_id"])
    if found is None:
        return _error(404, "file not found")
    data, mime_type = found
    return web.Response(body=data, content_type=mime_type)
