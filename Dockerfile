# The operator image: `docker build -t rollouts-operator:0.1.0 .`
# The build stage has a C compiler so that setup.py compiles the gateway's hot path
# with mypyc; the runtime image gets only the wheels.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY rollouts ./rollouts
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 65532:65532
ENTRYPOINT ["rollouts"]
CMD ["operator"]
