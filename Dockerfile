# One container, stateless replicas: state lives in PostgreSQL (or the SQLite
# file and spool on the /data volume for a single instance).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY migrations ./migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# No home directory: the user's dotfiles must not land in the /data volume.
RUN useradd --system --uid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin provproxy \
    && mkdir /data && chown provproxy:provproxy /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER provproxy
WORKDIR /data
ENV PROVPROXY_HOST=0.0.0.0 \
    PROVPROXY_PORT=8787 \
    PROVPROXY_DATABASE_URL=sqlite:////data/provproxy.db \
    PROVPROXY_SPOOL_DIR=/data/spool \
    PROVPROXY_SIGNING_KEY_FILE=/data/signing-key.pem \
    PROVPROXY_CHECKPOINT_DIR=/data/checkpoints \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8787
# The port is read at check time, so a changed PROVPROXY_PORT keeps the check true.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os,sys,urllib.request; port=os.environ.get('PROVPROXY_PORT','8787'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status == 200 else 1)"]
# serve upgrades the schema itself first (PROVPROXY_MIGRATE_ON_START, default true).
CMD ["provproxy", "serve"]
