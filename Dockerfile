# The nightly job in a container: Debian slim, gawk (the parser's interpreter), and the package
# with every extra.  Mount the logs and the cache as volumes (see the README):
#   docker run --rm -v /data/s3-logs:/logs:ro -v /data/s3le-cache:/cache IMAGE run /logs --cache /cache
FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends gawk git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/s3logextraction
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
COPY awk ./awk
RUN pip install --no-cache-dir '.[s3,dask,report]'
ENV XDG_CONFIG_HOME=/config
ENTRYPOINT ["s3logextraction"]
CMD ["--help"]
