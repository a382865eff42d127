# One image for every service: `media-analysis <service>` picks the role.
# Build stage: a wheel from the sources alone (migrations included), so the
# runtime image holds the installed package and no checkout.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY events ./events
COPY command_api ./command_api
COPY query_api ./query_api
COPY processors ./processors
COPY projector ./projector
COPY notifier ./notifier
COPY read_model ./read_model
COPY infra ./infra
COPY http_edge ./http_edge
COPY entrypoints ./entrypoints
COPY alembic ./alembic
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg curl fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 app && mkdir -p /data/work /data/artifacts && chown app /data/work /data/artifacts
WORKDIR /app
USER app
ENV WORK_DIR=/data/work ARTIFACT_DIR=/data/artifacts API_HOST=0.0.0.0
EXPOSE 8000
CMD ["media-analysis", "api"]
