# Small runtime image for the collector daemon.
#
# Two stages: the first installs the project into a virtualenv, the second
# copies only that virtualenv onto a fresh slim base, so pip, setuptools, the
# compiler and the build context never reach the image that runs. Every
# dependency ships as a wheel (pyarrow, numpy, msgspec, uvloop, zlib-ng); the
# project's own native core (collector/native, the per-level hot path) is
# compiled in the build stage by setup.py, and the build stops if it was not:
# an image silently on the pure-Python reference path would spend 1.4 to 2.4
# times the CPU per frame (benchmarks/README.md, native against reference).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install --yes --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY collector ./collector
COPY adapters ./adapters
RUN python -m venv /opt/collector \
    && /opt/collector/bin/pip install . \
    && /opt/collector/bin/python -c "from collector import native; assert native.available(), 'native core not built'" \
    && /opt/collector/bin/pip uninstall --yes pip setuptools wheel

FROM ${PYTHON_IMAGE}
# A numeric UID/GID: Kubernetes can only check runAsNonRoot against a number.
RUN groupadd --gid 10001 collector \
    && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin collector \
    && mkdir /data && chown 10001:10001 /data
COPY --from=build /opt/collector /opt/collector
COPY config /app/config
ENV PATH=/opt/collector/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# The default config writes under the working directory (data/, data/capture/).
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
# /metrics (Prometheus) and /health. The config's default listen address is
# loopback only; the CMD below opens it to the container's network instead.
EXPOSE 9464
# Slim has no curl: the stdlib's urlopen raises (exit 1) on 503 or no answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ.get('COLLECTOR_HEALTH_URL', 'http://127.0.0.1:9464/health'), timeout=4)"]
ENTRYPOINT ["collector"]
CMD ["run", "--config", "/app/config/default.toml", "--metrics-listen", "0.0.0.0:9464"]
