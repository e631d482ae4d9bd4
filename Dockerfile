# bounce-worker image: one image for the migration job, the worker, beat, Flower and the
# metrics exporter; the compose file picks the command.

# Build wheels in a throwaway stage, so the runtime image carries no build tools or caches.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md celeryconfig.py requirements.lock ./
COPY src ./src
# The dependencies at the versions CI tested (requirements.lock), then the project alone.
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.lock \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    BOUNCE_WORKER_HOME=/var/lib/bounce-worker
# A fixed, unprivileged uid; the directories exist in the image with its ownership, so the
# named volumes mounted on them start out writable by it.
RUN groupadd --system --gid 10001 bounce \
    && useradd --system --uid 10001 --gid bounce --home-dir /var/lib/bounce-worker \
       --shell /usr/sbin/nologin bounce \
    && mkdir -p /var/lib/bounce-worker/beat /var/lib/bounce-worker/flower \
       /var/lib/bounce-worker/prometheus \
    && chown -R bounce:bounce /var/lib/bounce-worker
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER bounce
WORKDIR /var/lib/bounce-worker
EXPOSE 5555 9808
CMD ["bounce-worker", "--help"]
