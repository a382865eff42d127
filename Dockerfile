# One image for every service: `media-analysis <service>` picks the role.
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg curl fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY events ./events
COPY command_api ./command_api
COPY query_api ./query_api
COPY processors ./processors
COPY projector ./projector
COPY read_model ./read_model
COPY infra ./infra
COPY http_edge ./http_edge
COPY entrypoints ./entrypoints
COPY alembic ./alembic
RUN pip install --no-cache-dir -e . \
    && useradd --system --uid 10001 app && mkdir -p /data/work /data/artifacts && chown app /data/work /data/artifacts
USER app
ENV WORK_DIR=/data/work ARTIFACT_DIR=/data/artifacts API_HOST=0.0.0.0
EXPOSE 8000
CMD ["media-analysis", "api"]
