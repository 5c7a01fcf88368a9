# purgebot's image: `purgebot serve` on a slim Python, as a non-root user, with its database on the
# /data volume. Everything it runs is installed from requirements.lock: pinned, hash-checked, no
# resolver (see the README, "Deploying it", for refreshing the lock and for running it).
#
#   docker build -t purgebot:0.1.0 .
#   docker run -d --name purgebot --env-file purgebot.env -v purgebot-data:/data -p 3000:3000 purgebot:0.1.0
#
# The tag pins the code and with it the database schema: roll back by running the previous tag on
# the backup taken before the upgrade.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements.lock ./
# --no-deps: the lock already lists every package; --require-hashes: a changed file is refused.
RUN python -m venv /opt/purgebot \
    && /opt/purgebot/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
# The build backend (setuptools) came from the lock too, so the project builds without fetching anything.
RUN /opt/purgebot/bin/pip install --no-deps --no-build-isolation . \
    && /opt/purgebot/bin/pip check

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="purgebot" \
      org.opencontainers.image.description="LangSmith compliance purges from Slack, under a two-person rule"
RUN groupadd --system --gid 10001 purgebot \
    && useradd --system --uid 10001 --gid purgebot --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin purgebot \
    && mkdir /data \
    && chown purgebot:purgebot /data
COPY --from=build /opt/purgebot /opt/purgebot
ENV PATH=/opt/purgebot/bin:$PATH \
    PURGEBOT_DB=/data/purgebot.db \
    PORT=3000 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The record: requests, batches, checks and the event chain. Never let it live on the container's own disk.
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 3000
# 503 (a database that is not writable, a dead worker, a stalled scheduler) makes urlopen raise: unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
ENTRYPOINT ["purgebot"]
CMD ["serve"]
