# mixnet: one image for every role; the first argument picks it (see bin/mixnet):
#   mix (or server), client, send, poll, keygen, descriptor, assemble.
# Deno comes from the npm registry, as the README's `npx --yes deno@2.9.6` does; the final
# image holds its binary and the project's npm packages, and needs no registry at run time.
#
#   podman build -t mixnet .        (or docker build)
#
# Where Docker Hub is out of reach, any Debian bookworm images do, e.g. ones made with
# debootstrap (docs/deploy.md): --build-arg BUILDER_IMAGE=… --build-arg RUNTIME_IMAGE=…
ARG BUILDER_IMAGE=docker.io/library/node:20-bookworm-slim
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS deno
ARG DENO_VERSION=2.9.6
WORKDIR /tmp/deno
RUN npm install --no-save --no-audit --no-fund --omit=dev "deno@${DENO_VERSION}" \
  && install -m 0755 "$(find node_modules/@deno -type f -name deno | head -n 1)" /usr/local/bin/deno \
  && /usr/local/bin/deno --version

FROM ${RUNTIME_IMAGE}
COPY --from=deno /usr/local/bin/deno /usr/local/bin/deno
ENV DENO_DIR=/opt/mixnet/deno \
    DENO_NO_UPDATE_CHECK=1 \
    NO_COLOR=1 \
    CONFIG_PATH=/app/config/config.yaml
WORKDIR /app
COPY deno.json deno.lock ./
COPY protos protos
COPY src src
COPY tasks tasks
COPY bin bin
# Every module the roles and tools load, npm packages included, from the lock file as it is.
RUN deno install --frozen --entrypoint src/mix.ts src/client.ts src/cli.ts \
    tasks/permissions.ts tasks/keygen.ts tasks/descriptor.ts tasks/assemble.ts \
  && chmod -R a+rX "$DENO_DIR" /app
VOLUME ["/app/config"]
ENTRYPOINT ["/app/bin/mixnet"]
CMD ["--help"]
