# One image per service, built from the repository root:
#   docker build --build-arg SERVICE=lead -t crm-lead .
# The same image runs the gRPC API, the event worker and the migration job; the
# Helm chart picks the command (crm-<service> api|worker|migrate|health).
# Stages: base -> build (venv) -> runtime (default target, what production runs);
# "dev" adds what Tilt's live_update needs and is built only by the Tiltfile.

# Pinned patch release of the slim Debian image; bump deliberately (add @sha256:...
# to pin the digest as well when the build pipeline records it). Bookworm's glibc
# (2.36) runs every pinned wheel, e.g. cryptography's manylinux_2_34 one, so the
# build needs no compiler.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

FROM base AS build
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build-arg SERVICE is required (lead, account, opportunity, ...)" >&2; exit 1; }
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY constraints.txt ./
COPY libs/protos libs/protos
COPY libs/common libs/common
COPY services/${SERVICE} services/${SERVICE}
# Non-editable installs pinned by the root constraints; the pip cache lives in a
# BuildKit cache mount, so it never reaches a layer.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install -c constraints.txt ./libs/protos ./libs/common ./services/${SERVICE}
RUN command -v "crm-${SERVICE}" >/dev/null \
    || { echo "services/${SERVICE} declares no crm-${SERVICE} console script" >&2; exit 1; }

FROM base AS runtime
ARG SERVICE
RUN groupadd --system --gid 10001 crm \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin crm
# The venv holds everything, migrations included (crm_<service>.migrations is package data).
COPY --from=build /opt/venv /opt/venv
# In a container every service listens on the same ports (the chart sets them too).
ENV PATH=/opt/venv/bin:$PATH \
    CRM_SERVICE=${SERVICE} \
    GRPC_HOST=0.0.0.0 \
    GRPC_PORT=50051 \
    METRICS_PORT=9464 \
    WORKER_METRICS_PORT=9465
WORKDIR /app
USER 10001:10001
EXPOSE 50051 9464 9465
# The chart always sets the command; this default only serves `docker run <image>`.
CMD ["/bin/sh", "-c", "exec crm-\"$CRM_SERVICE\" api"]

# Tilt only: lets live_update overwrite the service and common packages as the
# unprivileged user, and adds the restart wrapper the dev values put in front of
# the command. readOnlyRootFilesystem is switched off in the dev values.
FROM runtime AS dev
ARG SERVICE
# The service's Python package when it is not crm_<service> (territory-quota: crm_territory).
ARG PACKAGE=
USER 0:0
COPY deploy/docker/dev_reload.py /usr/local/bin/crm-dev-reload
RUN chmod 0755 /usr/local/bin/crm-dev-reload \
    && chown -R 10001:10001 \
        "/opt/venv/lib/python3.11/site-packages/${PACKAGE:-crm_$(echo "${SERVICE}" | tr - _)}" \
        /opt/venv/lib/python3.11/site-packages/crm_common
USER 10001:10001

# Default target when none is given: the production runtime, never the dev stage.
FROM runtime AS production
