# Small runtime image for the collector daemon.
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 collector
WORKDIR /app
COPY pyproject.toml README.md ./
COPY collector ./collector
COPY adapters ./adapters
COPY config ./config
RUN pip install --no-cache-dir . && mkdir -p /data && chown collector /data

USER collector
VOLUME ["/data"]
ENTRYPOINT ["collector"]
CMD ["run", "--config", "config/default.toml"]
