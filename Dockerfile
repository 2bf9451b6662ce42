# The operator image: `docker build -t rollouts-operator:0.1.0 .`
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rollouts ./rollouts
RUN pip install --no-cache-dir . && rm -rf /src
USER 65532:65532
ENTRYPOINT ["rollouts"]
CMD ["operator"]
