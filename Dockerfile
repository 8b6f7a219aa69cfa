# retiree-bot: one image for every role (bot, sender, scheduler); the command picks the role.
#   docker build -t retiree-bot .
#   docker run --env-file .env -v retiree-data:/app/data retiree-bot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # The application runs from /app (the source tree): the locales and migrations are found
    # next to the code, and the installed package provides the dependencies and the command.
    PYTHONPATH=/app

# Time zone data for TIMEZONE (Asia/Shanghai by default) and the scheduler.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tzdata \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --home-dir /app --shell /usr/sbin/nologin bot

WORKDIR /app

# The runtime only. sandbox/ (the stand-in Bot API, chat page and demo office) runs the bot and
# is not part of it: it is not copied (and .dockerignore keeps it out of the build context), so
# `pip install .` finds no sandbox package here and the image cannot start one.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY models ./models
COPY locales ./locales

RUN pip install . \
    # The translations are compiled at every start (into locales/*/LC_MESSAGES), and the
    # default SQLite database lives in /app/data: both must be writable by the bot user.
    && mkdir -p /app/data \
    && chown -R bot:bot /app/data /app/locales

USER bot

# SQLite database (the embedded default) and anything else the bot keeps on disk.
VOLUME ["/app/data"]

# Webhook mode (WEBHOOK_URL set) listens here; GET /healthz answers "ok".
EXPOSE 8080

# SIGTERM: stop taking updates, finish the one in hand, stop the sender, exit 0.
STOPSIGNAL SIGTERM
CMD ["retiree-bot", "run"]
