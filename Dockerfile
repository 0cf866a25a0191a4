# syntax=docker/dockerfile:1
# One image for the four Provisio services; the command picks the service:
#   docker build -t provisio .
#   docker run provisio deal-ingest      (or calc-engine, quota-service, payout-service)
# The workspace is installed from uv.lock exactly (uv sync --frozen), without dev tools.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
# The same uv as the Makefile (UV_VERSION).
RUN python -m pip install "uv==0.13.9"
WORKDIR /app
# Third-party dependencies first: this layer changes only with uv.lock.
COPY pyproject.toml uv.lock ./
COPY libs/calc/pyproject.toml libs/calc/
COPY libs/common/pyproject.toml libs/common/
COPY libs/cli/pyproject.toml libs/cli/
COPY services/deal-ingest/pyproject.toml services/deal-ingest/
COPY services/calc-engine/pyproject.toml services/calc-engine/
COPY services/quota-service/pyproject.toml services/quota-service/
COPY services/payout-service/pyproject.toml services/payout-service/
RUN uv sync --frozen --no-dev --no-install-workspace
# Then the workspace (sources and migrations; tests are left out by .dockerignore).
COPY libs ./libs
COPY services ./services
RUN uv sync --frozen --no-dev \
    && python -m compileall -q libs services

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 provisio \
    && useradd --system --uid 10001 --gid provisio --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin provisio
WORKDIR /app
# Owned by root and read-only for the service user: the root filesystem can be read-only.
COPY --from=build /app /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PROVISIO_HTTP_HOST=0.0.0.0 \
    PROVISIO_HTTP_PORT=8080 \
    PROVISIO_LOG_JSON=true
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PROVISIO_HTTP_PORT', '8080') + '/healthz', timeout=3)"]
ENTRYPOINT ["provisio", "serve"]
CMD ["deal-ingest"]
