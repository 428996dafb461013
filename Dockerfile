# The hooks' image: the project installed into a slim Python, run by gunicorn as a
# non-root user. Only runtime dependencies go in; the dev extras (moto, pytest) stay out.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Build from a scratch folder and remove it afterwards, so that the code runs from
# site-packages and nothing in the working directory can shadow it.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY hooks/ hooks/
COPY compositions/ compositions/
COPY sandbox/ sandbox/
RUN pip install --no-cache-dir . \
    && rm -rf /src

# A fixed uid, so that Kubernetes can check runAsNonRoot against the image.
RUN groupadd --system --gid 10001 hooks \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin hooks

WORKDIR /
USER 10001:10001
EXPOSE 8080
CMD ["gunicorn", "--bind", "0.0.0.0:8080", "hooks.app:create_app()"]
