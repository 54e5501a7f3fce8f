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

CMD ["intune-step", "--help"]
