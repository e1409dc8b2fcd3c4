# Gatehouse: one image, two roles.
#   console + APIs (default): python -m gateway_app serve          (port 3000)
#   API only, scale-out:       python -m gateway_app serve-api --host 0.0.0.0 --port 8080 --workers 2
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=0 \
    REFLEX_DIR=/app/.cache/reflex \
    BUN_INSTALL_CACHE_DIR=/app/.cache/bun \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data \
    LOG_FORMAT=json \
    ENV=production

# Debian's versions are not pinned: the base image's suite replaces them with security updates,
# so an exact pin breaks the build within weeks. The base image tag is what pins the suite.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm unzip \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
RUN pip install --no-cache-dir -c requirements.lock -e . \
 && npm install --save-exact --no-audit --no-fund --prefix=.tools bun@1.4.4

COPY . .
# Install the console's frontend dependencies at build time so a container starts quickly.
RUN reflex export --frontend-only --no-zip --env prod >/dev/null || true

# A numeric user and group (10001:10001): Kubernetes' runAsNonRoot can only check a numeric USER.
RUN groupadd --gid 10001 gatehouse \
 && useradd --create-home --uid 10001 --gid 10001 gatehouse \
 && mkdir -p /data && chown -R 10001:10001 /data /app
USER 10001:10001
VOLUME ["/data"]
EXPOSE 3000 8080

# Liveness of the default role (serve on $PORT). The API-only role listens elsewhere: compose
# and the Helm chart set their own checks.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('PORT', '3000'), timeout=2)"]

CMD ["sh", "-c", "python -m gateway_app init && exec python -m gateway_app serve --host \"$HOST\" --port \"$PORT\""]
