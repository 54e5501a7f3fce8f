# The base is pinned by digest (python:3.12-slim, the multi-platform index); BASE_IMAGE stays an
# ARG so a local build can swap it. Refresh the digest deliberately: docs/supply-chain.md.
ARG BASE_IMAGE=python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea
FROM ${BASE_IMAGE}

# No ENTRYPOINT: GitHub sets it from action.yml, while GitLab CI and Azure DevOps container
# jobs need an image that runs their shell.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Every dependency is checked against the hashes in the lock files (scripts/lock), wheels only.
COPY requirements.lock requirements-build.lock /opt/intune-step/
RUN pip install --no-cache-dir --require-hashes --only-binary=:all: \
        -r /opt/intune-step/requirements.lock -r /opt/intune-step/requirements-build.lock

COPY pyproject.toml README.md action.yml entrypoint.py /opt/intune-step/
COPY intune_step /opt/intune-step/intune_step
RUN pip install --no-cache-dir --no-deps --no-build-isolation /opt/intune-step \
    && intune-step --version \
    && useradd --uid 1001 --user-group --create-home --shell /bin/sh intune

# Compile step, as root before the switch below (site-packages belongs to root): every run starts
# from bytecode, the standard library's included (the python image ships none, and
# PYTHONDONTWRITEBYTECODE keeps runs from writing it), and from a JSON copy of action.yml
# instead of parsing YAML (docs/performance.md, "Start-up"). olefile2.py is Python 2 code no
# import reaches.
RUN python -c "from intune_step.config.action import freeze; freeze()" \
    && python -c "import compileall, re, sys, sysconfig as s; \
skip = re.compile(r'olefile/olefile2[.]py$'); \
paths = sorted({s.get_path(n) for n in ('stdlib', 'platstdlib', 'purelib')}); \
sys.exit(not all([compileall.compile_dir(p, quiet=1, workers=0, rx=skip) for p in paths]))"

# Not root. uid 1001 is the `runner` user of GitHub-hosted runners, which owns the workspace
# and the files behind GITHUB_OUTPUT and GITHUB_STEP_SUMMARY that a Docker action writes to;
# GitLab's Docker executor makes the build directory world-writable (umask 0000), and Azure
# DevOps container jobs run their steps as a user the agent creates. See docs/supply-chain.md.
USER 1001:1001
WORKDIR /home/intune

CMD ["intune-step", "--help"]
