ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

# No ENTRYPOINT: GitHub sets it from action.yml, while GitLab CI and Azure DevOps container
# jobs need an image that runs their shell. No USER: actions must run as root.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY requirements.lock requirements-build.lock /opt/intune-step/
RUN pip install --no-cache-dir -r /opt/intune-step/requirements.lock \
        -r /opt/intune-step/requirements-build.lock

COPY pyproject.toml README.md action.yml entrypoint.py /opt/intune-step/
COPY intune_step /opt/intune-step/intune_step
RUN pip install --no-cache-dir --no-deps --no-build-isolation /opt/intune-step \
    && intune-step --version

# Compile step: every run starts from bytecode, the standard library's included (the python
# image ships none, and PYTHONDONTWRITEBYTECODE keeps runs from writing it), and from a JSON
# copy of action.yml instead of parsing YAML (docs/performance.md, "Start-up").
# olefile2.py is Python 2 code no import reaches.
RUN python -c "from intune_step.config.action import freeze; freeze()" \
    && python -m compileall -q -j 0 -x 'olefile/olefile2[.]py$' $(python -c 'import sysconfig \
        as s; print(*sorted({s.get_path(n) for n in ("stdlib", "platstdlib", "purelib")}))')

CMD ["intune-step", "--help"]
