# The hooks' image, in two stages. The first installs the project and its runtime
# dependencies (never the dev extras: moto, pytest) into a virtual environment; the second
# is a clean slim Python that receives that environment and nothing else, so no build tool,
# pip included, is left in what runs in the cluster.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Every dependency comes as a wheel for this platform: no compiler is needed even here.
# pip builds the project's own wheel in an isolated environment and installs it, compiling
# the bytecode now, since the root filesystem is read-only at run time.
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hooks/ hooks/
COPY compositions/ compositions/
RUN /opt/venv/bin/pip install . \
    && /opt/venv/bin/pip uninstall --yes pip setuptools


FROM ${PYTHON_IMAGE}

# The base image's own pip and setuptools are of no use to the hooks: remove them too.
RUN python -m pip uninstall --yes --no-cache-dir pip setuptools wheel \
    && groupadd --system --gid 10001 hooks \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin hooks

# The same base in both stages, so the environment's interpreter link resolves here too.
COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# A fixed, numeric uid, so that Kubernetes can check runAsNonRoot against the image.
WORKDIR /
USER 10001:10001
EXPOSE 8080
# hooks/gunicorn_conf.py reads the port (PORT, 8080 by default), the number of workers and
# threads, and the timeouts from the environment; the Deployment runs the same command.
CMD ["gunicorn", "-c", "python:hooks.gunicorn_conf", "hooks.app:create_app()"]
